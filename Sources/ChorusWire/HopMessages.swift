/// What travels inside hop data packets between representatives (`HopPacket.Body.data`): for
/// now the link-state reports routing floods; ordered messages, stand-ins and heartbeats follow.
///
/// Layout: `kind u8 | body`, integers big endian. Link state (kind 1): `site u32 | version u64 |
/// count u16 | (neighbour u32, cost u32) * count`.
public enum HopMessage: Sendable, Equatable {
    case linkState(LinkStateReport)
}

/// One site's report of its links: which neighbours its representative hears (the hop link is
/// up) and at what configured cost. A later report of the same site has a higher `version`
/// (representatives number them from their clock, like ring seqs, so a new representative's
/// reports supersede its predecessor's).
public struct LinkStateReport: Sendable, Equatable {
    public var site: SiteID
    public var version: UInt64
    /// The up links, by neighbour, ascending, without duplicates.
    public var links: [SiteLinkState]

    public init(site: SiteID, version: UInt64, links: [SiteLinkState]) {
        self.site = site
        self.version = version
        self.links = links
    }
}

public struct SiteLinkState: Sendable, Equatable {
    public var neighbour: SiteID
    public var cost: UInt32
    public init(neighbour: SiteID, cost: UInt32) {
        self.neighbour = neighbour
        self.cost = cost
    }
}

