import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

/// Scripts of inputs and the actions the ring must answer with.
@Suite struct RingTests {
    let second: Instant = 1_000_000_000

    @Test func loneDaemonInstallsSingletonAfterConsensusTimeout() {
        var ring = Ring(me: NodeID(1), site: [NodeID(1), NodeID(2)])
        var actions: [RingAction] = []
        ring.start(now: 0, into: &actions)
        // Gather: a join to the site, and the join and consensus timers.
        #expect(actions.contains { if case .send(.join, .site) = $0 { true } else { false } })
        #expect(actions.contains { if case .setTimer(.consensus, _) = $0 { true } else { false } })
        #expect(ring.phase == .gather)
        actions.removeAll()
        ring.timerFired(.consensus, now: 1, into: &actions)  // too early: ignored
        #expect(actions.isEmpty)
        ring.timerFired(.consensus, now: ring.options.consensusTimeout, into: &actions)
        // d2 never answered: it is failed, and the singleton ring's token goes to d1 itself.
        #expect(ring.phase == .recovery || ring.phase == .operational)
        #expect(actions.contains { if case .send(.token, .node(NodeID(1))) = $0 { true } else { false } })
    }

    @Test func threeDaemonsFormOneRingAndAgreeOnOrder() {
        var harness = RingHarness(nodes: [1, 2, 3])
        harness.start()
        harness.run(until: second)
        for node: UInt32 in [1, 2, 3] {
            #expect(harness.lastRegular(node)?.members == [NodeID(1), NodeID(2), NodeID(3)])
        }
        for index in 0..<20 {
            harness.submit(UInt32(1 + index % 3), index % 2 == 0 ? .agreed : .safe, "m\(index)")
        }
        harness.run(until: 2 * second)
        let reference = harness.payloads(1)
        #expect(reference.count == 20)
        #expect(harness.payloads(2) == reference)
        #expect(harness.payloads(3) == reference)
    }

    @Test func gracefulLeaveReconfiguresAtOnceWithTransitional() {
        var harness = RingHarness(nodes: [1, 2, 3])
        harness.start()
        harness.run(until: second)
        harness.apply(NodeID(3)) { ring, actions, now in ring.leave(now: now, into: &actions) }
        // Far less than the token timeout.
        harness.run(until: second + harness.rings[NodeID(1)]!.options.tokenTimeout / 2)
        for node: UInt32 in [1, 2] {
            let changes = harness.configurations[NodeID(node)]!.suffix(2)
            #expect(changes.first?.kind == .transitional)
            #expect(changes.first?.members == [NodeID(1), NodeID(2)])
            #expect(changes.last?.kind == .regular)
            #expect(changes.last?.members == [NodeID(1), NodeID(2)])
        }
    }

    /// One ring log fed packets by hand, with what it delivered.
    struct LogScript {
        static let ring = RingID(seq: 1, representative: NodeID(1))
        var log: RingLog
        var actions: [RingAction] = []

        init(members: Int) {
            log = RingLog(
                ringID: Self.ring, members: (1...members).map { NodeID(UInt32($0)) }, me: NodeID(1),
                deliveryEnabled: true, maxMessageSize: 1 << 20, window: 1000)
        }

        /// Stores a one-message packet and runs the delivery rules, as on receipt.
        mutating func receive(
            _ seq: UInt64, from sender: UInt32, index: UInt64, _ service: Service, past: UInt64 = 0,
            recovery: Bool = false, _ text: String
        ) {
            var body = ByteBuffer()
            PackedBody.append(ByteBuffer(string: text), to: &body)
            _ = log.insert(DataPacket(
                ringID: Self.ring, sender: NodeID(sender), seq: seq, senderIndex: index, causalPast: past,
                service: service, fragment: .packed, isRecovery: recovery, messageCount: 1, body: body))
            log.deliverAfterInsert(seq: seq, into: &actions)
        }

