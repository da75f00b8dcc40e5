import Chorus
import ChorusLocalCluster
import ChorusVerify
import Foundation
import Testing

/// Real partitions: four daemons, each in its own network namespace on one bridge, with cables
/// unplugged (`ip link set … down`) and plugged back in while every client sends agreed, safe,
/// fifo and causal messages, every fifth fragmented. Three shapes, each repeated per run:
///
/// - one daemon cut off, then back;
/// - two daemons cut off at once (three partitions: the pair that stays, and two singletons);
/// - a daemon cut off, plugged back in, and cut off again while the merge and its state exchange
///   are under way, before it is finally plugged back in.
///
/// The clients' histories are checked with every rule that applies to them, and each fifo-or-
/// stronger delivery against its sender's views. Issue 8, item 1, showed in a third to a half of
/// runs of the first shape. Skips, saying why, where namespaces cannot be made (not root).
@Suite(.serialized, .enabled(if: NamespaceNetwork.unavailableReason == nil, "\(NamespaceNetwork.unavailableReason ?? "")"))
struct PartitionFaultTests {
    @Test func viewsAndMessagesAgreeAcrossRealPartitions() async throws {
        let daemons = 4
        let network = try NamespaceNetwork(count: daemons, tag: "part")
        defer { network.destroy() }
        let fixture = try await ClusterFixture.start(count: daemons, basePort: 22_300, network: network)
        defer { fixture.cluster.stop() }
        let clients = fixture.clients
        // Steady traffic from every client for the whole run, so messages are submitted during
        // every gather, merge and state exchange, plus a burst around each cut and restore.
        let traffic = SteadyTraffic(clients: clients)
        traffic.start()
        func burst(_ count: Int) { traffic.burst(count) }
        /// Waits until each client sees a regular view of the expected size.
        func awaitViews(_ sizes: [Int], _ what: String) async throws {
            for (client, size) in zip(clients, sizes) {
                try await client.wait(what, timeout: 20) { $0.lastRegular?.members.count == size }
            }
        }
        let whole = [Int](repeating: daemons, count: daemons)
        let repetitions = 2
        for round in 0..<repetitions {
            // One daemon (d2) cut off.
            burst(12)
            try network.cut(2)
            burst(12)
            try await awaitViews([3, 1, 3, 3], "d2 cut off (round \(round))")
            burst(12)
            try network.restore(2)
            burst(12)
            try await awaitViews(whole, "d2 back (round \(round))")

            // Two daemons (d3, d4) cut off at once: {d1, d2}, {d3}, {d4}.
            burst(12)
            try network.cut(3)
            try network.cut(4)
            burst(12)
            try await awaitViews([2, 2, 1, 1], "d3 and d4 cut off (round \(round))")
            burst(12)
            try network.restore(3)
            try network.restore(4)
            burst(12)
            try await awaitViews(whole, "d3 and d4 back (round \(round))")

            // d1 (the lowest id) cut off, back, and cut off again while the merge is under way.
            burst(12)
            try network.cut(1)
            try await awaitViews([1, 3, 3, 3], "d1 cut off (round \(round))")
            burst(12)
            try network.restore(1)
            burst(6)
            try await Task.sleep(for: .milliseconds(Int.random(in: 150...450)))
            try network.cut(1)
            burst(6)
            try await awaitViews([1, 3, 3, 3], "d1 cut off again (round \(round))")
            try network.restore(1)
            burst(12)
            try await awaitViews(whole, "d1 back (round \(round))")
        }
        let sent = await traffic.stop()[0]
        burst(4)
        try await fixture.awaitEveryonesMessage(UInt64(sent + 4))
        let checked = fixture.checkSendersInViews(fixture.recorder.finish())
        print("partition rounds: \(repetitions) × 3 shapes, fifo-or-stronger deliveries checked against their senders' views: \(checked)")
        #expect(checked > daemons * (sent + 4))
        let violations = fixture.violations()
        #expect(violations.isEmpty, "\(violations.prefix(5).map(\.description))")
        await fixture.stop()
    }
}
