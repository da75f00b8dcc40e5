import NIOCore

/// Names one configuration of sites (a global configuration): `seq` is one above the highest
/// seq among the configurations its members come from, `coordinator` the lowest member site,
/// which decided it. Configurations of disjoint components never share an id.
public struct SiteConfigurationID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seq: UInt64
    public var coordinator: SiteID
    public init(seq: UInt64, coordinator: SiteID) {
        self.seq = seq
        self.coordinator = coordinator
    }
    public static func < (a: SiteConfigurationID, b: SiteConfigurationID) -> Bool {
        (a.seq, a.coordinator) < (b.seq, b.coordinator)
    }
    public var description: String { "\(seq).\(coordinator)" }
}

/// A configuration of sites: its id and its member sites, ascending.
public struct SiteConfiguration: Hashable, Sendable, CustomStringConvertible {
    public var id: SiteConfigurationID
    public var sites: [SiteID]
    public init(id: SiteConfigurationID, sites: [SiteID]) {
        self.id = id
        self.sites = sites
    }
    /// A site alone, as it starts: every site starts in its own and merges with those it reaches.
    public static func alone(_ site: SiteID) -> SiteConfiguration {
        SiteConfiguration(id: SiteConfigurationID(seq: 0, coordinator: site), sites: [site])
    }
    public var description: String { "\(id){\(sites.map(\.description).joined(separator: ","))}" }
}

/// A site's proposal for the next configuration, made where its `propose` sits in its ring's
/// order (so every daemon of the site makes the same one). From that point the site numbers no
/// new messages until a configuration is installed: its messages of `configuration` end at `cutSeq`.
///
/// Layout (kind 7): `origin u32 | attempt u64 | configuration seq u64 | coordinator u32 |
/// cutSeq u64 | clock u64 | delivered (lamport u64, origin u32, seq u64; all 0: none) | count u16 |
/// site u32 * count | count u16 | (site u32, received u64) * count`.
public struct SiteProposal: Sendable, Equatable {
    public var origin: SiteID
    /// Counts the origin's proposals (a later one replaces an earlier one).
    public var attempt: UInt64
    /// The configuration the origin comes from.
    public var configuration: SiteConfigurationID
    /// The origin's messages so far: the last of them in `configuration`.
    public var cutSeq: UInt64
    /// The origin's clock: every later message of it has a higher timestamp.
    public var clock: UInt64
    /// The last ordered message the origin delivered in its configuration (nil: none); it delivers
    /// nothing more until a configuration is installed. Everything up to here goes out before the
    /// transitional configuration at every site that moves on with it.
    public var delivered: WideAreaPosition?
    /// The sites the origin reaches, itself included, ascending: the configuration it proposes.
    public var sites: [SiteID]
    /// Per site of `configuration`, ascending: the messages of it the origin has taken in order.
    public var received: [SiteProgress.Received]
    /// The groups the origin's sessions may be members of, ascending and distinct: every group
    /// one of them joined while the site ran (it only grows). Other sites send it stand-ins for
    /// messages to other groups; a join of a group not listed is numbered past the site's lease.
    public var interests: [String] = []
    /// The origin's sessions joined more groups than it keeps (`interests` is then empty): it
    /// may have members in any group, and no site prunes for it.
    public var interestsAll = false
    /// Per site, ascending: messages of it the origin holds only as stand-ins though it is not
    /// pruned for them (taken so where a site departed and no member held the body): a member
    /// moving on that lacks one gets no body from the origin (`SiteOrder.supplier`).
    public var standIns: [SiteSeqs] = []

    public init(
        origin: SiteID, attempt: UInt64, configuration: SiteConfigurationID, cutSeq: UInt64, clock: UInt64,
        delivered: WideAreaPosition? = nil, sites: [SiteID], received: [SiteProgress.Received]
    ) {
        self.origin = origin
        self.attempt = attempt
        self.configuration = configuration
        self.cutSeq = cutSeq
        self.clock = clock
        self.delivered = delivered
        self.sites = sites
        self.received = received
    }

    /// What the origin had taken of `site`'s messages (nil: `site` is not in its configuration).
    public func received(of site: SiteID) -> UInt64? { received.first { $0.site == site }?.received }
}

/// Seqs of one site's messages, ascending.
public struct SiteSeqs: Sendable, Equatable {
    public var site: SiteID
    public var seqs: [UInt64]
    public init(site: SiteID, seqs: [UInt64]) {
        self.site = site
        self.seqs = seqs
    }
}

extension SiteProgress {
    /// Messages of `site` taken in order.
    public struct Received: Sendable, Equatable {
        public var site: SiteID
        public var received: UInt64
        public init(site: SiteID, received: UInt64) {
            self.site = site
            self.received = received
        }
    }
}

/// The coordinator's decision: the new configuration is the origins of `proposals` (one per
/// member, ascending), which fix everything else: where each member's messages of its old
/// configuration end, and (the most any member took) where a departed site's end.
///
/// Layout (kind 8): `seq u64 | coordinator u32 | count u16 | (length u32, proposal) * count`.
public struct SiteInstall: Sendable, Equatable {
    public var id: SiteConfigurationID
    public var proposals: [SiteProposal]
    public init(id: SiteConfigurationID, proposals: [SiteProposal]) {
        self.id = id
        self.proposals = proposals
    }
    public var configuration: SiteConfiguration { SiteConfiguration(id: id, sites: proposals.map(\.origin)) }
    public func proposal(of site: SiteID) -> SiteProposal? { proposals.first { $0.origin == site } }
}

