import ChorusWire

/// The shortest-path tree rooted at one source site, over the up links of a `SiteTopology`:
/// a message from the source follows it, each site forwarding to its children. Every
/// representative computes the same tree from the same topology: among paths of equal cost the
/// one through the lower-numbered parent wins.
public struct RoutingTree: Sendable, Equatable {
    public let source: SiteID
    /// Each reached site's parent (the source has none); sites not reached are absent.
    public private(set) var parent: [SiteID: SiteID] = [:]
    /// Each reached site's cost from the source.
    public private(set) var distance: [SiteID: UInt64] = [:]
    /// Each reached site's children, ascending.
    public private(set) var children: [SiteID: [SiteID]] = [:]
    /// Each reached site's subtree (itself included).
    private var subtrees: [SiteID: Set<SiteID>] = [:]

    /// Dijkstra over `topology` from `source`, visiting sites in (distance, id) order, so the
    /// result depends on nothing but the topology.
    public init(source: SiteID, topology: SiteTopology) {
        self.source = source
        guard topology.sites.contains(source) else { return }
        distance[source] = 0
        var done: Set<SiteID> = []
        while let current = distance.filter({ !done.contains($0.key) }).min(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key {
            done.insert(current)
            let base = distance[current]!
            for (neighbour, cost) in topology.neighbours(of: current) where !done.contains(neighbour) {
                let candidate = base + UInt64(cost)
                if let known = distance[neighbour], known < candidate || (known == candidate && parent[neighbour]! < current) {
                    continue
                }
                distance[neighbour] = candidate
                parent[neighbour] = current
            }
        }
        for (site, up) in parent { children[up, default: []].append(site) }
        for site in children.keys { children[site]!.sort() }
        // Each site's subtree, once: forwarding asks for them on every message.
        var order = distance.isEmpty ? [] : [source]  // breadth first: children after parents
        var next = 0
        while next < order.count {
            order += children[order[next]] ?? []
            next += 1
        }
        for site in order.reversed() {
            var below: Set<SiteID> = [site]
            for child in children[site] ?? [] { below.formUnion(subtrees[child]!) }
            subtrees[site] = below
        }
    }

    /// Whether the tree reaches `site`.
    public func reaches(_ site: SiteID) -> Bool { distance[site] != nil }

    /// The sites in the subtree below `site` (itself included).
    public func subtree(of site: SiteID) -> Set<SiteID> { subtrees[site] ?? [] }

    /// Where `site` forwards a message from the source: each child whose subtree holds a site in
    /// `interested` gets the message itself; the other children get only a stand-in (so they
    /// learn its place in the order) when `standIns` is set, and nothing otherwise.
    public func forwarding(at site: SiteID, interested: Set<SiteID>, standIns: Bool) -> (bodies: [SiteID], standIns: [SiteID]) {
        var bodies: [SiteID] = []
        var stubs: [SiteID] = []
        for child in children[site] ?? [] {
            if !subtree(of: child).isDisjoint(with: interested) {
                bodies.append(child)
            } else if standIns {
                stubs.append(child)
            }
        }
        return (bodies, stubs)
    }
}
