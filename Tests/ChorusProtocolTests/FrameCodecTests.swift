import ChorusProtocol
import ChorusSchema
import NIOCore
import Testing

@Suite struct FrameCodecTests {
    static func cut(_ buffer: ByteBuffer) throws -> [RawFrame] {
        var decoder = FrameDecoder()
        var input = buffer
        var frames: [RawFrame] = []
        while let frame = try decoder.decode(buffer: &input) { frames.append(frame) }
        return frames
    }

    @Test func clientRequestsRoundTrip() throws {
        let requests: [ClientRequest] = [
            .connect(ConnectRequest(name: "alice", membershipNotices: true)),
            .connect(ConnectRequest(name: "b", membershipNotices: false)),
            .connect(ConnectRequest(name: "c", membershipNotices: true, token: "s3cret-s3cret-s3cret")),
            .connect(ConnectRequest(version: 2, name: "old", membershipNotices: true)),
            .join(group: "chat"), .leave(group: "chat"),
            .multicast(MulticastRequest(service: .safe, selfDiscard: true, messageType: 513, groups: ["a", "bb", "#3#d1"], payload: ByteBuffer(string: "hello"))),
            .multicast(MulticastRequest(service: .unreliable, groups: ["x"], payload: ByteBuffer())),
            .disconnect, .status, .reloadKeys,
        ]
        var buffer = ByteBuffer()
        for request in requests { request.encode(into: &buffer) }
        let decoded = try Self.cut(buffer).map { try ClientRequest.decode($0) }
        #expect(decoded == requests)
    }

    @Test func daemonEventsRoundTrip() throws {
        let events: [DaemonEvent] = [
            .welcome(Welcome(privateGroup: "#1#d2", daemon: "d2", maxPayload: 1 << 24)),
            .message(MessageEvent(service: .agreed, messageType: 7, sender: "#1#d2", groups: ["g", "h"], payload: ByteBuffer(string: "payload"))),
            .membership(MembershipEvent(
                group: "g", viewRingSeq: 1 << 40, viewRingRepresentative: 3, viewIndex: 2, kind: .transitional, reason: .network,
                members: ["#1#d1", "#1#d2"], changed: ["#1#d1"])),
            .membership(MembershipEvent(
                group: "g", viewRingSeq: 1 << 40, viewRingRepresentative: 3, viewIndex: 3, kind: .regular, reason: .network,
                members: ["#1#d1", "#1#d3"], changed: ["#1#d1"], added: ["#1#d3"], removed: ["#1#d2"])),
            .error(code: .payloadTooLarge, text: "too big"),
            .statusReply(json: "{\"a\":1}"),
            .refused(Refusal(code: .accessDenied, request: FrameType.join.rawValue, group: "billing", text: "may not join 'billing'")),
        ]
        var buffer = ByteBuffer()
        for event in events { event.encode(into: &buffer) }
        let decoded = try Self.cut(buffer).map { try DaemonEvent.decode($0) }
        #expect(decoded == events)
    }

    @Test func connectVersionsTwoAndThreeAndAnUnknownOne() throws {
        // Version 2 has no token field; a version-2 frame with bytes after the name is malformed.
        var v2 = ByteBuffer(bytes: [0, 0, 0, 6, 0x01, 0, 2, 1, 1, 0x61])
        #expect(try ClientRequest.decode(try Self.cut(v2)[0]) == .connect(ConnectRequest(version: 2, name: "a", membershipNotices: true)))
        v2 = ByteBuffer(bytes: [0, 0, 0, 7, 0x01, 0, 2, 1, 1, 0x61, 0])
        #expect(throws: ProtocolError.self) { try ClientRequest.decode(try Self.cut(v2)[0]) }
        // Version 3 without its token field is truncated.
        let v3 = ByteBuffer(bytes: [0, 0, 0, 6, 0x01, 0, 3, 1, 1, 0x61])
        #expect(throws: ProtocolError.self) { try ClientRequest.decode(try Self.cut(v3)[0]) }
        // An unknown version decodes as far as its name, for the daemon to refuse by version.
        let v9 = ByteBuffer(bytes: [0, 0, 0, 9, 0x01, 0, 9, 1, 1, 0x61, 7, 7, 7])
        guard case .connect(let connect) = try ClientRequest.decode(try Self.cut(v9)[0]) else {
            Issue.record("not a connect")
            return
        }
        #expect(connect.version == 9)
    }

