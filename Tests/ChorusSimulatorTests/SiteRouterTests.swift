import ChorusCore
import ChorusSimulator
import ChorusWire
import Testing

/// Site representatives over simulated wide-area links: link state converges, messages follow the
/// trees to every interested site exactly once, routes go around a cut link.
@Suite struct SiteRouterTests {
    static let millisecond: UInt64 = 1_000_000
    static let second: UInt64 = 1_000_000_000
    static func s(_ id: UInt32) -> SiteID { SiteID(id) }

    /// Five sites: a ring 1-2-3-4-5-1 (30 ms links) and a chord 1-3 (cost 50).
    static let sites = (1...5).map(s)
    static let links: [(SiteID, SiteID, UInt32)] = [
        (s(1), s(2), 30), (s(2), s(3), 30), (s(3), s(4), 30), (s(4), s(5), 30), (s(5), s(1), 30), (s(1), s(3), 50),
    ]

    static func network(loss: Double = 0, seed: UInt64 = 1) -> SiteNetworkSimulation {
        var network = SiteNetworkSimulation(
            sites: sites, links: links, impairment: WideAreaImpairment(delay: 15 * millisecond, loss: loss), seed: seed)
        network.run(until: 2 * second)
        return network
    }

    static func expectTopology(_ network: SiteNetworkSimulation, links expected: Int, _ what: String) {
        for site in sites {
            let topology = network.routers[site]!.topology
            #expect(topology.links.count == expected, "\(what): \(site) sees \(topology.links.keys.sorted())")
            #expect(topology == network.routers[sites[0]]!.topology, "\(what): \(site) disagrees")
        }
    }

    /// Every site delivered each message sent to it once, and no other site delivered it.
    static func expectDelivered(
        _ network: SiteNetworkSimulation, _ sent: [(origin: SiteID, seq: UInt64, to: Set<SiteID>)], _ what: String
    ) {
        for site in sites {
            let got = (network.delivered[site] ?? []).map { "\($0.origin)/\($0.seq)" }
            #expect(Set(got).count == got.count, "\(what): \(site) delivered a message twice")
            let expected = sent.filter { $0.to.contains(site) && $0.origin != site }.map { "\($0.origin)/\($0.seq)" }
            #expect(Set(got) == Set(expected), "\(what): \(site) delivered \(got.count), expected \(expected.count)")
        }
        #expect(network.sameInstantDeadlines == 0 && network.decodeErrors == 0, "\(what)")
    }

    @Test func linkStateConvergesAndMessagesReachEverySiteOnce() {
        var network = Self.network()
        Self.expectTopology(network, links: 6, "after start")
        var sent: [(origin: SiteID, seq: UInt64, to: Set<SiteID>)] = []
        for round in 0..<100 {
            for origin in Self.sites {
                sent.append((origin, network.originate(from: origin), Set(Self.sites)))
            }
            network.run(until: network.now + (round % 10 == 0 ? 5 : 1) * Self.millisecond)
        }
        network.run(until: network.now + Self.second)
        Self.expectDelivered(network, sent, "whole network")
        // Trees, not flooding: each message crosses each of the four tree edges once.
        let forwarded = Self.sites.map { network.routers[$0]!.counters.forwarded }.reduce(0, +)
        #expect(forwarded == sent.count * 4, "forwarded \(forwarded) for \(sent.count) messages")
    }

    /// A message for some sites reaches those and no others, and crosses no link toward a
    /// subtree without one of them.
    @Test func messagesArePrunedToInterestedSites() {
        var network = Self.network()
        let fromOne = { (network: SiteNetworkSimulation, site: SiteID) in network.routers[site]!.links[Self.s(1)]!.counters.delivered }
        let before = [Self.s(2), Self.s(3)].map { fromOne(network, $0) }
        var sent: [(origin: SiteID, seq: UInt64, to: Set<SiteID>)] = []
        for _ in 0..<50 {
            sent.append((Self.s(1), network.originate(from: Self.s(1), interested: [Self.s(4)]), [Self.s(4)]))
        }
        network.run(until: network.now + Self.second)
        Self.expectDelivered(network, sent, "pruned")
        // From site 1, site 4 is 60 away through 5 (cost 30 + 30): site 1 sends each message to 5
        // only (its children 2 and 3 lead to no interested site), 5 on to 4; 2 and 3 never see one.
        #expect(network.routers[Self.s(1)]!.counters.forwarded == 50)
        #expect(network.routers[Self.s(5)]!.counters.forwarded == 50)
        #expect([Self.s(2), Self.s(3)].map { fromOne(network, $0) } == before, "2 or 3 got payloads from 1")
    }

