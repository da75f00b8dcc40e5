import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

/// The ring's plausibility checks on codec-valid packets (Ring+Plausibility.swift).
@Suite struct RingPlausibilityTests {
    func formedRing() -> RingHarness {
        var harness = RingHarness(nodes: [1, 2, 3])
        harness.start()
        harness.run(until: 1_000_000_000)
        return harness
    }

    func expectWholeAndDelivering(_ harness: inout RingHarness, _ text: String) {
        harness.submit(1, .agreed, text)
        harness.run(until: harness.now + 2_000_000_000)
        for node: UInt32 in [1, 2, 3] {
            #expect(harness.lastRegular(node)?.members == [NodeID(1), NodeID(2), NodeID(3)], "d\(node)")
            #expect(harness.payloads(node).contains(text), "d\(node)")
        }
    }

    /// A join far beyond the allowance steps the daemon's ring seq up by what the allowance holds:
    /// it is neither adopted (a forged 2^62 would exhaust ring seqs) nor ignored (a daemon far
    /// behind would never catch up).
    @Test func farJoinIsSteppedUpNotAdoptedOrIgnored() {
        var harness = formedRing()
        let before = harness.rings[NodeID(1)]!.highestRingSeq
        let ring = harness.rings[NodeID(1)]!.ringID
        let far = Packet.join(JoinMessage(
            sender: NodeID(2), ringID: ring, maxRingSeq: before + 3 * Ring.maxRingSeqStep, procSet: [NodeID(1), NodeID(2)],
            failSet: []))
        harness.apply(NodeID(1)) { r, actions, now in r.receive(far, now: now, into: &actions) }
        let after = harness.rings[NodeID(1)]!.highestRingSeq
        // One virtual second up: an allowance of 16 per microsecond, 16 million.
        #expect(after > before + 1_000_000 && after <= before + 20_000_000)
        #expect(harness.rings[NodeID(1)]!.counters.implausiblePackets == 1)
        harness.run(until: harness.now + 5_000_000_000)
        expectWholeAndDelivering(&harness, "after the far join")
    }

    /// Thousands of joins each a full step ahead, within a few virtual seconds, move ring seqs by
    /// what the allowance earned in that time: it refills at 16 per microsecond, not per packet.
    @Test func repeatedFarJoinsCannotExhaustRingSeqs() {
        var harness = formedRing()
        for round in 0..<5_000 {
            for node: UInt32 in [1, 2, 3] {
                let max = harness.rings[NodeID(node)]!.highestRingSeq
                let join = Packet.join(JoinMessage(
                    sender: NodeID(node == 1 ? 2 : 1), ringID: harness.rings[NodeID(node)]!.ringID,
                    maxRingSeq: max + Ring.maxRingSeqStep, procSet: [NodeID(1), NodeID(2), NodeID(3)], failSet: []))
                harness.apply(NodeID(node)) { r, actions, now in r.receive(join, now: now, into: &actions) }
            }
            if round % 100 == 0 { harness.run(until: harness.now + 20_000_000) }
        }
        for node: UInt32 in [1, 2, 3] {
            #expect(harness.rings[NodeID(node)]!.highestRingSeq < 1 << 32, "d\(node)")
        }
        harness.run(until: harness.now + 5_000_000_000)
        expectWholeAndDelivering(&harness, "after the join flood")
    }

    /// A token of the current ring whose token seq is not exactly the next one is refused.
    @Test func tokenWithAnUnexpectedTokenSeqIsRefused() {
        var harness = formedRing()
        let ring = harness.rings[NodeID(2)]!.ringID
        let last = harness.rings[NodeID(2)]!.lastTokenSeq
        let refusedBefore = harness.rings[NodeID(2)]!.counters.implausiblePackets
        for tokenSeq in [last + 4, last + 1_000, UInt64.max] {
            let forged = Packet.token(Token(
                ringID: ring, tokenSeq: tokenSeq, seq: UInt64.max / 2, aru: 0, aruID: nil, retransmitRequests: [], fcc: 0,
                backlog: 0, idleRotations: 0, recoveryPending: 0, barrierSeq: 0))
            harness.apply(NodeID(2)) { r, actions, now in r.receive(forged, now: now, into: &actions) }
        }
        #expect(harness.rings[NodeID(2)]!.counters.implausiblePackets == refusedBefore + 3)
        expectWholeAndDelivering(&harness, "after the forged tokens")
    }

    /// A daemon waiting in commit for its representative's token (no ring id yet) refuses a
    /// second rotation it never saw the first of. Before, it entered the recovery of whatever
    /// ring the forgery named, with an entry it never wrote, and its old log unfrozen.
    @Test func forgedCommitRotationIsRefused() {
        let site = [NodeID(1), NodeID(2), NodeID(3)]
        var ring = Ring(me: NodeID(2), site: site)
        ring.membership = .commit(CommitState(ringID: .none, members: site, lastForwarded: nil, handledRotation: 0))
        let entry = CommitMemberInfo(oldRingID: .none, myAru: 0, highSeq: 0, stableSeq: 0, filled: true)
        let forged = CommitToken(
            ringID: RingID(seq: 7, representative: NodeID(1)), members: site, memberInfo: [entry, entry, entry],
            rotation: 2, position: 1)
        var actions: [RingAction] = []
        ring.receive(.commit(forged), now: 1_000, into: &actions)
        #expect(ring.phase == .commit)
        #expect(ring.counters.implausiblePackets == 1)
    }
}