        var delivered: [String] {
            actions.compactMap { if case .deliver(let d) = $0 { String(buffer: d.payload) } else { nil } }
        }
    }

    @Test func fifoIsNotHeldBackByAnotherSendersLoss() {
        var script = LogScript(members: 2)
        // Seq 1 (agreed, from d1) is lost; seq 2 (fifo, from d2) must still be delivered.
        script.receive(2, from: 2, index: 1, .fifo, "fifo")
        script.receive(3, from: 1, index: 2, .agreed, "agreed-late")
        #expect(script.delivered == ["fifo"])
        script.receive(1, from: 1, index: 1, .agreed, "agreed")
        #expect(script.delivered == ["fifo", "agreed", "agreed-late"])
    }

    /// A causal packet waits only for its causal past: another sender's loss outside it does not
    /// hold it back, one inside it does, and the sender's own order is kept.
    @Test func causalWaitsOnlyForItsCausalPast() {
        var script = LogScript(members: 3)
        // Seq 1 (agreed, from d1) is lost for now.
        script.receive(2, from: 2, index: 1, .causal, past: 0, "c2")  // its sender had delivered nothing
        script.receive(3, from: 3, index: 1, .causal, past: 0, "c3")
        #expect(script.log.causalHorizon == 3)
        script.receive(4, from: 2, index: 2, .causal, past: 2, "c4")  // may follow seq 1: waits
        script.receive(5, from: 3, index: 2, .fifo, "f5")
        script.receive(6, from: 3, index: 3, .causal, past: 3, "c6")  // may follow seq 1: waits
        #expect(script.delivered == ["c2", "c3", "f5"])
        script.receive(1, from: 1, index: 1, .agreed, "a1")
        #expect(script.delivered == ["c2", "c3", "f5", "a1", "c4", "c6"])
        #expect(script.log.causalHorizon == 6)
    }

    /// Recovery packets take places in their sender's order; once the cursor passes them, that
    /// sender's fifo packets go early again (they once waited for the cursor for the whole ring,
    /// and the chain's table grew by one entry per packet).
    @Test func fifoGoesEarlyAfterRecoveryPackets() {
        var script = LogScript(members: 2)
        script.receive(1, from: 2, index: 1, .agreed, recovery: true, "old")
        script.receive(2, from: 2, index: 2, .agreed, recovery: true, "old")
        // Seq 3 (agreed, from d1) is lost; d2's fifo packet after it still goes at once.
        script.receive(4, from: 2, index: 3, .fifo, "fifo")
        #expect(script.delivered == ["fifo"])
    }

    /// The test switch delivers causal packets without their causal past (for checker tests).
    @Test func causalSwitchBreaksTheRule() {
        var script = LogScript(members: 2)
        script.log.brokenRules.causalPast = true
        script.receive(2, from: 2, index: 1, .causal, past: 1, "c2")
        #expect(script.delivered == ["c2"])
    }

    @Test func safeWaitsForStability() {
        var log = RingLog(
            ringID: RingID(seq: 1, representative: NodeID(1)), members: [NodeID(1)], me: NodeID(1), deliveryEnabled: true,
            maxMessageSize: 1 << 20, window: 1000)
        var actions: [RingAction] = []
        var body = ByteBuffer()
        PackedBody.append(ByteBuffer(string: "safe"), to: &body)
        _ = log.insert(DataPacket(
            ringID: log.ringID, sender: NodeID(1), seq: 1, senderIndex: 1, service: .safe, fragment: .packed,
            messageCount: 1, body: body))
        log.deliverAfterInsert(seq: 1, into: &actions)
        #expect(deliveredTexts(actions).isEmpty)
        log.stableSeq = 1
        log.advanceCursor(into: &actions)
        #expect(deliveredTexts(actions) == ["safe"])
    }

