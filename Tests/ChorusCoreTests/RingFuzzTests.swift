import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

/// Forged packets that decode (anyone on the network can compute a CRC) must never
/// crash, hang or wedge a daemon: random tokens, data, joins, commit tokens and leaves, from
/// members and strangers, with extreme numbers, fed to a working three-daemon ring.
@Suite struct RingFuzzTests {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        /// Mostly small numbers, sometimes extremes.
        mutating func number() -> UInt64 {
            switch next() % 5 {
            case 0: return next() % 8
            case 1: return next() % 5_000
            case 2: return UInt64.max - next() % 4
            case 3: return (1 << 62) &+ next() % 5 &- 2  // at the plausibility limit
            default: return next()
            }
        }
        mutating func node() -> NodeID { NodeID(UInt32(next() % 6)) }
        mutating func nodes() -> [NodeID] { Array(Set((0..<(next() % 5)).map { _ in node() })).sorted() }
    }

    func randomPacket(_ random: inout SplitMix, ring: RingID) -> Packet {
        let ringID = random.next() % 2 == 0 ? ring : RingID(seq: random.number(), representative: random.node())
        switch random.next() % 5 {
        case 0:
            var body = ByteBuffer()
            PackedBody.append(ByteBuffer(string: "forged"), to: &body)
            let fragment = FragmentKind(rawValue: UInt8(random.next() % 4))!
            return .data(DataPacket(
                ringID: ringID, sender: random.node(), seq: random.number(), senderIndex: random.number(),
                service: Service(rawValue: UInt8(random.next() % 6))!, fragment: fragment,
                isRecovery: random.next() % 8 == 0, messageCount: 1,
                totalLength: fragment == .first ? UInt32(truncatingIfNeeded: random.number()) : 0, body: body))
        case 1:
            return .token(Token(
                ringID: ringID, tokenSeq: random.number(), seq: random.number(), aru: random.number(),
                aruID: random.next() % 2 == 0 ? nil : random.node(), retransmitRequests: (0..<(random.next() % 4)).map { _ in random.number() },
                fcc: UInt32(truncatingIfNeeded: random.number()), backlog: UInt32(truncatingIfNeeded: random.number()),
                idleRotations: UInt32(truncatingIfNeeded: random.number()),
                recoveryPending: UInt32(truncatingIfNeeded: random.number()), barrierSeq: 0))
        case 2:
            return .join(JoinMessage(
                sender: random.node(), ringID: ringID, maxRingSeq: random.number(), procSet: random.nodes(),
                failSet: random.nodes()))
        case 3:
            let members = random.nodes()
            let info = members.map { _ in
                CommitMemberInfo(
                    oldRingID: random.next() % 2 == 0 ? ring : ringID, myAru: random.number(), highSeq: random.number(),
                    stableSeq: random.number(), filled: random.next() % 2 == 0)
            }
            return .commit(CommitToken(
                ringID: ringID, members: members, memberInfo: info, rotation: UInt8(random.next() % 3),
                position: UInt16(random.next() % 4)))
        default:
            return .leave(LeaveMessage(sender: random.node(), ringID: ringID))
        }
    }

    /// One forged join from a configured daemon at the plausibility limit: before, every daemon
    /// adopted its ring seq, the next commit token was implausible to all, and the site stayed
    /// apart until every daemon restarted.
    @Test(arguments: [(1 << 62) - 1, 1 << 62, (1 << 62) + 1, 1 << 50] as [UInt64])
    func forgedJoinNearTheLimitDoesNotPoisonTheSite(maxRingSeq: UInt64) {
        var harness = RingHarness(nodes: [1, 2, 3])
        harness.start()
        harness.run(until: 1_000_000_000)
        let ring = harness.rings[NodeID(1)]!.ringID
        let forged = Packet.join(JoinMessage(
            sender: NodeID(2), ringID: ring, maxRingSeq: maxRingSeq, procSet: [NodeID(1), NodeID(2), NodeID(3)],
            failSet: []))
        for node: UInt32 in [1, 3] {
            harness.apply(NodeID(node)) { r, actions, now in r.receive(forged, now: now, into: &actions) }
        }
        harness.run(until: harness.now + 5_000_000_000)
        harness.submit(1, .agreed, "after the forgery")
        harness.run(until: harness.now + 2_000_000_000)
        for node: UInt32 in [1, 2, 3] {
            #expect(harness.rings[NodeID(node)]!.highestRingSeq < 1 << 49, "d\(node)")
            #expect(harness.lastRegular(node)?.members == [NodeID(1), NodeID(2), NodeID(3)], "d\(node)")
            #expect(harness.payloads(node).contains("after the forgery"), "d\(node)")
        }
    }

    /// A leave that names an older ring (delayed on the network from an earlier incarnation of a
    /// member) does not fail that member; one that names the current ring does.
    @Test func delayedLeaveOfAnOldRingIsIgnored() {
        var harness = RingHarness(nodes: [1, 2, 3])
        harness.start()
        harness.run(until: 1_000_000_000)
        let ring = harness.rings[NodeID(1)]!.ringID
        let old = Packet.leave(LeaveMessage(sender: NodeID(2), ringID: RingID(seq: ring.seq - 1, representative: NodeID(2))))
        harness.apply(NodeID(1)) { r, actions, now in r.receive(old, now: now, into: &actions) }
        harness.run(until: harness.now + 2_000_000_000)
        #expect(harness.rings[NodeID(1)]!.ringID == ring)
        let current = Packet.leave(LeaveMessage(sender: NodeID(2), ringID: ring))
        harness.apply(NodeID(1)) { r, actions, now in r.receive(current, now: now, into: &actions) }
        harness.run(until: harness.now + 100_000_000)
        #expect(harness.rings[NodeID(1)]!.ringID != ring)
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func forgedPacketsNeverCrashOrWedge(seed: UInt64) {
        var random = SplitMix(state: seed)
        var harness = RingHarness(nodes: [1, 2, 3])
        harness.start()
        harness.run(until: 1_000_000_000)
        for round in 0..<2_000 {
            let target = NodeID(UInt32(1 + random.next() % 3))
            let ring = harness.rings[target]!.ringID
            let packet = randomPacket(&random, ring: ring)
            // The daemon only ever sees packets that decoded: keep the forgeries the codec accepts.
            guard (try? PacketCodec.validate(packet)) != nil else { continue }
            harness.apply(target) { r, actions, now in r.receive(packet, now: now, into: &actions) }
            if round % 50 == 0 { harness.run(until: harness.now + 5_000_000) }
        }
        // Once the forgeries stop, the three daemons settle into one ring and deliver again.
        harness.run(until: harness.now + 15_000_000_000)
        harness.submit(1, .agreed, "after the storm")
        harness.run(until: harness.now + 2_000_000_000)
        for node: UInt32 in [1, 2, 3] {
            #expect(harness.lastRegular(node)?.members == [NodeID(1), NodeID(2), NodeID(3)], "seed \(seed), d\(node)")
            #expect(harness.payloads(node).contains("after the storm"), "seed \(seed), d\(node)")
        }
    }
}
