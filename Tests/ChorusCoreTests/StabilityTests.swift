import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

/// Safe delivery confirmed by one pass of the token (`Ring.confirmStability`): the daemon before
/// the aru's setter knows every member holds everything up to the aru, and the token carries
/// that on. Packets take 100 µs a hop in the harness.
@Suite struct StabilityTests {
    let hop: Instant = 100_000

    func idleRing(confirmInOnePass: Bool, announce: Bool = true) -> RingHarness {
        var options = RingOptions()
        options.confirmStabilityInOnePass = confirmInOnePass
        options.announceStability = announce
        return .formed(options: options)
    }

    /// A safe message from the representative (daemon 1): daemon 3, the one before it, delivers
    /// it when the token first reaches it (two hops), where the two-visit rule alone needs a
    /// whole rotation more (five hops). Every daemon still delivers it, once.
    @Test func theDaemonBeforeTheSetterDeliversSafeMessagesAfterOnePass() {
        for confirm in [true, false] {
            var harness = idleRing(confirmInOnePass: confirm, announce: false)
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

    /// Daemon 3 confirms the stability and announces it: daemon 2 delivers a hop after daemon 3
    /// (three hops), not when the token next reaches it (four).
    @Test func theConfirmingDaemonAnnouncesStabilityToTheOthers() {
        for announce in [true, false] {
            var harness = idleRing(confirmInOnePass: true, announce: announce)
            let start = harness.now
            harness.submit(1, .safe, "safe")
            harness.run(until: start + 12 * hop)
            for node: UInt32 in [1, 2, 3] { #expect(harness.payloads(node) == ["safe"]) }
            let atTwo = harness.deliveredAt[NodeID(2)]!["safe"]! - start
            if announce {
                #expect(atTwo <= 3 * hop + 10_000, "daemon 2 delivered after \(atTwo) ns")
            } else {
                #expect(atTwo > 3 * hop + 10_000, "without announcements daemon 2 waits for the token")
            }
        }
    }

    /// Once every member has heard a safe message is stable, the representative holds the token:
    /// the next safe message, submitted when the first is delivered at the sender, goes out at
    /// once (daemon 3 delivers it two hops later), not after the token came round (five).
    @Test func theRepresentativeHoldsTheTokenOnceStabilityIsAnnounced() {
        for announce in [true, false] {
            var harness = idleRing(confirmInOnePass: true, announce: announce)
            let start = harness.now
            harness.submit(1, .safe, "first")
            while harness.deliveredAt[NodeID(1)]?["first"] == nil, harness.now < start + 20 * hop {
                harness.run(until: harness.now + 1_000)
            }
            let second = harness.now
            harness.submit(1, .safe, "second")
            harness.run(until: second + 20 * hop)
            for node: UInt32 in [1, 2, 3] { #expect(harness.payloads(node) == ["first", "second"]) }
            let atThree = harness.deliveredAt[NodeID(3)]!["second"]! - second
            if announce {
                #expect(atThree <= 2 * hop + 10_000, "daemon 3 delivered the second after \(atThree) ns")
            } else {
                #expect(atThree > 4 * hop, "without announcements the token was on its way round")
            }
        }
    }

    /// An announcement naming a seq the daemon lacks cannot come from an honest member (each one
    /// passed the token on with an aru that high): it is refused and counted, and delivers
    /// nothing. One for another ring, or from a non-member, is ignored.
    @Test func anImplausibleAnnouncementIsRefused() {
        var harness = idleRing(confirmInOnePass: true)
        harness.cut = [[1, 3]]  // daemon 3 lacks daemon 1's packet
        harness.submit(1, .safe, "safe")
        harness.run(until: harness.now + 3 * hop)
        let ring = harness.rings[NodeID(3)]!.ringID
        let high = harness.rings[NodeID(1)]!.installed!.highSeq
        #expect(harness.rings[NodeID(3)]!.installed!.myAru < high)
        let before = harness.rings[NodeID(3)]!.counters.implausiblePackets
        for forged in [
            StableMessage(sender: NodeID(2), ringID: ring, stableSeq: high),
            StableMessage(sender: NodeID(9), ringID: ring, stableSeq: 0),
            StableMessage(sender: NodeID(2), ringID: RingID(seq: ring.seq + 1, representative: NodeID(1)), stableSeq: 0),
        ] {
            harness.apply(NodeID(3)) { r, actions, now in r.receive(.stable(forged), now: now, into: &actions) }
        }
        #expect(harness.rings[NodeID(3)]!.counters.implausiblePackets == before + 1)
        #expect(harness.payloads(3).isEmpty)
        harness.cut = []
        harness.run(until: harness.now + 40 * hop)
        for node: UInt32 in [1, 2, 3] { #expect(harness.payloads(node) == ["safe"]) }
    }
}
