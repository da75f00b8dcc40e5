import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

@Suite struct EngineTests {
    /// A full send queue is a clear, typed refusal before anything is numbered or queued, never a
    /// silent drop of an accepted message.
    @Test func fullQueueRefusesWithBusy() throws {
        var options = RingOptions()
        options.maxPendingMessages = 3
        var engine = Engine(me: NodeID(1), site: [NodeID(1), NodeID(2)], ringOptions: options)
        var actions: [EngineAction] = []
        engine.start(now: 0, into: &actions)  // gathering: nothing is sent yet
        let session = engine.openSession(local: 1)
        for index in 0..<3 {
            let seq = try engine.send(
                session: session, service: .agreed, groups: ["g"], payload: ByteBuffer(string: "\(index)"), now: 0,
                into: &actions)
            #expect(seq == UInt64(index + 1))
        }
        #expect(throws: GroupError(.busy, "3 messages wait for the token")) {
            try engine.send(
                session: session, service: .agreed, groups: ["g"], payload: ByteBuffer(string: "x"), now: 0,
                into: &actions)
        }
        #expect(engine.ring.counters.refusedSubmissions == 0)
    }

    /// With the queue full, joins and leaves wait too (busy), and what the group layer decides on
    /// its own (a disconnect) is still queued: none of them is lost (found in review: they were
    /// refused by the ring and dropped).
    @Test func fullQueueNeverLosesGroupControlMessages() throws {
        var options = RingOptions()
        options.maxPendingMessages = 2
        var engine = Engine(me: NodeID(1), site: [NodeID(1), NodeID(2)], ringOptions: options)
        var actions: [EngineAction] = []
        engine.start(now: 0, into: &actions)
        let session = engine.openSession(local: 1)
        try engine.join(session: session, group: "g", now: 0, into: &actions)
        try engine.send(session: session, service: .agreed, groups: ["g"], payload: ByteBuffer(string: "m"), now: 0, into: &actions)
        #expect(throws: GroupError.self) { try engine.join(session: session, group: "h", now: 0, into: &actions) }
        #expect(throws: GroupError.self) { try engine.leave(session: session, group: "g", now: 0, into: &actions) }
        engine.closeSession(session, now: 0, into: &actions)
        #expect(engine.ring.pendingMessages == 3)  // the disconnect went past the cap
        #expect(engine.ring.counters.refusedSubmissions == 0)
    }

    /// The queue is bounded in bytes too; one message, however large, always fits an empty queue.
    @Test func fullQueueInBytesRefusesWithBusy() throws {
        var options = RingOptions()
        options.maxPendingBytes = 10_000
        var engine = Engine(me: NodeID(1), site: [NodeID(1), NodeID(2)], ringOptions: options)
        var actions: [EngineAction] = []
        engine.start(now: 0, into: &actions)
        let session = engine.openSession(local: 1)
        try engine.send(session: session, service: .agreed, groups: ["g"], payload: ByteBuffer(repeating: 1, count: 50_000), now: 0, into: &actions)
        #expect(throws: GroupError.self) {
            try engine.send(session: session, service: .agreed, groups: ["g"], payload: ByteBuffer(string: "x"), now: 0, into: &actions)
        }
        #expect(engine.ring.pendingMessages == 1)
    }

    /// The largest payload the group layer accepts still fits the ring with its envelope.
    @Test func acceptedPayloadsAlwaysFitTheRing() throws {
        var options = RingOptions()
        options.maxMessageSize = 64 * 1024
        var engine = Engine(me: NodeID(1), site: [NodeID(1)], ringOptions: options)
        var actions: [EngineAction] = []
        let session = engine.openSession(local: 1)
        let groups = (0..<engine.groups.limits.maxGroupsPerMessage).map {
            "g\($0)" + String(repeating: "x", count: engine.groups.limits.maxGroupNameLength - 5)
        }
        let payload = ByteBuffer(repeating: 7, count: engine.groups.limits.maxPayloadBytes)
        try engine.send(session: session, service: .agreed, groups: groups, payload: payload, now: 0, into: &actions)
        #expect(engine.ring.counters.refusedSubmissions == 0)
        #expect(engine.ring.pendingMessages == 1)
    }
}