    @Test func framesArriveInPieces() throws {
        var whole = ByteBuffer()
        ClientRequest.join(group: "pieces").encode(into: &whole)
        var decoder = FrameDecoder()
        var input = ByteBuffer()
        for byte in whole.readableBytesView.dropLast() {
            input.writeInteger(byte)
            #expect(try decoder.decode(buffer: &input) == nil)
        }
        input.writeInteger(whole.readableBytesView.last!)
        let frame = try #require(try decoder.decode(buffer: &input))
        #expect(try ClientRequest.decode(frame) == .join(group: "pieces"))
    }

    @Test func hostileLengthsAreRefusedBeforeBuffering() {
        var decoder = FrameDecoder(maxFrameLength: 1024)
        var huge = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x04])
        #expect(throws: ProtocolError.self) { try decoder.decode(buffer: &huge) }
        var zero = ByteBuffer(bytes: [0, 0, 0, 0])
        #expect(throws: ProtocolError.self) { try decoder.decode(buffer: &zero) }
    }

    /// A daemon reads only a small first frame from an unknown client (its connect frame).
    @Test func firstFrameHasItsOwnLimit() throws {
        var decoder = FrameDecoder(maxFrameLength: 1 << 20, maxFirstFrameLength: 16)
        var big = ByteBuffer()
        ClientRequest.join(group: String(repeating: "g", count: 40)).encode(into: &big)
        var first = big
        #expect(throws: ProtocolError.self) { try decoder.decode(buffer: &first) }
        var small = ByteBuffer()
        ClientRequest.connect(ConnectRequest(name: "a", membershipNotices: true)).encode(into: &small)
        small.writeImmutableBuffer(big)
        var fresh = FrameDecoder(maxFrameLength: 1 << 20, maxFirstFrameLength: 16)
        #expect(try fresh.decode(buffer: &small) != nil)
        #expect(try fresh.decode(buffer: &small) != nil)  // later frames: the normal limit
    }

    @Test func malformedBodiesGiveTypedErrors() {
        let cases: [(UInt8, [UInt8], ErrorCode)] = [
            (0x01, [0, 1], .malformedFrame),  // connect cut short
            (0x01, [0, 1, 0x80, 1, 65], .malformedFrame),  // unknown flag
            (0x02, [5, 65], .malformedFrame),  // group name longer than the frame
            (0x02, [1, 0xFF], .malformedFrame),  // not UTF-8
            (0x02, [3, 0xF0, 0x9F, 0x98], .malformedFrame),  // a cut 4-byte sequence
            (0x02, [1, 65, 66], .malformedFrame),  // trailing bytes
            (0x04, [6, 0, 0, 0, 1, 1, 65], .invalidService),
            (0x7E, [], .unknownFrameType),
            (0x82, [], .unknownFrameType),  // a daemon frame sent by a client
        ]
        for (type, body, code) in cases {
            #expect(throws: ProtocolError.self) { try ClientRequest.decode(RawFrame(type: type, body: ByteBuffer(bytes: body))) }
            do {
                _ = try ClientRequest.decode(RawFrame(type: type, body: ByteBuffer(bytes: body)))
            } catch {
                #expect(error.code == code, "type 0x\(String(type, radix: 16)) body \(body): \(error)")
            }
        }
    }

    /// Random bodies for every frame type: decoding returns or throws, never traps.
    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let type = UInt8.random(in: 0...255, using: &generator)
            let body = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? ClientRequest.decode(RawFrame(type: type, body: ByteBuffer(bytes: body)))
            _ = try? DaemonEvent.decode(RawFrame(type: type, body: ByteBuffer(bytes: body)))
        }
    }

    @Test func connectNames() {
        #expect(ConnectRequest.isValidName("alice-1.b_c"))
        #expect(!ConnectRequest.isValidName(""))
        #expect(!ConnectRequest.isValidName("has space"))
        #expect(!ConnectRequest.isValidName(String(repeating: "a", count: 33)))
        #expect(!ConnectRequest.isValidName("#priv"))
    }
}
