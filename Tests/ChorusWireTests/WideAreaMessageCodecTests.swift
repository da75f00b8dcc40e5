import ChorusWire
import NIOCore
import Testing

/// The order layer's messages: round trips, and every malformed input refused with an error.
@Suite struct WideAreaMessageCodecTests {
    static let data = WideAreaMessage.data(
        WideAreaData(
            origin: SiteID(3), seq: 42, lamport: 1_800_000_000_000_000_000, service: .safe, sender: NodeID(9),
            payload: ByteBuffer(bytes: [1, 1, 2, 3])))
    static let heartbeat = WideAreaMessage.heartbeat(
        WideAreaHeartbeat(
            origin: SiteID(2), lamport: 77, lastSeq: 5,
            progress: [SiteProgress(site: SiteID(1), received: 9, held: 8), SiteProgress(site: SiteID(2), received: 5, held: 5)]))

    static let unreliable = WideAreaMessage.data(
        WideAreaData(origin: SiteID(1), seq: 0, lamport: 0, service: .unreliable, sender: NodeID(2), payload: ByteBuffer(bytes: [1, 1])))

    static let snapshot = WideAreaMessage.state(
        WideAreaSnapshot(
            requester: NodeID(4), takenAt: NodeID(5), clock: 99, localSeq: 7,
            sites: [.init(site: SiteID(1), received: 7, promised: 99, held: 6), .init(site: SiteID(3), received: 42, promised: 98, held: 40)],
            reports: [.init(reporter: SiteID(3), progress: [SiteProgress(site: SiteID(1), received: 5, held: 4)])],
            waiting: [WideAreaData(origin: SiteID(3), seq: 42, lamport: 98, service: .agreed, sender: NodeID(9), payload: ByteBuffer(bytes: [1, 1]))],
            outbox: [WideAreaData(origin: SiteID(1), seq: 7, lamport: 99, service: .safe, sender: NodeID(4), payload: ByteBuffer(bytes: [1, 1, 5]))]))

    @Test(arguments: [
        WideAreaMessage.tick(stamp: 0), .tick(stamp: .max), data, heartbeat, unreliable, .stateRequest(requester: NodeID(3)), snapshot,
    ])
    func roundTrips(_ message: WideAreaMessage) throws {
        let encoded = WideAreaMessageCodec.encode(message)
        #expect(encoded.readableBytes == WideAreaMessageCodec.encodedSize(message))
        #expect(WideAreaMessageCodec.isWideArea(encoded))
        #expect(try WideAreaMessageCodec.decode(encoded) == message)
    }

    @Test func groupMessagesAreNotWideArea() {
        #expect(!WideAreaMessageCodec.isWideArea(ByteBuffer(bytes: [1, 1, 0])))
        #expect(!WideAreaMessageCodec.isWideArea(ByteBuffer()))
        #expect(GroupMessageCodec.isClientData(ByteBuffer(bytes: [1, 1, 0])))
        #expect(!GroupMessageCodec.isClientData(ByteBuffer(bytes: [1, 2, 0])))
    }

    /// Every prefix of a valid message is refused (truncated), and a trailing byte too.
    @Test(arguments: [WideAreaMessage.tick(stamp: 5), heartbeat, snapshot])
    func truncationAndTrailingBytes(_ message: WideAreaMessage) {
        let encoded = WideAreaMessageCodec.encode(message)
        for length in 0..<encoded.readableBytes {
            #expect(throws: WireError.self) { try WideAreaMessageCodec.decode(encoded.getSlice(at: 0, length: length)!) }
        }
        var longer = encoded
        longer.writeInteger(UInt8(0))
        #expect(throws: WireError.self) { try WideAreaMessageCodec.decode(longer) }
    }

    static func mutated(_ message: WideAreaMessage, at offset: Int, _ bytes: [UInt8]) -> ByteBuffer {
        var encoded = WideAreaMessageCodec.encode(message)
        encoded.setBytes(bytes, at: offset)
        return encoded
    }

    @Test func badFieldsAreRefused() {
        let cases: [(String, ByteBuffer)] = [
            ("marker", Self.mutated(.tick(stamp: 1), at: 0, [1])),
            ("kind", Self.mutated(.tick(stamp: 1), at: 1, [9])),
            ("service", Self.mutated(Self.data, at: 22, [6])),
            ("seq 0", Self.mutated(Self.data, at: 6, [0, 0, 0, 0, 0, 0, 0, 0])),
            ("lamport 0", Self.mutated(Self.data, at: 14, [0, 0, 0, 0, 0, 0, 0, 0])),
            ("unreliable with a seq", Self.mutated(Self.unreliable, at: 13, [1])),
            // held (8) above received (9 → 7)
            ("held above received", Self.mutated(Self.heartbeat, at: 28, [0, 0, 0, 0, 0, 0, 0, 7])),
            // second site 2 → 1: not ascending
            ("sites not ascending", Self.mutated(Self.heartbeat, at: 44, [0, 0, 0, 1])),
            // count 2 → 0xFFFF: more than the bytes hold
            ("count", Self.mutated(Self.heartbeat, at: 22, [0xFF, 0xFF])),
        ]
        for (what, bytes) in cases {
            #expect(throws: WireError.self, "\(what)") { try WideAreaMessageCodec.decode(bytes) }
        }
    }

    /// Random bytes after the marker never trap (they decode or throw).
    @Test func randomInputNeverTraps() {
        var state: UInt64 = 0x9E37_79B9
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 58)
            var buffer = ByteBuffer(bytes: [WideAreaMessageCodec.marker, UInt8(1 + (state >> 40) % 3)])
            for index in 0..<length { buffer.writeInteger(UInt8(truncatingIfNeeded: (state >> UInt64(index % 56)) &+ UInt64(index))) }
            _ = try? WideAreaMessageCodec.decode(buffer)
        }
    }
}
