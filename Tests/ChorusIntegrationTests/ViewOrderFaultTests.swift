import Chorus
import ChorusVerify
import Foundation
import Testing

/// What clients see around a daemon pause, with real daemons: a daemon stopped (SIGSTOP) past the
/// token timeout, then continued, several times in one run, while every client sends agreed,
/// safe, fifo and causal messages (some fragmented) before, during and right after each pause.
///
/// Every client is in the group, so every sender appears in its views. A message of fifo service
/// or stronger must reach a client after a regular view that has its sender: in that sender's
/// configuration, or (in a transitional view) as one of the last messages of the configuration
/// before. Issue 8, item 1: the other daemons' clients got the paused daemon's messages of the
/// merged ring after the transitional view that had dropped it, before the merged view (every run
/// of this shape), and the paused daemon's client got the others' in its own transitional view.
@Suite(.serialized) struct ViewOrderFaultTests {
    @Test func messagesFallInTheirSendersViewsAcrossPauses() async throws {
        let fixture = try await ClusterFixture.start(basePort: 22_100)
        defer { fixture.cluster.stop() }
        let clients = fixture.clients
        let (c1, c2, c3) = (clients[0], clients[1], clients[2])
        let services: [Service] = [.agreed, .safe, .fifo, .causal]
        func burst(_ count: Int) {
            for k in 0..<count {
                for client in clients { client.send(services[k % services.count], size: k % 5 == 0 ? 4_000 : 200) }
            }
        }
        let cycles = 3
        for cycle in 0..<cycles {
            burst(20)
            fixture.cluster.signal("d2", SIGSTOP)
            burst(20)  // d2's wait in its socket
            for client in [c1, c3] {
                try await client.wait("a view without d2 (cycle \(cycle))") {
                    $0.lastRegular.map { $0.reason == .network && $0.members.count == 2 } ?? false
                }
            }
            burst(20)
            try await Task.sleep(for: .milliseconds(300))
            fixture.cluster.signal("d2", SIGCONT)
            burst(20)  // while d2 gathers and merges
            for client in clients {
                try await client.wait("the merged view (cycle \(cycle))") { $0.lastRegular?.members.count == 3 }
            }
        }
        burst(4)
        // Every client's last message (seq 244), sent in the merged configuration, reaches every client.
        try await fixture.awaitEveryonesMessage(UInt64(cycles * 80 + 4))
        let checked = fixture.checkSendersInViews(fixture.recorder.finish())
        print("pause cycles: \(cycles), fifo-or-stronger deliveries checked against their senders' views: \(checked)")
        #expect(checked > 3 * 80 * cycles)
        let violations = fixture.violations()
        #expect(violations.isEmpty, "\(violations.prefix(5).map(\.description))")
        await fixture.stop()
    }
}
