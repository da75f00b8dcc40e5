import ChorusWire
import Testing

@testable import ChorusCore

/// A daemon killed and restarted (new incarnation, higher ring seqs) merges back without the
/// survivors re-forming their own ring again and again first (found with real daemons).
@Suite struct RestartMergeTests {
    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7])
    func restartedDaemonMergesWithoutChurn(variant: Int) {
        var harness = RingHarness(nodes: [1, 2, 3])
        var options = RingOptions()
        options.mergeBackoff = 1_000_000_000
        let site = [NodeID(1), NodeID(2), NodeID(3)]
        for node in site { harness.rings[node] = Ring(me: node, site: site, options: options) }
        harness.latency = 50_000 + UInt64(variant) * 37_000
        harness.start()
        harness.run(until: 1_000_000_000)
        #expect(harness.lastRegular(1)?.members.count == 3)
        // kill -9 d3: it vanishes, and packets to it are lost.
        harness.rings[NodeID(3)] = nil
        harness.timers[NodeID(3)] = nil
        harness.inFlight.removeAll { $0.1 == NodeID(3) }
        harness.run(until: 1_500_000_000 + UInt64(variant) * 100_000_000)
        #expect(harness.lastRegular(1)?.members == [NodeID(1), NodeID(2)])
        let before = harness.configurations[NodeID(1)]?.count ?? 0
        // Restart with a new incarnation: ring seqs far above the old ones, from the clock in
        // microseconds as the daemon takes them (the harness's clock started with the site). The
        // others may rise by 16 per microsecond they have been up (`Ring.acceptsRingSeq`), so a
        // floor far beyond the clock (a clock far ahead) would take them a while to follow.
        let floor = harness.now / 1_000
        harness.rings[NodeID(3)] = Ring(me: NodeID(3), site: site, options: options, ringSeqFloor: floor)
        harness.apply(NodeID(3)) { ring, actions, now in ring.start(now: now, into: &actions) }
        harness.run(until: 6_000_000_000)
        #expect(harness.lastRegular(1)?.members.count == 3)
        let regulars = (harness.configurations[NodeID(1)] ?? [])[before...].filter { $0.kind == .regular }
        #expect(regulars.count <= 2, "d1 installed \(regulars.count) regular configurations: \(regulars.map { "\($0.ringID) \($0.members)" })")
    }
}
