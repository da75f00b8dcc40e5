import NIOCore

/// What the wide-area order layer sends. Inside a site these travel as ring payloads (a clock
/// tick, and what the representative brings in from other sites); between sites they are the
/// bodies of routed messages (data and heartbeats).
///
/// Layout: `marker u8 (0xA7) | kind u8 | body`, integers big endian. The marker tells these
/// apart from group messages (whose first byte is their version, 1) in the ring's stream.
/// Tick (kind 1): `stamp u64`. Data (kind 2): `origin u32 | seq u64 | lamport u64 |
/// configuration (seq u64, coordinator u32) | service u8 | sender u32 | payload` (the rest, an
/// encoded group message). Heartbeat (kind 3): `origin u32 | configuration (seq u64, coordinator
/// u32) | lamport u64 | lastSeq u64 | count u16 | (site u32, received u64, held u64) * count`.
/// Propose (kind 6): `count u16 | site u32 * count`. Proposal (kind 7) and install (kind 8): see
/// `SiteProposal` and `SiteInstall`.
public enum WideAreaMessage: Sendable, Equatable {
    /// The representative's clock tick: every daemon of the site raises its Lamport clock to at
    /// least `stamp` where the tick sits in the ring's order.
    case tick(stamp: UInt64)
    case data(WideAreaData)
    case heartbeat(WideAreaHeartbeat)
    /// Ring only: a daemon that joined its site's ring without the order's state asks for it.
    /// `stamp`: the requester's wall clock, ns; a site that starts afresh numbers its proposals
    /// from the highest (so a restarted site's are newer than its earlier incarnation's).
    case stateRequest(requester: NodeID, stamp: UInt64)
    /// Ring only: the order's state where the request sits in the ring's order, for `requester`.
    case state(WideAreaSnapshot)
    /// Ring only: the representative asks its site to propose a configuration of these sites
    /// (the ones it reaches); where it sits in the ring's order the site makes its proposal.
    case propose(sites: [SiteID])
    /// A site's proposal for the next configuration (routed to the sites it names, and brought into their rings).
    case proposal(SiteProposal)
    /// The coordinator's decision (routed to the new configuration's sites, and brought into their rings).
    case install(SiteInstall)
}

/// One daemon's order state, as of a point in its site's ring stream, for a daemon that joins
/// the ring without it (a restart), taken where `takenAt`'s request sits in the ring's order.
/// Layout (kind 5): `requester u32 | takenAt u32 | clock u64 | localSeq u64 |
/// count u16 | (site u32, received u64, promised u64, held u64) * count | reporters u16 |
/// (reporter u32, count u16, (site u32, received u64, held u64) * count) * reporters |
/// waiting u32 | (length u32, data message) * waiting | outbox u32 | (length u32, data message) * outbox |
/// membership` (`WideAreaMembershipState`: configuration seq u64, coordinator u32, count u16, site u32 * count |
/// attempt u64 | phase u8 | count u16, site u32 * count (proposing) | installed u8 (0 or 1), then length u32, install |
/// count u16, (length u32, proposal) * count | count u16, (site u32, attempt u64) * count |
/// count u32, (service u8, sender u32, length u32, payload) * count (frozen) | count u32, (length u32, data) * count
/// (relay) | count u16, site u32 * count (finishing) | count u16, site u32 * count (confirmed) | delivered (lamport u64, origin u32, seq u64) | highestSeq u64).
public struct WideAreaSnapshot: Sendable, Equatable {
    public var requester: NodeID
    /// The daemon whose request, delivered, made the answering daemon take this snapshot.
    public var takenAt: NodeID
    public var clock: UInt64
    public var localSeq: UInt64
    /// Per site (this one included: its `received` is `localSeq`, its `promised` the highest
    /// timestamp the site has promised the others), ascending.
    public var sites: [SiteState]
    /// Per reporting site, ascending: its last report.
    public var reports: [SiteReport]
    /// Messages taken but not yet delivered, per origin in seq order.
    public var waiting: [WideAreaData]
    /// This site's messages not yet reported taken by every other site, in seq order.
    public var outbox: [WideAreaData]
    /// The configurations' part.
    public var membership: WideAreaMembershipState
    /// Per site of the configuration, ascending: the groups it may have members in
    /// (`SiteProposal.interests`), as this daemon's stream has them.
    public var interests: [SiteInterests] = []
    /// Per site: its messages this site holds only as stand-ins though not pruned for them
    /// (`SiteProposal.standIns`).
    public var standIns: [SiteSeqs] = []
    /// This site's sessions and the groups each may be in, as its stream numbered them
    /// (ascending by session; `SiteOrder.ownMembers`).
    public var ownMembers: [SessionMemberships] = []

