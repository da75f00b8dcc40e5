import ChorusVerify
import ChorusWire
import NIOCore
import Testing

@testable import ChorusSimulator

/// The safe checker's ground truth for fragmented messages.
@Suite struct SafeFragmentTrackerTests {
    static let ring = RingID(seq: 7, representative: NodeID(1))
    static let process = ProcessID(daemon: 2, incarnation: 0)
    static let session = SessionID(daemon: NodeID(1), local: 3)

    /// A safe message of `count` fragments from daemon 1, starting at sender index `start`.
    static func fragments(count: Int, start: UInt64, seq: UInt64) -> [DataPacket] {
        let envelope = GroupMessageCodec.encode(.data(ClientData(
            sender: session, sessionSeq: seq, messageType: 0, selfDiscard: false, groups: ["g"],
            payload: ByteBuffer(repeating: 1, count: 100 * count))))
        let piece = envelope.readableBytes / count + 1
        return (0..<count).map { index in
            let kind: FragmentKind = index == 0 ? .first : index == count - 1 ? .last : .middle
            let offset = index * piece
            let body = envelope.getSlice(at: offset, length: min(piece, envelope.readableBytes - offset))!
            return DataPacket(
                ringID: ring, sender: NodeID(1), seq: 100 + start + UInt64(index), senderIndex: start + UInt64(index),
                service: .safe, fragment: kind, messageCount: 1,
                totalLength: kind == .first ? UInt32(envelope.readableBytes) : 0, body: body)
        }
    }

    @Test func completesOnTheLastMissingFragmentInAnyOrder() {
        var tracker = SafeFragmentTracker()
        let packets = Self.fragments(count: 5, start: 4, seq: 9)
        for index in [3, 0, 4, 1] {
            #expect(tracker.receive(packets[index], at: Self.process) == nil)
        }
        #expect(tracker.receive(packets[1], at: Self.process) == nil, "a duplicate completes nothing")
        let expected = MessageID(session: SessionKey(daemon: 1, local: 3), seq: 9)
        #expect(tracker.receive(packets[2], at: Self.process) == expected)
        for packet in packets {
            #expect(tracker.receive(packet, at: Self.process) == nil, "reported once")
        }
    }

    @Test func messagesAndProcessesAreKeptApart() {
        var tracker = SafeFragmentTracker()
        let first = Self.fragments(count: 3, start: 1, seq: 1)
        let second = Self.fragments(count: 2, start: 4, seq: 2)
        let other = ProcessID(daemon: 3, incarnation: 0)
        #expect(tracker.receive(first[0], at: Self.process) == nil)
        #expect(tracker.receive(first[2], at: Self.process) == nil)
        #expect(tracker.receive(first[1], at: other) == nil)
        #expect(tracker.receive(second[0], at: Self.process) == nil)
        #expect(tracker.receive(second[1], at: Self.process)?.seq == 2)
        #expect(tracker.receive(first[1], at: Self.process)?.seq == 1)
    }
}