    /// Forged or corrupt numbers (a CRC-valid packet can still lie) never crash or hang a daemon.
    @Test func hostileSeqsAreRefusedWithoutAllocation() {
        var harness = RingHarness(nodes: [1, 2])
        harness.start()
        harness.run(until: second)
        let ring = harness.rings[NodeID(1)]!.ringID
        var body = ByteBuffer()
        PackedBody.append(ByteBuffer(string: "x"), to: &body)
        let far = DataPacket(
            ringID: ring, sender: NodeID(2), seq: UInt64.max - 1, senderIndex: 1, service: .agreed, fragment: .packed,
            messageCount: 1, body: body)
        harness.apply(NodeID(1)) { r, actions, now in r.receive(.data(far), now: now, into: &actions) }
        let token = Token(
            ringID: ring, tokenSeq: UInt64.max, seq: UInt64.max, aru: UInt64.max, aruID: nil, retransmitRequests: [],
            fcc: 0, backlog: 0, idleRotations: 0, recoveryPending: 0, barrierSeq: 0)
        harness.apply(NodeID(1)) { r, actions, now in r.receive(.token(token), now: now, into: &actions) }
        // The ring survives: it either ignores the lie or re-forms, and keeps delivering.
        harness.run(until: 3 * second)
        harness.submit(2, .agreed, "after")
        harness.run(until: 4 * second)
        #expect(harness.payloads(1).contains("after"))
        #expect(harness.payloads(2).contains("after"))
    }

    /// An idle ring does not spin its token at full speed, and a message submitted into it is
    /// delivered at once (the wake-up), not after an idle hold.
    @Test func idleRingIsCheapAndWakesAtOnce() {
        var harness = RingHarness(nodes: [1, 2, 3])
        harness.start()
        harness.run(until: second)
        let before = harness.packetsSent
        harness.run(until: 11 * second)
        let perSecond = (harness.packetsSent - before) / 10
        // Spinning would be one hop per 100 µs latency: 10,000 packets a second.
        #expect(perSecond < 300, "an idle ring of 3 sent \(perSecond) packets a second")
        let submitted = harness.now + 7_000_000  // somewhere inside an idle hold
        harness.run(until: submitted)
        harness.submit(2, .agreed, "wake")
        harness.run(until: submitted + 2_000_000)
        for node: UInt32 in [1, 2, 3] { #expect(harness.payloads(node).contains("wake")) }
    }

    private func deliveredTexts(_ actions: [RingAction]) -> [String] {
        actions.compactMap { if case .deliver(let d) = $0 { String(buffer: d.payload) } else { nil } }
    }
}

/// Flow control shares the window by backlog, so every daemon of a busy ring sends.
@Suite struct FlowControlFairnessTests {
    /// Eight daemons flat out with 1000-byte messages (one a packet): without the backlog share
    /// the first daemons of each rotation took the window (60 a visit each) and daemons 4 to 7
    /// never sent while the others had a backlog.
    @Test func everyDaemonOfABusyRingSends() {
        let nodes: [UInt32] = Array(1...8)
        var harness = RingHarness(nodes: nodes)
        harness.latency = 10_000
        harness.start()
        harness.run(until: 1_000_000_000)
        let payload = String(repeating: "x", count: 1000)
        var submitted = [UInt32: Int]()
        // Top every queue up to 200 messages every 50 µs (a rotation of 8 takes 80 µs): no queue
        // ever runs dry, as with senders flat out.
        for step in 0..<100 {
            for node in nodes {
                while harness.rings[NodeID(node)]!.pendingMessages < 200 {
                    submitted[node, default: 0] += 1
                    harness.submit(node, .agreed, "\(node) \(payload)")
                }
            }
            harness.run(until: 1_000_000_000 + UInt64(step + 1) * 50_000)
        }
        let delivered = harness.payloads(1)
        for node in nodes {
            let mine = delivered.filter { $0.hasPrefix("\(node) ") }.count
            #expect(mine * 16 >= delivered.count, "daemon \(node) sent \(mine) of \(delivered.count) messages delivered")
        }
    }
}
