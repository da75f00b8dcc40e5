import Chorus
import ChorusLocalCluster
import ChorusVerify
import Foundation
import Testing

/// A started cluster with one recording client per daemon in group `g`, all in one full view.
struct ClusterFixture {
    let cluster: LocalCluster
    let recorder = HistoryRecorder()
    var clients: [TestClient] = []

    /// Starts `count` daemons from `basePort` and connects a client to each (over TCP, or over the
    /// Unix socket for every second daemon, so both listeners are exercised).
    /// With `network`, every daemon runs in its own namespace and every client uses the Unix socket.
    /// With `sites` (one site name per daemon; `extraConfig` names the sites and links), the group
    /// spans the sites.
    static func start(
        count: Int = 3, basePort: Int, ringSection: String = LocalCluster.fastTimeouts, extraConfig: String = "",
        network: NamespaceNetwork? = nil, sites: [String]? = nil
    ) async throws -> ClusterFixture {
        let cluster = try LocalCluster(
            count: count, basePort: basePort, ringSection: ringSection, extraConfig: extraConfig, network: network,
            sites: sites)
        var fixture = ClusterFixture(cluster: cluster)
        do {
            try await cluster.start()
            for (index, member) in cluster.members.enumerated() {
                fixture.clients.append(fixture.connect(index: index, member: member))
            }
            for client in fixture.clients {
                try await client.wait("the full group", timeout: sites == nil ? 15 : 30) { $0.lastRegular?.members.count == count }
            }
        } catch {
            cluster.stop(keepFiles: true)
            throw error
        }
        return fixture
    }

    /// A recording client of `member` (see `TestClient` for `firstSeq` and `lateJoiner`).
    func connect(
        index: Int, member: LocalCluster.Member, name: String? = nil, firstSeq: UInt64 = 0, lateJoiner: Bool = false
    ) -> TestClient {
        let daemon = UInt32(index + 1)
        let process = recorder.incarnate(daemon)
        return TestClient(
            name: name ?? "client-\(member.name)",
            endpoint: index % 2 == 1 || cluster.network != nil ? member.unixEndpoint : member.endpoint,
            process: process, group: "g", fullGroup: cluster.members.count, recorder: recorder, firstSeq: firstSeq,
            lateJoiner: lateJoiner)
    }

    /// Runs the checkers that apply to client-recorded histories. Safe's ground truth (who held
    /// the bytes) and liveness need the simulator. Configuration consistency too: the
    /// configurations here are inferred from group views, and a client sees no regular view of
    /// a ring that changed again before its group state was exchanged (a transitional view, then
    /// the next ring's regular view), which that rule, made for daemon histories, would report.
    func violations(livenessBound: UInt64 = 2_000_000_000) -> [Violation] {
        Checkers.checkAll(
            recorder.finish(),
            options: CheckOptions(livenessBound: livenessBound).disabling(.safeDelivery, .liveness, .configurationConsistency))
    }

    /// Checks, in every client's log, that each delivery of fifo service or stronger follows a
    /// regular view of `group` that has its sender (in the sender's configuration, or as one of
    /// the last messages of the configuration before, in its transitional view); returns how many
    /// deliveries it checked. A focused, readable form of rule `viewPlacement` for these tests.
    func checkSendersInViews(_ history: History, group: String = "g") -> Int {
        var checked = 0
        for client in clients {
            guard let log = history.logs[client.process] else {
                // A late joiner's history starts at its first configuration change, if any came.
                if !client.lateJoiner { Issue.record("no log for \(client.name)") }
                continue
            }
            var lastRegular: GroupViewEvent?
            var lastView: GroupViewEvent?
            for entry in log {
                switch entry.event {
                case .view(let view) where view.group == group:
                    lastView = view
                    if view.kind == .regular { lastRegular = view }
                case .deliver(let id, let service, _) where service >= .fifo:
                    checked += 1
                    let placed = lastRegular?.members.contains(id.session) ?? false
                    #expect(
                        placed,
                        "\(client.name) got \(id) (\(service)) after \(lastView.map { "\($0.kind) view \($0.viewID) \($0.members)" } ?? "no view"); its last regular view \(lastRegular.map { "\($0.viewID) \($0.members)" } ?? "none") lacks the sender")
                default:
                    break
                }
            }
        }
        return checked
    }

    /// Waits until every client has received every client's message number `seq`.
    func awaitEveryonesMessage(_ seq: UInt64, timeout: Double = 20) async throws {
        try await awaitMessages(upTo: clients.map { _ in seq }, timeout: timeout)
    }

    /// Waits until every client has delivered message `seqs[i]` of `clients[i]`, for every i.
    func awaitMessages(upTo seqs: [UInt64], timeout: Double = 20) async throws {
        let senders = zip(clients, seqs).map { (name: $0.privateGroup, seq: $1) }
        for client in clients {
            try await client.wait("every sender's last message \(seqs)", timeout: timeout) { client in
                senders.allSatisfy { sender in
                    client.messages.contains {
                        $0.sender == sender.name && $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt64.self) == sender.seq
                    }
                }
            }
        }
    }

    /// Ends the clients' sessions, then the daemons, and removes the cluster's files.
    func stop() async {
        for client in clients { await client.stop() }
        cluster.stop(keepFiles: false)
    }
}

func milliseconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }
