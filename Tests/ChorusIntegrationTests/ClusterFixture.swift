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
    static func start(count: Int = 3, basePort: Int, ringSection: String = LocalCluster.fastTimeouts, extraConfig: String = "") async throws
        -> ClusterFixture
    {
        let cluster = try LocalCluster(count: count, basePort: basePort, ringSection: ringSection, extraConfig: extraConfig)
        var fixture = ClusterFixture(cluster: cluster)
        do {
            try await cluster.start()
            for (index, member) in cluster.members.enumerated() {
                fixture.clients.append(fixture.connect(index: index, member: member))
            }
            for client in fixture.clients {
                try await client.wait("the full group") { $0.lastRegular?.members.count == count }
            }
        } catch {
            cluster.stop(keepFiles: true)
            throw error
        }
        return fixture
    }

    func connect(index: Int, member: LocalCluster.Member, name: String? = nil) -> TestClient {
        let daemon = UInt32(index + 1)
        let process = recorder.incarnate(daemon)
        return TestClient(
            name: name ?? "client-\(member.name)", endpoint: index % 2 == 1 ? member.unixEndpoint : member.endpoint,
            process: process, group: "g", fullGroup: cluster.members.count, recorder: recorder)
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

    /// Ends the clients' sessions, then the daemons, and removes the cluster's files.
    func stop() async {
        for client in clients { await client.stop() }
        cluster.stop(keepFiles: false)
    }
}

func milliseconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }
