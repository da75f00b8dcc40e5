import ChorusCore
import ChorusSchema
import Foundation

/// The status report (`DaemonStatus`, in ChorusSchema) of this daemon.
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
                    wide.order?.unacknowledgedBytes = order.unacknowledgedBytes
                    wide.order?.unacknowledgedBytesLimit = order.unacknowledgedBytesLimit
                    wide.order?.acknowledgedBytesPerSecond = order.outboxRate
                    wide.order?.acknowledgedWithinMs = order.outboxDelay.map { Double($0) / 1e6 }
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