    /// The groups a site may have members in.
    public struct SiteInterests: Sendable, Equatable {
        public var site: SiteID
        /// Ascending, distinct.
        public var groups: [String]
        /// It may have members in any group: for the rest of the configuration (`all`), or for
        /// as long as it runs (`overflowed`: it joined more groups than are kept; `groups` is empty).
        public var all = false
        public var overflowed = false
        /// Its joins of groups new to it numbered in this configuration (each took its lease).
        public var leases: UInt32 = 0
        /// Groups it dropped in this configuration (`GroupMessage.interestsDropped`), ascending:
        /// reliable and fifo messages, which may be delivered ahead of leaves before them, are
        /// not pruned for them until the configuration ends.
        public var dropped: [String] = []
        public init(site: SiteID, groups: [String]) {
            self.site = site
            self.groups = groups
        }
    }

    public struct SiteState: Sendable, Equatable {
        public var site: SiteID
        public var received: UInt64
        public var promised: UInt64
        public var held: UInt64
        public init(site: SiteID, received: UInt64, promised: UInt64, held: UInt64) {
            self.site = site
            self.received = received
            self.promised = promised
            self.held = held
        }
    }

    public struct SiteReport: Sendable, Equatable {
        public var reporter: SiteID
        public var progress: [SiteProgress]
        public init(reporter: SiteID, progress: [SiteProgress]) {
            self.reporter = reporter
            self.progress = progress
        }
    }

    public init(
        requester: NodeID, takenAt: NodeID, clock: UInt64, localSeq: UInt64, sites: [SiteState], reports: [SiteReport],
        waiting: [WideAreaData], outbox: [WideAreaData], membership: WideAreaMembershipState
    ) {
        self.requester = requester
        self.takenAt = takenAt
        self.clock = clock
        self.localSeq = localSeq
        self.sites = sites
        self.reports = reports
        self.waiting = waiting
        self.outbox = outbox
        self.membership = membership
    }
}

/// One client message (or group message) of a site, at its place in the global order:
/// `(lamport, origin, seq)` sorts every site's messages into one order.
public struct WideAreaData: Sendable, Equatable {
    public var origin: SiteID
    /// Numbers the origin site's messages from 1, without gaps (0: unreliable, outside the order,
    /// as the ring sends them unsequenced; `lamport` is then an id for dropping a second copy).
    public var seq: UInt64
    public var lamport: UInt64
    /// The configuration of sites it is delivered in (unreliable data: its origin's at the time).
    public var configuration: SiteConfigurationID
    public var service: Service
    /// The daemon whose client sent it.
    public var sender: NodeID
    /// The encoded group message.
    public var payload: ByteBuffer
    /// The sites its origin sent a stand-in instead of the body (no member of theirs was in its
    /// groups at its place in the order), ascending; empty: every site got the body. At such a
    /// site `payload` is the stand-in (`ClientData.isStandIn`), unless a body came in its stead.
    public var pruned: [SiteID] = []

    public init(
        origin: SiteID, seq: UInt64, lamport: UInt64, configuration: SiteConfigurationID, service: Service, sender: NodeID,
        payload: ByteBuffer
    ) {
        self.origin = origin
        self.seq = seq
        self.lamport = lamport
        self.configuration = configuration
        self.service = service
        self.sender = sender
        self.payload = payload
    }

    public var position: WideAreaPosition { WideAreaPosition(lamport: lamport, origin: origin, seq: seq) }
}

/// A site's promise and progress, sent by its representative every heartbeat interval:
/// none of its later messages has a timestamp at or below `lamport`; it has sent every
/// message up to `lastSeq`; and, per origin site, what every daemon of it has taken in order
/// (`received`) and what every daemon of it is known to hold (`held`, from its ring's stability).
public struct WideAreaHeartbeat: Sendable, Equatable {
    public var origin: SiteID
    /// The origin's configuration: the promise holds for its messages of it.
    public var configuration: SiteConfigurationID
    public var lamport: UInt64
    public var lastSeq: UInt64
    /// By site, ascending, without duplicates.
    public var progress: [SiteProgress]

    public init(origin: SiteID, configuration: SiteConfigurationID, lamport: UInt64, lastSeq: UInt64, progress: [SiteProgress]) {
        self.origin = origin
        self.configuration = configuration
        self.lamport = lamport
        self.lastSeq = lastSeq
        self.progress = progress
    }
}

/// What a site has of one origin site's messages: every seq up to `received` taken in order by
/// every daemon that stays in its ring, and every seq up to `held` (≤ `received`) held by all.
public struct SiteProgress: Sendable, Equatable {
    public var site: SiteID
    public var received: UInt64
    public var held: UInt64
    public init(site: SiteID, received: UInt64, held: UInt64) {
        self.site = site
        self.received = received
        self.held = held
    }
}

/// A message's place in the global order: by `lamport`, then `origin`, then `seq`.
public struct WideAreaPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var lamport: UInt64
    public var origin: SiteID
    public var seq: UInt64
    public init(lamport: UInt64, origin: SiteID, seq: UInt64) {
        self.lamport = lamport
        self.origin = origin
        self.seq = seq
    }
    public static func < (a: WideAreaPosition, b: WideAreaPosition) -> Bool {
        (a.lamport, a.origin.rawValue, a.seq) < (b.lamport, b.origin.rawValue, b.seq)
    }
    public var description: String { "\(lamport)/\(origin)#\(seq)" }
}
