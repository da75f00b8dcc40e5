import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

/// Safe delivery confirmed by one pass of the token (`Ring.confirmStability`): the daemon before
/// the aru's setter knows every member holds everything up to the aru, and the token carries
/// that on. Packets take 100 µs a hop in the harness.
@Suite struct StabilityTests {
    let hop: Instant = 100_000

    func idleRing(confirmInOnePass: Bool) -> RingHarness {
        var options = RingOptions()
        options.confirmStabilityInOnePass = confirmInOnePass
        return .formed(options: options)
    }

    /// A safe message from the representative (daemon 1): daemon 3, the one before it, delivers
    /// it when the token first reaches it (two hops), where the two-visit rule alone needs a
    /// whole rotation more (five hops). Every daemon still delivers it, once.
    @Test func theDaemonBeforeTheSetterDeliversSafeMessagesAfterOnePass() {
        for confirm in [true, false] {
            var harness = idleRing(confirmInOnePass: confirm)
            let start = harness.now
            harness.submit(1, .safe, "safe")
            harness.run(until: start + 12 * hop)
            for node: UInt32 in [1, 2, 3] { #expect(harness.payloads(node) == ["safe"]) }
            let atThree = harness.deliveredAt[NodeID(3)]!["safe"]! - start
            let atTwo = harness.deliveredAt[NodeID(2)]!["safe"]! - start
            if confirm {
                #expect(atThree <= 2 * hop + 10_000, "daemon 3 delivered after \(atThree) ns")
                #expect(atTwo <= 4 * hop + 10_000, "daemon 2 delivered after \(atTwo) ns")
            } else {
                #expect(atThree > 4 * hop, "without the one-pass rule daemon 3 waits for its second visit")
            }
        }
    }

    /// A member that lacks a packet lowers the aru and becomes its setter: nobody may take the
    /// packet as stable until a pass after it has the packet confirms it.
    @Test func aMemberMissingAPacketHoldsTheStableSeqBack() {
        var harness = idleRing(confirmInOnePass: true)
        harness.cut = [[1, 3]]  // daemon 3 gets nothing from daemon 1 (the token comes from 2)
        let start = harness.now
        harness.submit(1, .safe, "safe")
        harness.run(until: start + 3 * hop)
        #expect(harness.payloads(1).isEmpty && harness.payloads(2).isEmpty && harness.payloads(3).isEmpty)
        harness.cut = []
        harness.run(until: start + 40 * hop)
        for node: UInt32 in [1, 2, 3] { #expect(harness.payloads(node) == ["safe"]) }
    }
}
