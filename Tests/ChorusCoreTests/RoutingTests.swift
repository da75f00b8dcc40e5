import ChorusWire
import Testing

@testable import ChorusCore

/// Routing between sites: link-state reports, the topology both ends agree on, and the same
/// shortest-path trees at every representative.
@Suite struct RoutingTests {
    static func s(_ id: UInt32) -> SiteID { SiteID(id) }

    /// A square 1-2-3-4-1 with a diagonal 1-3 that costs as much as two sides.
    static func square() -> SiteTopology {
        var topology = SiteTopology(sites: (1...4).map(s))
        topology.setLink(s(1), s(2), cost: 10)
        topology.setLink(s(2), s(3), cost: 10)
        topology.setLink(s(3), s(4), cost: 10)
        topology.setLink(s(4), s(1), cost: 10)
        topology.setLink(s(1), s(3), cost: 20)
        return topology
    }

    @Test func shortestPathsWithTheLowerParentOnTies() {
        let tree = RoutingTree(source: Self.s(1), topology: Self.square())
        #expect(tree.distance == [Self.s(1): 0, Self.s(2): 10, Self.s(4): 10, Self.s(3): 20])
        // Site 3 is 20 away through 2, through 4 and directly: the lowest parent, 1, wins.
        #expect(tree.parent[Self.s(3)] == Self.s(1))
        #expect(tree.children[Self.s(1)] == [Self.s(2), Self.s(3), Self.s(4)])
        // Without the diagonal, 3 hangs below 2, not 4.
        var topology = Self.square()
        topology.setLink(Self.s(1), Self.s(3), cost: nil)
        let again = RoutingTree(source: Self.s(1), topology: topology)
        #expect(again.parent[Self.s(3)] == Self.s(2) && again.distance[Self.s(3)] == 20)
    }

    /// The same links given in any order give the same trees from every source.
    @Test func everyRepresentativeComputesTheSameTrees() {
        var random = Lehmer(seed: 0x5173)
        for _ in 0..<50 {
            let sites = (1...12).map(Self.s)
            var links: [(SiteID, SiteID, UInt32)] = []
            for a in 1...12 {
                for b in (a + 1)...13 where b <= 12 && Int.random(in: 0..<4, using: &random) == 0 {
                    links.append((Self.s(UInt32(a)), Self.s(UInt32(b)), UInt32.random(in: 1...3, using: &random)))
                }
            }
            var first = SiteTopology(sites: sites)
            for (a, b, cost) in links { first.setLink(a, b, cost: cost) }
            var second = SiteTopology(sites: sites.reversed())
            for (a, b, cost) in links.shuffled(using: &random) { second.setLink(b, a, cost: cost) }
            for source in sites {
                #expect(RoutingTree(source: source, topology: first) == RoutingTree(source: source, topology: second))
            }
        }
    }

    /// A tree reaches exactly the source's component, and every path in it is a shortest one.
    @Test func treesSpanTheComponentAlongShortestPaths() {
        var topology = Self.square()
        topology.setLink(Self.s(3), Self.s(4), cost: nil)
        topology = SiteTopology(sites: (1...6).map(Self.s), links: topology.links)
        topology.setLink(Self.s(5), Self.s(6), cost: 1)
        let tree = RoutingTree(source: Self.s(4), topology: topology)
        #expect(Set(tree.distance.keys) == Set(topology.component(of: Self.s(4))))
        #expect(!tree.reaches(Self.s(5)) && !tree.reaches(Self.s(6)))
        for (site, up) in tree.parent {
            let cost = topology.links[SiteLink(site, up)]!
            #expect(tree.distance[site]! == tree.distance[up]! + UInt64(cost))
        }
    }

