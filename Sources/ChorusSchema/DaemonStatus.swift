/// A daemon's state as `chorus status` shows it: sent to clients as JSON in a status reply (the
/// client protocol's `statusReply`), so the schema lives with the protocol, not the daemon.
public struct DaemonStatus: Sendable, Codable, Equatable {
    public struct Ring: Sendable, Codable, Equatable {
        public var id: String
        public var kind: String
        public var members: [String]
        public var pendingMessages: Int
        public init(id: String, kind: String, members: [String], pendingMessages: Int) {
            self.id = id
            self.kind = kind
            self.members = members
            self.pendingMessages = pendingMessages
        }
    }
    public struct Session: Sendable, Codable, Equatable {
        public var name: String
        /// How it connected and who it is: transport, Unix credentials, token name.
        public var identity: String?
        public var privateGroup: String
        public var groups: [String]
        public var messagesSent: Int
        public var messagesReceived: Int
        public var unreadBytes: Int
        public init(name: String, identity: String? = nil, privateGroup: String, groups: [String], messagesSent: Int, messagesReceived: Int, unreadBytes: Int) {
            self.name = name
            self.identity = identity
            self.privateGroup = privateGroup
            self.groups = groups
            self.messagesSent = messagesSent
            self.messagesReceived = messagesReceived
            self.unreadBytes = unreadBytes
        }
    }
    public struct Group: Sendable, Codable, Equatable {
        public var name: String
        public var members: [String]
        public init(name: String, members: [String]) {
            self.name = name
            self.members = members
        }
    }
    public struct RingCounterValues: Sendable, Codable, Equatable {
        public var packetsSent: Int
        public var retransmissions: Int
        public var tokenRetransmissions: Int
        public var tokenLosses: Int
        public var configurationsInstalled: Int
        public var duplicatePackets: Int
        public var foreignPackets: Int
        public var implausiblePackets: Int
        public var failedToReceive: Int
        public var tokensAheadOfData: Int
        public var tokenHolds: Int
        public init(packetsSent: Int, retransmissions: Int, tokenRetransmissions: Int, tokenLosses: Int, configurationsInstalled: Int, duplicatePackets: Int, foreignPackets: Int, implausiblePackets: Int, failedToReceive: Int, tokensAheadOfData: Int, tokenHolds: Int) {
            self.packetsSent = packetsSent
            self.retransmissions = retransmissions
            self.tokenRetransmissions = tokenRetransmissions
            self.tokenLosses = tokenLosses
            self.configurationsInstalled = configurationsInstalled
            self.duplicatePackets = duplicatePackets
            self.foreignPackets = foreignPackets
            self.implausiblePackets = implausiblePackets
            self.failedToReceive = failedToReceive
            self.tokensAheadOfData = tokensAheadOfData
            self.tokenHolds = tokenHolds
        }
    }

    /// The wide area, as this daemon sees it (nil with one site).
    public struct WideArea: Sendable, Codable, Equatable {
        public struct Link: Sendable, Codable, Equatable {
            public var site: String
            public var up: Bool
            /// Smoothed round trip, ms (nil before the first sample).
            public var roundTripMs: Double?
            public var rateBytesPerSecond: UInt64
            public var unacknowledged: Int
            public var queued: Int
            public var dataSent: Int
            public var retransmissions: Int
            public var duplicates: Int
            public var refused: Int
            public init(site: String, up: Bool, roundTripMs: Double? = nil, rateBytesPerSecond: UInt64, unacknowledged: Int, queued: Int, dataSent: Int, retransmissions: Int, duplicates: Int, refused: Int) {
                self.site = site
                self.up = up
                self.roundTripMs = roundTripMs
                self.rateBytesPerSecond = rateBytesPerSecond
                self.unacknowledged = unacknowledged
                self.queued = queued
                self.dataSent = dataSent
                self.retransmissions = retransmissions
                self.duplicates = duplicates
                self.refused = refused
            }
        }
        public var site: String
        public var representative: Bool
        /// Sites reachable over up links (this one included), when representative.
        public var reachable: [String]
        public var links: [Link]
        public var counters: WideAreaCounters
        /// The order across sites at this daemon.
        public var order: Order?