    /// A cut link is noticed and flooded within about a second; messages route around it.
    @Test func routesGoAroundACutLink() {
        var network = Self.network()
        network.setCut(Self.s(1), Self.s(5), true)
        let cutAt = network.now
        network.run(until: cutAt + 1_500 * Self.millisecond)
        Self.expectTopology(network, links: 5, "after the cut")
        var sent: [(origin: SiteID, seq: UInt64, to: Set<SiteID>)] = []
        for origin in Self.sites {
            for _ in 0..<20 { sent.append((origin, network.originate(from: origin), Set(Self.sites))) }
        }
        network.run(until: network.now + Self.second)
        Self.expectDelivered(network, sent, "around the cut")
        network.setCut(Self.s(1), Self.s(5), false)
        network.run(until: network.now + Self.second)
        Self.expectTopology(network, links: 6, "after the heal")
    }

    /// 5 % loss on every link, both ways: link state still converges and every message still
    /// arrives once (each link repairs its own losses).
    @Test(arguments: [UInt64(1), 2, 3])
    func lossyLinksStillDeliverOnce(seed: UInt64) {
        var network = Self.network(loss: 0.05, seed: seed)
        network.run(until: network.now + Self.second)
        Self.expectTopology(network, links: 6, "seed \(seed)")
        var sent: [(origin: SiteID, seq: UInt64, to: Set<SiteID>)] = []
        for round in 0..<60 {
            for origin in Self.sites { sent.append((origin, network.originate(from: origin), Set(Self.sites))) }
            network.run(until: network.now + UInt64(1 + round % 3) * Self.millisecond)
        }
        network.run(until: network.now + 2 * Self.second)
        Self.expectDelivered(network, sent, "seed \(seed)")
    }

    /// Twenty sites, a ring with chords (costs 5 to 80, 20 ms each way): every router agrees on the topology
    /// and every message reaches every site once.
    @Test func twentySites() {
        let sites = (1...20).map(Self.s)
        var links: [(SiteID, SiteID, UInt32)] = []
        for index in 0..<20 { links.append((sites[index], sites[(index + 1) % 20], UInt32(5 + (index * 7) % 76))) }
        for index in stride(from: 0, to: 20, by: 3) { links.append((sites[index], sites[(index + 7) % 20], 40)) }
        var network = SiteNetworkSimulation(
            sites: sites, links: links, impairment: WideAreaImpairment(delay: 20 * Self.millisecond, loss: 0.01), seed: 7)
        network.run(until: 3 * Self.second)
        let reference = network.routers[sites[0]]!.topology
        #expect(reference.links.count == links.count)
        for site in sites { #expect(network.routers[site]!.topology == reference, "\(site)") }
        var sent: [String] = []
        for origin in sites {
            for _ in 0..<10 { sent.append("\(origin)/\(network.originate(from: origin))") }
        }
        network.run(until: network.now + 3 * Self.second)
        for site in sites {
            let got = (network.delivered[site] ?? []).map { "\($0.origin)/\($0.seq)" }
            #expect(got.count == Set(got).count && Set(got) == Set(sent.filter { !$0.hasPrefix("\(site)/") }), "\(site)")
        }
    }

    /// A new representative whose incarnation (clock) is behind its predecessor's: its first
    /// reports are older than what the others hold, until one comes back to it and it jumps past
    /// it. Then a link it gains (one its predecessor reported down) reaches every site, and so do
    /// its messages.
    @Test func aRepresentativeWithAnOlderClockIsHeard() {
        var network = Self.network()
        network.setCut(Self.s(1), Self.s(3), true)
        network.run(until: network.now + 1_500 * Self.millisecond)
        Self.expectTopology(network, links: 5, "after the cut")  // site 1's report now lacks 3
        network.restart(Self.s(1), incarnation: 1_000)  // far behind the others' 1,000,000
        network.setCut(Self.s(1), Self.s(3), false)
        network.run(until: network.now + 2 * Self.second)
        #expect(network.routers[Self.s(1)]!.counters.ownReportsSuperseded >= 1)
        Self.expectTopology(network, links: 6, "after the restart and the heal")
        var sent: [(origin: SiteID, seq: UInt64, to: Set<SiteID>)] = []
        for _ in 0..<20 { sent.append((Self.s(2), network.originate(from: Self.s(2)), Set(Self.sites))) }
        // Its own messages too: their seqs start again at 1, below its predecessor's, and count
        // as new because they carry its incarnation (with seqs alone, the others took them as seen).
        for _ in 0..<20 { sent.append((Self.s(1), network.originate(from: Self.s(1)), Set(Self.sites).subtracting([Self.s(1)]))) }
        network.run(until: network.now + Self.second)
        Self.expectDelivered(network, sent, "after the restart")
    }
}
