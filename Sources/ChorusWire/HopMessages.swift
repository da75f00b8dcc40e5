import NIOCore

/// What travels inside hop data packets between representatives (`HopPacket.Body.data`): the
/// link-state reports routing floods, and messages routed along the source site's tree.
///
/// Layout: `kind u8 | body`, integers big endian. Link state (kind 1): `site u32 | version u64 |
/// count u16 | (neighbour u32, cost u32) * count`.
/// Routed (kind 2): `origin u32 | incarnation u64 | seq u64 | count u16 | interested site u32 *
/// count | body` (the rest).
public enum HopMessage: Sendable, Equatable {
    case linkState(LinkStateReport)
    case routed(RoutedMessage)
}

/// A message from one site to the others, forwarded hop by hop along the tree rooted at its
/// origin. `seq` numbers the routed messages of the origin's representative `incarnation`, so
/// a site that gets one twice (routes change while it travels) can tell, whatever the clocks of
/// successive representatives say.
public struct RoutedMessage: Sendable, Equatable {
    public var origin: SiteID
    /// The origin representative's router incarnation.
    public var incarnation: UInt64
    public var seq: UInt64
    /// The sites that need the body (they have members in its groups), ascending; empty: all.
    public var interested: [SiteID]
    public var body: ByteBuffer

    public init(origin: SiteID, incarnation: UInt64 = 1, seq: UInt64, interested: [SiteID] = [], body: ByteBuffer) {
        self.origin = origin
        self.incarnation = incarnation
        self.seq = seq
        self.interested = interested
        self.body = body
    }
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

