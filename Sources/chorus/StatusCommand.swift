import ArgumentParser
import Chorus
import ChorusProtocol
import Foundation

/// `chorus status`: a daemon's ring, sessions, groups and counters.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show a daemon's ring, members, sessions, groups and counters.")

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print the daemon's JSON document as is.")
    var json = false

    func run() async throws {
        let endpoint = try client.endpoint()
        let document = try await ChorusClient.withSession(to: endpoint, name: client.sessionName("status"), membershipNotices: false, token: client.presentedToken, tls: client.tls) {
            session in
            try await session.requestStatus()
            for try await event in session.events {
                if case .status(let json) = event { return json }
            }
            throw ChorusClientError(.closed, "no status reply")
        }
        if json {
            print(document)
            return
        }
        let status = try JSONDecoder().decode(DaemonStatus.self, from: Data(document.utf8))
        print(Self.render(status))
    }

    /// The outbox's bytes against its bound and the bound's two measures (absent from older daemons).
    static func outboxBudget(_ order: DaemonStatus.WideArea.Order) -> String {
        guard let bytes = order.unacknowledgedBytes, let limit = order.unacknowledgedBytesLimit else { return "" }
        let delay = order.acknowledgedWithinMs.map { String(format: "%.1f ms", $0) } ?? "not measured yet"
        return " (\(bytes) of \(limit) bytes; acknowledged \(order.acknowledgedBytesPerSecond ?? 0) B/s within \(delay))"
    }

    static func render(_ status: DaemonStatus) -> String {
        var lines: [String] = []
        lines.append("daemon \(status.daemon) (id \(status.nodeID))")
        lines.append("  ring \(status.ring.id) (\(status.ring.kind)): \(status.ring.members.joined(separator: ", "))")
        lines.append("  messages waiting for the token: \(status.ring.pendingMessages)")
        lines.append("sessions: \(status.sessions.count)")
        for session in status.sessions {
            lines.append("  \(session.privateGroup) '\(session.name)'\(session.identity.map { " (\($0))" } ?? ""): groups [\(session.groups.joined(separator: ", "))], sent \(session.messagesSent), received \(session.messagesReceived), unread \(session.unreadBytes) B")
        }
        lines.append("groups: \(status.groups.count)")
        for group in status.groups {
            lines.append("  \(group.name): \(group.members.count) member(s) [\(group.members.joined(separator: ", "))]")
        }
        if let wide = status.wideArea {
            lines.append("wide area: site \(wide.site), \(wide.representative ? "representative" : "not the representative")")
            if wide.representative { lines.append("  reachable sites: \(wide.reachable.joined(separator: ", "))") }
            for link in wide.links {
                let rtt = link.roundTripMs.map { String(format: "%.1f ms", $0) } ?? "-"
                let rate = link.rateBytesPerSecond > 0 ? "\(link.rateBytesPerSecond * 8 / 1_000_000) Mbit/s" : "no limit"
                lines.append("  link to \(link.site): \(link.up ? "up" : "down"), rtt \(rtt), rate \(rate), unacknowledged \(link.unacknowledged), queued \(link.queued), sent \(link.dataSent), retransmitted \(link.retransmissions), duplicates \(link.duplicates), refused \(link.refused)")
            }
            let w = wide.counters
            lines.append("  hop datagrams received \(w.datagramsReceived), sent \(w.datagramsSent), bad \(w.badDatagrams), while not representative \(w.notRepresentative)")
            if let order = wide.order {
                lines.append("  order across sites: \(order.ready ? "ready" : "waiting for the state from its ring"), clock \(order.clock), waiting \(order.waiting), unacknowledged \(order.unacknowledged)\(Self.outboxBudget(order))")
                lines.append("  configuration of sites \(order.configuration): [\(order.configurationSites.joined(separator: ", "))]\(order.reconfiguring ? ", agreeing on the next" : "")")
                for site in order.sites {
                    lines.append("    \(site.site): received \(site.received), promised \(site.promised), held \(site.held)")
                }
                let o = order.counters
                lines.append("    originated \(o.originated), resent \(o.resent), brought in \(o.injected), duplicates \(o.duplicates), gaps \(o.gaps), malformed \(o.malformed + o.foreign + o.staleTimestamps + o.implausibleTimestamps + o.notClientData), early heartbeats \(o.earlyHeartbeats)")
                lines.append("    configurations of sites \(o.configurations), agreements begun again \(o.abandonedAgreements), stale installs \(o.staleInstalls), of another configuration \(o.otherConfiguration), past a cut \(o.beyondCut)")
                lines.append("    stand-ins sent for bodies \(o.standInsSent) (\(o.bytesSpared) bytes spared), taken \(o.standInsTaken), pruned data held back while agreeing \(o.prunedWhileAgreeing)")
            }
        }
        if let security = status.security {
            if security.mode == "sealed" {
                let rejected = security.rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                lines.append("security: daemon datagrams sealed, keys [\(security.keys.map(String.init).joined(separator: ", "))], sealing with \(security.sealingKey.map(String.init) ?? "-") (\(security.keyFile ?? ""))")
                lines.append("  sealed \(security.sealed), opened \(security.opened), dropped \(rejected.isEmpty ? "none" : rejected)")
            } else {
                lines.append("security: PLAIN MODE, daemon datagrams neither authenticated nor encrypted")
            }
        }
        let c = status.counters
        let r = status.ringCounters
        lines.append("counters:")
        lines.append("  messages accepted \(c.messagesAccepted), delivered \(c.messagesDelivered), frames to clients \(c.framesToClients), views to clients \(c.viewsToClients)")
        lines.append("  packets sent \(r.packetsSent), retransmitted \(r.retransmissions), token retransmissions \(r.tokenRetransmissions), token losses \(r.tokenLosses)")
        lines.append("  datagrams received \(c.datagramsReceived), bad datagrams dropped \(c.badDatagrams), implausible \(r.implausiblePackets), duplicates \(r.duplicatePackets), foreign \(r.foreignPackets)")
        lines.append("  configurations \(c.configurations), sessions opened \(c.sessionsOpened), closed \(c.sessionsClosed), protocol errors \(c.clientProtocolErrors), slow receivers disconnected \(c.slowReceiverDisconnects), senders paused \(c.sendersPaused)")
        return lines.joined(separator: "\n")
    }
}
