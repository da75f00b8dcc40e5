import ChorusWire

/// The wide area as one representative sees it: the sites, and the links between them that are
/// up, each with its configured cost. Links are undirected; a link counts as up only when both
/// of its ends say so (`LinkStateDatabase`), so every representative that has the same reports
/// builds the same topology.
public struct SiteTopology: Sendable, Equatable {
    public private(set) var sites: [SiteID]
    /// Cost of each up link, keyed by its ends (lower id first).
    public private(set) var links: [SiteLink: UInt32]

    public init(sites: some Sequence<SiteID>, links: [SiteLink: UInt32] = [:]) {
        let known = Set(sites)
        self.sites = known.sorted()
        self.links = links.filter { known.contains($0.key.low) && known.contains($0.key.high) }
    }

    /// Sets the link between `a` and `b` up with `cost`, or down (nil).
    public mutating func setLink(_ a: SiteID, _ b: SiteID, cost: UInt32?) {
        guard a != b, sites.contains(a), sites.contains(b) else { return }
        links[SiteLink(a, b)] = cost
    }

    /// The up neighbours of `site`, ascending, with the cost of the link to each.
    public func neighbours(of site: SiteID) -> [(site: SiteID, cost: UInt32)] {
        links.compactMap { link, cost in
            if link.low == site { return (link.high, cost) }
            if link.high == site { return (link.low, cost) }
            return nil
        }.sorted { $0.site < $1.site }
    }

    /// The sites `site` reaches over up links, itself included, ascending.
    public func component(of site: SiteID) -> [SiteID] {
        guard sites.contains(site) else { return [] }
        var seen: Set<SiteID> = [site]
        var frontier = [site]
        while let next = frontier.popLast() {
            for (neighbour, _) in neighbours(of: next) where seen.insert(neighbour).inserted { frontier.append(neighbour) }
        }
        return seen.sorted()
    }
}

/// An undirected link between two sites, named by its ends in ascending order.
public struct SiteLink: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let low: SiteID
    public let high: SiteID
    public init(_ a: SiteID, _ b: SiteID) {
        low = min(a, b)
        high = max(a, b)
    }
    public static func < (lhs: SiteLink, rhs: SiteLink) -> Bool { (lhs.low, lhs.high) < (rhs.low, rhs.high) }
    public var description: String { "\(low)-\(high)" }
}