    /// A site whose subtree has no interested site gets a stand-in (or nothing), not the body.
    @Test func pruningSendsBodiesOnlyTowardInterestedSites() {
        var topology = SiteTopology(sites: (1...5).map(Self.s))
        topology.setLink(Self.s(1), Self.s(2), cost: 1)
        topology.setLink(Self.s(2), Self.s(3), cost: 1)
        topology.setLink(Self.s(1), Self.s(4), cost: 1)
        topology.setLink(Self.s(4), Self.s(5), cost: 1)
        let tree = RoutingTree(source: Self.s(1), topology: topology)
        let atSource = tree.forwarding(at: Self.s(1), interested: [Self.s(3)], standIns: true)
        #expect(atSource.bodies == [Self.s(2)] && atSource.standIns == [Self.s(4)])
        let withoutStandIns = tree.forwarding(at: Self.s(1), interested: [Self.s(3)], standIns: false)
        #expect(withoutStandIns.bodies == [Self.s(2)] && withoutStandIns.standIns.isEmpty)
        #expect(tree.forwarding(at: Self.s(3), interested: [Self.s(3)], standIns: true) == ([], []))
    }

    /// A link counts only when both ends report it; newer reports replace older ones; reports
    /// no honest representative writes are refused and counted.
    @Test func linkStateNeedsBothEndsAndNewerReports() {
        var database = LinkStateDatabase(sites: (1...3).map(Self.s))
        let oneWay = LinkStateReport(site: Self.s(1), version: 5, links: [SiteLinkState(neighbour: Self.s(2), cost: 7)])
        var taken = database.accept(oneWay)
        #expect(taken)
        #expect(database.topology.links.isEmpty, "heard one way only")
        taken = database.accept(LinkStateReport(site: Self.s(2), version: 1, links: [SiteLinkState(neighbour: Self.s(1), cost: 9)]))
        #expect(taken)
        #expect(database.topology.links == [SiteLink(Self.s(1), Self.s(2)): 9])
        taken = database.accept(LinkStateReport(site: Self.s(1), version: 5, links: []))
        #expect(!taken, "not newer")
        taken = database.accept(LinkStateReport(site: Self.s(1), version: 6, links: []))
        #expect(taken)
        #expect(database.topology.links.isEmpty, "site 1 no longer hears site 2")
        let bad = [
            LinkStateReport(site: Self.s(9), version: 1, links: []),
            LinkStateReport(site: Self.s(1), version: 7, links: [SiteLinkState(neighbour: Self.s(1), cost: 1)]),
            LinkStateReport(site: Self.s(1), version: 7, links: [SiteLinkState(neighbour: Self.s(8), cost: 1)]),
            LinkStateReport(
                site: Self.s(1), version: 7,
                links: [SiteLinkState(neighbour: Self.s(3), cost: 1), SiteLinkState(neighbour: Self.s(2), cost: 1)]),
        ]
        for report in bad {
            taken = database.accept(report)
            #expect(!taken)
        }
        #expect(database.refused == 4)
        #expect(database.reports[Self.s(1)]?.version == 6)
        // Two different reports of one version: whichever comes first, every database keeps the same.
        let a = LinkStateReport(site: Self.s(3), version: 9, links: [SiteLinkState(neighbour: Self.s(1), cost: 1)])
        let b = LinkStateReport(site: Self.s(3), version: 9, links: [SiteLinkState(neighbour: Self.s(2), cost: 1)])
        var first = database
        var second = database
        _ = first.accept(a)
        _ = first.accept(b)
        _ = second.accept(b)
        _ = second.accept(a)
        #expect(first.reports[Self.s(3)] == second.reports[Self.s(3)])
    }
}

/// A small seeded generator (Lehmer), so the random topologies are the same on every run.
struct Lehmer: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state = state &* 0xDA94_2042_E4DD_58B5
        return state ^ (state >> 29)
    }
}

/// The routers' duplicate filter: first sightings only, across jumps of every size.
@Suite struct RecentSeqsTests {
    @Test func firstSightingsOnlyAcrossJumps() {
        var seqs = RecentSeqs(capacity: 256)
        var random = Lehmer(seed: 99)
        var seen: Set<UInt64> = []
        var highest: UInt64 = 0
        for _ in 0..<20_000 {
            // Mostly near the top, sometimes far ahead, sometimes a little behind.
            let step = UInt64.random(in: 0...300, using: &random)
            let seq = Bool.random(using: &random) ? highest + step : highest - min(highest, step % 200)
            guard seq > 0 else { continue }
            let expected = !seen.contains(seq) && (seq > highest || highest - seq < 256)
            #expect(seqs.firstSighting(seq) == expected, "seq \(seq) after highest \(highest)")
            if expected { seen.insert(seq) }
            highest = max(highest, seq)
        }
    }
}
