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

    public var daemon: String
    public var nodeID: UInt32
    public var ring: Ring
    public var sessions: [Session]
    public var groups: [Group]
    public var counters: DaemonCounters
    public var ringCounters: RingCounterValues
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
                    name: $0.name, privateGroup: $0.id!.privateGroup, groups: $0.groups.sorted(),
                    messagesSent: $0.messagesSent, messagesReceived: $0.messagesReceived, unreadBytes: $0.outstanding)
            },
            groups: engine.groups.groupNames.map { .init(name: $0, members: engine.groups.members(of: $0).map(\.privateGroup)) },
            counters: counters,
            ringCounters: .init(
                packetsSent: c.packetsSent, retransmissions: c.retransmissions, tokenRetransmissions: c.tokenRetransmissions,
                tokenLosses: c.tokenLosses, configurationsInstalled: c.configurationsInstalled,
                duplicatePackets: c.duplicatePackets, foreignPackets: c.foreignPackets,
                implausiblePackets: c.implausiblePackets, failedToReceive: c.failedToReceive,
                tokensAheadOfData: c.tokensAheadOfData, tokenHolds: c.tokenHolds))
    }

    func statusJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(status()) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