/// The part of a daemon's order state about configurations, for a daemon that joins its site's
/// ring without it (inside `WideAreaSnapshot`).
public struct WideAreaMembershipState: Sendable, Equatable {
    public var configuration: SiteConfiguration
    /// The site's proposals so far.
    public var attempt: UInt64
    /// 0 operational, 1 proposing `proposing`, 2 closing the configuration towards `lastInstall`.
    public var phase: UInt8
    public var proposing: [SiteID]
    public var lastInstall: SiteInstall?
    /// Every site's latest proposal, ascending by origin.
    public var proposals: [SiteProposal]
    /// Per site, ascending: the highest attempt of it an install has used.
    public var consumed: [SiteProgress.Received]
    /// This site's client messages held while a configuration is being agreed (not yet numbered).
    public var frozen: [FrozenMessage]
    /// Other sites' messages kept until every site of the configuration has them.
    public var relay: [WideAreaData]
    /// Sites of the last install still finishing its old configuration (this one supplies them).
    public var finishing: [SiteID]
    /// Closing: the members moving on known to have every message up to the cuts.
    public var confirmed: [SiteID]
    /// The last ordered message delivered in the configuration (nil: none).
    public var delivered: WideAreaPosition?
    /// The highest configuration seq this site has decided or applied (a coordinator's next is above it).
    public var highestSeq: UInt64
    /// Members of the site's ring still waiting for the state (ascending): the site's daemons
    /// are announced to the other sites once none waits.
    public var pending: [NodeID] = []
    /// Per site of the configuration, ascending: its daemons as last announced in the order
    /// (a site missing: none announced yet in this configuration).
    public var siteDaemons: [SiteDaemons] = []
    /// Causal, agreed and safe messages delivered in this configuration (views take their ids from it).
    public var ordinal: UInt64 = 0
    /// The group layer's exchange of sessions where the snapshot was taken (filled in by the engine).
    public var exchange = ViewsExchange()
    /// Per other site, ascending: the ids of its unreliable messages delivered lately, oldest
    /// first (a copy routed twice is not delivered twice by a daemon that gets the state).
    public var unreliableSeen: [RecentUnreliable] = []

    public struct RecentUnreliable: Sendable, Equatable {
        public var site: SiteID
        public var ids: [UInt64]
        public init(site: SiteID, ids: [UInt64]) {
            self.site = site
            self.ids = ids
        }
    }

    /// Where the group layer's exchange of sessions across sites stands: a daemon that gets the
    /// state holds and releases messages exactly where the others do, though it shows no view yet.
    public struct ViewsExchange: Sendable, Equatable {
        /// Where the group views' current configuration began: the ordinal of the event (view ids carry it).
        public var epoch: UInt64
        public var running: Bool
        /// Daemons whose announcement is complete, and those part way through one (ascending).
        public var announced: [NodeID]
        public var started: [NodeID]
        /// The first session number each of `announced`, then each of `started`, gave in its
        /// announcement (`GroupMessage.state`), in that order.
        public var firstSessions: [UInt64]
        /// Group messages delivered during the exchange, waiting for its views, in order.
        public var held: [HeldMessage]
        public init(
            epoch: UInt64 = 0, running: Bool = false, announced: [NodeID] = [], started: [NodeID] = [],
            firstSessions: [UInt64] = [], held: [HeldMessage] = []
        ) {
            self.epoch = epoch
            self.running = running
            self.announced = announced
            self.started = started
            self.firstSessions = firstSessions
            self.held = held
        }

        public struct HeldMessage: Sendable, Equatable {
            public var service: Service
            public var position: WideAreaPosition?
            /// An encoded `GroupMessage`.
            public var payload: ByteBuffer
            public init(service: Service, position: WideAreaPosition?, payload: ByteBuffer) {
                self.service = service
                self.position = position
                self.payload = payload
            }
        }
    }

    /// One site's daemons as the order last announced them.
    public struct SiteDaemons: Sendable, Equatable {
        public var site: SiteID
        public var daemons: [NodeID]
        public init(site: SiteID, daemons: [NodeID]) {
            self.site = site
            self.daemons = daemons
        }
    }

    public struct FrozenMessage: Sendable, Equatable {
        public var service: Service
        public var sender: NodeID
        public var payload: ByteBuffer
        public init(service: Service, sender: NodeID, payload: ByteBuffer) {
            self.service = service
            self.sender = sender
            self.payload = payload
        }
    }

    public init(
        configuration: SiteConfiguration, attempt: UInt64, phase: UInt8, proposing: [SiteID], lastInstall: SiteInstall?,
        proposals: [SiteProposal], consumed: [SiteProgress.Received], frozen: [FrozenMessage], relay: [WideAreaData],
        finishing: [SiteID], confirmed: [SiteID], delivered: WideAreaPosition? = nil, highestSeq: UInt64 = 0,
        pending: [NodeID] = [], siteDaemons: [SiteDaemons] = [], ordinal: UInt64 = 0, exchange: ViewsExchange = ViewsExchange(),
        unreliableSeen: [RecentUnreliable] = []
    ) {
        self.unreliableSeen = unreliableSeen
        self.exchange = exchange
        self.pending = pending
        self.siteDaemons = siteDaemons
        self.ordinal = ordinal
        self.configuration = configuration
        self.attempt = attempt
        self.phase = phase
        self.proposing = proposing
        self.lastInstall = lastInstall
        self.proposals = proposals
        self.consumed = consumed
        self.frozen = frozen
        self.relay = relay
        self.finishing = finishing
        self.confirmed = confirmed
        self.delivered = delivered
        self.highestSeq = highestSeq
    }
}
