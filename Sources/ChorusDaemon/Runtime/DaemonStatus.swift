import ChorusCore
import Foundation

/// A daemon's state as `chorus status` shows it; sent to clients as JSON in a status reply.
public struct DaemonStatus: Sendable, Codable, Equatable {
    public struct Ring: Sendable, Codable, Equatable {
        public var id: String
        public var kind: String
        public var members: [String]
        public var pendingMessages: Int
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
    }
    public struct Group: Sendable, Codable, Equatable {
        public var name: String
        public var members: [String]
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
            }
            /// Whether this daemon has the order's state (a restarted one asks its ring for it).
            public var ready: Bool
            public var clock: UInt64
            /// Taken, waiting for their place in the order.
            public var waiting: Int
            /// This site's messages not yet reported taken by every other site.
            public var unacknowledged: Int
            public var sites: [Site]
            public var counters: SiteOrderCounters
            /// The configuration of sites this daemon delivers in (id, and its sites).
            public var configuration: String
            public var configurationSites: [String]
            /// Whether a new configuration of sites is being agreed (this site's new messages wait).
            public var reconfiguring: Bool
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
}

extension DaemonCore {
    func status() -> DaemonStatus {
        let c = engine.ring.counters
        let kind =
            switch configuration?.kind {
            case .regular: "regular"
            case .transitional: "transitional"
            case nil: "none"
            }
        return DaemonStatus(
            daemon: peer.name, nodeID: peer.id,
            ring: .init(
                id: "\(engine.ring.ringID)", kind: kind,
                members: engine.ring.members.map { nodeNames[$0] ?? "\($0)" }, pendingMessages: engine.pendingMessages),
            sessions: sessions.values.filter { $0.id != nil }.sorted { $0.local < $1.local }.map {
                .init(
                    name: $0.name, identity: "\($0.identity)", privateGroup: privateGroupName($0.id!), groups: $0.groups.sorted(),
                    messagesSent: $0.messagesSent, messagesReceived: $0.messagesReceived, unreadBytes: $0.outstanding)
            },
            groups: engine.groups.groupNames.map { .init(name: $0, members: engine.groups.members(of: $0).map(privateGroupName)) },
            counters: counters,
            ringCounters: .init(
                packetsSent: c.packetsSent, retransmissions: c.retransmissions, tokenRetransmissions: c.tokenRetransmissions,
                tokenLosses: c.tokenLosses, configurationsInstalled: c.configurationsInstalled,
                duplicatePackets: c.duplicatePackets, foreignPackets: c.foreignPackets,
                implausiblePackets: c.implausiblePackets, failedToReceive: c.failedToReceive,
                tokensAheadOfData: c.tokensAheadOfData, tokenHolds: c.tokenHolds),
            wideArea: wideArea.map { service in
                var wide = service.status()
                if let order = engine.order {
                    wide.order = .init(
                        ready: order.isReady, clock: order.clock, waiting: order.waitingCount, unacknowledged: order.unacknowledged,
                        sites: order.progress.map {
                            .init(site: service.siteName($0.site), received: $0.received, promised: $0.promised, held: $0.held)
                        },
                        counters: order.counters, configuration: "\(order.configuration.id)",
                        configurationSites: order.configuration.sites.map(service.siteName), reconfiguring: order.isReconfiguring)
                }
                return wide
            },
            security: sealing.map { sealing in
                let sealer = sealing.sealer
                return DaemonStatus.Security(
                    mode: "sealed", keyFile: sealing.keyFile, keys: sealer.keys.ids, sealingKey: sealer.sealingKeyID,
                    sealed: sealer.counters.sealed, opened: sealer.counters.opened,
                    rejected: Dictionary(uniqueKeysWithValues: sealer.counters.rejected.map { ($0.key.rawValue, $0.value) }))
            } ?? DaemonStatus.Security(mode: "plain", keyFile: nil, keys: [], sealingKey: nil, sealed: 0, opened: 0, rejected: [:]))
    }

    func statusJSON() -> String { Self.json(status()) }

    /// The status as `session` may see it: only groups whose members the access rules show it.
    func statusJSON(for session: ClientSession) -> String {
        var shown = status()
        shown.groups = shown.groups.filter { allows(session, .members, $0.name) }
        for index in shown.sessions.indices {
            shown.sessions[index].groups = shown.sessions[index].groups.filter { allows(session, .members, $0) }
        }
        return Self.json(shown)
    }

    static func json(_ status: DaemonStatus) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(status) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