        public struct Order: Sendable, Codable, Equatable {
            public struct Site: Sendable, Codable, Equatable {
                public var site: String
                /// Its messages taken in order (this site: numbered so far).
                public var received: UInt64
                /// Its later messages have higher timestamps than this (this site: the clock).
                public var promised: UInt64
                /// Its messages every daemon of this site holds.
                public var held: UInt64
                public init(site: String, received: UInt64, promised: UInt64, held: UInt64) {
                    self.site = site
                    self.received = received
                    self.promised = promised
                    self.held = held
                }
            }
            /// Whether this daemon has the order's state (a restarted one asks its ring for it).
            public var ready: Bool
            public var clock: UInt64
            /// Taken, waiting for their place in the order.
            public var waiting: Int
            /// This site's messages not yet reported taken by every other site.
            public var unacknowledged: Int
            /// Their payload bytes, and how many may wait before clients are told to (it follows
            /// the links: twice the rate other sites take them at times the shortest time they
            /// take, `acknowledgedBytesPerSecond` and `acknowledgedWithinMs`).
            /// (Optional: a daemon of an earlier version leaves them out.)
            public var unacknowledgedBytes: Int? = nil
            public var unacknowledgedBytesLimit: Int? = nil
            public var acknowledgedBytesPerSecond: Int? = nil
            public var acknowledgedWithinMs: Double? = nil
            public var sites: [Site]
            public var counters: SiteOrderCounters
            /// The configuration of sites this daemon delivers in (id, and its sites).
            public var configuration: String
            public var configurationSites: [String]
            /// Whether a new configuration of sites is being agreed (this site's new messages wait).
            public var reconfiguring: Bool
            public init(ready: Bool, clock: UInt64, waiting: Int, unacknowledged: Int, sites: [Site], counters: SiteOrderCounters, configuration: String, configurationSites: [String], reconfiguring: Bool) {
                self.ready = ready
                self.clock = clock
                self.waiting = waiting
                self.unacknowledged = unacknowledged
                self.sites = sites
                self.counters = counters
                self.configuration = configuration
                self.configurationSites = configurationSites
                self.reconfiguring = reconfiguring
            }
        }
        public init(site: String, representative: Bool, reachable: [String], links: [Link], counters: WideAreaCounters, order: Order? = nil) {
            self.site = site
            self.representative = representative
            self.reachable = reachable
            self.links = links
            self.counters = counters
            self.order = order
        }
    }

    /// How daemon datagrams are protected: sealed with the key file, or plain.
    public struct Security: Sendable, Codable, Equatable {
        /// "sealed" or "plain".
        public var mode: String
        public var keyFile: String?
        /// Key ids held, and the one sealing now.
        public var keys: [UInt16]
        public var sealingKey: UInt16?
        public var sealed: Int
        public var opened: Int
        /// Datagrams dropped, by cause (bad tag, unknown key, replay, not a member, unsealed, …).
        public var rejected: [String: Int]
        public init(mode: String, keyFile: String? = nil, keys: [UInt16], sealingKey: UInt16? = nil, sealed: Int, opened: Int, rejected: [String: Int]) {
            self.mode = mode
            self.keyFile = keyFile
            self.keys = keys
            self.sealingKey = sealingKey
            self.sealed = sealed
            self.opened = opened
            self.rejected = rejected
        }
    }

    public var daemon: String
    public var nodeID: UInt32
    public var ring: Ring
    public var sessions: [Session]
    public var groups: [Group]
    public var counters: DaemonCounters
    public var ringCounters: RingCounterValues
    public var wideArea: WideArea?
    public var security: Security?
    public init(daemon: String, nodeID: UInt32, ring: Ring, sessions: [Session], groups: [Group], counters: DaemonCounters, ringCounters: RingCounterValues, wideArea: WideArea? = nil, security: Security? = nil) {
        self.daemon = daemon
        self.nodeID = nodeID
        self.ring = ring
        self.sessions = sessions
        self.groups = groups
        self.counters = counters
        self.ringCounters = ringCounters
        self.wideArea = wideArea
        self.security = security
    }
}
