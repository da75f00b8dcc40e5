import ChorusWire
import NIOCore
import Testing

@Suite("Packet codec rejects malformed input")
struct PacketCodecErrorTests {
    typealias S = ByteSurgery
    static let ring = RingID(seq: 42, representative: NodeID(3))
    static let wake = Packet.wake(WakeMessage(sender: NodeID(1), ringID: ring))

    static func packed(_ count: Int) -> ByteBuffer {
        var body = ByteBuffer()
        for index in 0..<count { PackedBody.append(ByteBuffer(bytes: [UInt8(index)]), to: &body) }
        return body
    }

    // Data body offsets: service 40, fragment 41, flags 42, messageCount 43, totalLength 45, bodyLength 49, body 53.
    static let data = Packet.data(DataPacket(
        ringID: ring, sender: NodeID(2), seq: 5, senderIndex: 2, service: .agreed, fragment: .packed,
        messageCount: 2, body: packed(2)
    ))
    static let fragment = Packet.data(DataPacket(
        ringID: ring, sender: NodeID(2), seq: 5, senderIndex: 2, service: .agreed, fragment: .first,
        messageCount: 1, totalLength: 100, body: ByteBuffer(bytes: [1, 2, 3])
    ))
    // Token offsets: seq 28, aru 36, hasAruID 44, aruID 45, barrierSeq 65, hasAruSetter 73, aruSetter 74,
    // stableSeq 78, retransmitCount 86, requests 88.
    static let token = Packet.token(Token(
        ringID: ring, tokenSeq: 9, seq: 20, aru: 10, aruID: nil, retransmitRequests: [11, 12], fcc: 1, backlog: 2,
        idleRotations: 0, recoveryPending: 0, barrierSeq: 0
    ))
    // Join offsets: ringID.seq 12, maxRingSeq 24, procCount 32, procSet 34.
    static let join = Packet.join(JoinMessage(
        sender: NodeID(1), ringID: ring, maxRingSeq: 42, procSet: [NodeID(1), NodeID(2), NodeID(3)], failSet: [NodeID(7)]
    ))
    // Commit offsets: rotation 20, position 21, memberCount 23, members 25 (43 bytes each without
    // committed senders; filled at +40, committedCount at +41).
    static let commit = Packet.commit(CommitToken(
        ringID: ring, members: [NodeID(1), NodeID(2)], memberInfo: [.empty, .empty], rotation: 1, position: 1
    ))

    @Test func framing() {
        let good = PacketCodec.encode(Self.wake).bytes
        #expect(S.decode([]) == .failure(.truncated(field: "magic", need: 2, have: 0)))
        var bytes = good
        bytes[0] = 0xC5
        #expect(S.decode(bytes) == .failure(.badMagic(0xC505)))
        bytes = good
        bytes[2] = PacketCodec.version &+ 1
        #expect(S.decode(bytes) == .failure(.unsupportedVersion(PacketCodec.version &+ 1)))
        for old: UInt8 in [1, 2, 5] {  // before causalPast, before barrierSeq, before stability announcements
            bytes[2] = old
            #expect(S.decode(bytes) == .failure(.unsupportedVersion(old)))
        }
        for type: UInt8 in [0, 8, 255] {
            bytes = good
            bytes[3] = type
            #expect(S.decode(bytes) == .failure(.unknownType(type)))
        }
        bytes = good
        S.put(UInt32.max, at: 4, in: &bytes)
        #expect(S.decode(bytes) == .failure(.lengthMismatch(field: "bodyLength", declared: Int(UInt32.max), actual: 16)))
        bytes = good
        bytes[10] ^= 0x40
        guard case .failure(.checksumMismatch) = S.decode(bytes) else {
            Issue.record("flipped bit not caught by the CRC")
            return
        }
        bytes = good
        bytes.insert(0, at: 8 + 16)
        S.fixFraming(&bytes)
        #expect(S.decode(bytes) == .failure(.trailingBytes(field: "packet body", count: 1)))
        #expect(S.decode(Array(good.prefix(11))) == .failure(.truncated(field: "crc32c", need: 4, have: 3)))
    }

    @Test func dataFields() {
        #expect(S.error(Self.data) { _ in } == nil)
        #expect(S.error(Self.data) { $0[40] = 6 } == .invalidField("data.service", reason: "unknown service 6"))
        #expect(S.error(Self.data) { $0[41] = 4 } == .invalidField("data.fragment", reason: "unknown fragment kind 4"))
        #expect(S.error(Self.data) { $0[42] = 2 } == nil)  // sent while holding
        #expect(S.error(Self.data) { $0[42] = 3 }
            == .invalidField("data.flags", reason: "only sequenced client packets are sent while holding the token"))
        #expect(S.error(Self.data) { $0[42] = 4 } == .invalidField("data.flags", reason: "unknown flag bits 0x4"))
        #expect(S.error(Self.data) { S.put(UInt32.max, at: 49, in: &$0) }
            == .lengthMismatch(field: "data.bodyLength", declared: Int(UInt32.max), actual: 10))
        #expect(S.error(Self.data) { S.put(UInt16(3), at: 43, in: &$0) }
            == .lengthMismatch(field: "data.messageCount", declared: 3, actual: 2))
        #expect(S.error(Self.data) { S.put(UInt16(1), at: 43, in: &$0) } != nil)
        #expect(S.error(Self.data) { S.put(UInt16(0), at: 43, in: &$0) } != nil)
        #expect(S.error(Self.data) { S.put(UInt32(1), at: 45, in: &$0) } != nil)
        #expect(S.error(Self.data) { S.put(UInt32.max, at: 53, in: &$0) } != nil)  // record length
        #expect(S.error(Self.data) { S.put(UInt64(0), at: 24, in: &$0) } != nil)  // sequenced with seq 0
        #expect(S.error(Self.data) { S.put(UInt64(0), at: 32, in: &$0) } != nil)  // senderIndex 0
        #expect(S.error(Self.data) { $0[40] = Service.unreliable.rawValue } != nil)  // unreliable with seq 5
        #expect(S.error(Self.fragment) { _ in } == nil)
        #expect(S.error(Self.fragment) { S.put(UInt32(3), at: 45, in: &$0) } != nil)  // total not above piece
        #expect(S.error(Self.fragment) { S.put(UInt32.max, at: 45, in: &$0) }
            == .tooMany("data.totalLength", count: Int(UInt32.max), limit: WireLimits.maxMessageSize))
        #expect(S.error(Self.fragment) { $0[41] = FragmentKind.middle.rawValue } != nil)  // middle with totalLength
        #expect(S.error(Self.fragment) { S.put(UInt16(2), at: 43, in: &$0) } != nil)
        #expect(S.error(Self.fragment) { bytes in  // empty fragment
            bytes.removeLast(3)
            S.put(UInt32(0), at: 49, in: &bytes)
        } != nil)
    }

    @Test func causalPast() {
        let causal = DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 5, senderIndex: 2, causalPast: 4, service: .causal,
            fragment: .packed, messageCount: 1, body: Self.packed(1))
        // causalPast follows totalLength (45): offset 49.
        let error = S.error(.data(causal)) { S.put(UInt64(5), at: 49, in: &$0) }
        #expect(error == .invalidField("data.causalPast", reason: "5 not below the packet's own seq 5"))
        var agreed = causal
        agreed.service = .agreed
        #expect(throws: WireError.invalidField("data.causalPast", reason: "must be 0 unless service is causal")) {
            try PacketCodec.validate(.data(agreed))
        }
    }

    @Test func recoveryFields() {
        let recovery = Packet.data(DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 7, senderIndex: 3, service: .agreed, fragment: .packed,
            isRecovery: true, messageCount: 1, body: PacketCodec.encode(Self.wake)
        ))
        #expect(S.error(recovery) { _ in } == nil)
        #expect(S.error(recovery) { S.put(UInt16(2), at: 43, in: &$0) } != nil)
        #expect(S.error(recovery) { $0[41] = FragmentKind.middle.rawValue } != nil)
        #expect(S.error(recovery) { bytes in  // body too short to be a packet
            bytes.removeLast(bytes.count - 53 - 11)
            S.put(UInt32(11), at: 49, in: &bytes)
        } == .invalidField("data.body", reason: "recovery body of 11 bytes cannot hold a packet"))
    }

    @Test func tokenFields() {
        #expect(S.error(Self.token) { _ in } == nil)
        #expect(S.error(Self.token) { S.put(UInt64(21), at: 36, in: &$0) } != nil)  // aru above seq
        #expect(S.error(Self.token) { $0[44] = 2 } == .invalidField("token.hasAruID", reason: "boolean byte 2"))
        #expect(S.error(Self.token) { $0[48] = 1 } == .invalidField("token.aruID", reason: "absent aruID must be written as 0"))
        #expect(S.error(Self.token) { S.put(UInt64(0), at: 88, in: &$0) } != nil)
        #expect(S.error(Self.token) { S.put(UInt64(21), at: 88, in: &$0) } != nil)
        #expect(S.error(Self.token) { S.put(UInt64(20), at: 65, in: &$0) } == nil)
        #expect(S.error(Self.token) { S.put(UInt64(21), at: 65, in: &$0) }
            == .invalidField("token.barrierSeq", reason: "barrier 21 above seq 20"))
        #expect(S.error(Self.token) { $0[73] = 2 } == .invalidField("token.hasAruSetter", reason: "boolean byte 2"))
        #expect(S.error(Self.token) { $0[77] = 1 }
            == .invalidField("token.aruSetter", reason: "absent aruSetter must be written as 0"))
        #expect(S.error(Self.token) { S.put(UInt64(10), at: 78, in: &$0) } == nil)
        #expect(S.error(Self.token) { S.put(UInt64(11), at: 78, in: &$0) }
            == .invalidField("token.stableSeq", reason: "stable 11 above aru 10"))
        #expect(S.error(Self.token) { S.put(UInt16.max, at: 86, in: &$0) }
            == .tooMany("token.retransmitRequests", count: 65535, limit: WireLimits.maxRetransmitRequests))
        #expect(S.error(Self.token) { S.put(UInt16(3), at: 86, in: &$0) }
            == .tooMany("token.retransmitRequests", count: 3, limit: 2))
        #expect(S.error(Self.token) { S.put(UInt16(1), at: 86, in: &$0) } == .trailingBytes(field: "packet body", count: 8))
    }

    @Test func joinFields() {
        #expect(S.error(Self.join) { _ in } == nil)
        #expect(S.error(Self.join) { S.put(UInt32(3), at: 38, in: &$0) } != nil)  // duplicate
        #expect(S.error(Self.join) { S.put(UInt32(0), at: 42, in: &$0) } != nil)  // descending
        #expect(S.error(Self.join) { S.put(UInt64(41), at: 24, in: &$0) } != nil)  // maxRingSeq below ring
        #expect(S.error(Self.join) { S.put(UInt16.max, at: 32, in: &$0) }
            == .tooMany("join.procSet", count: 65535, limit: WireLimits.maxMembers))
        #expect(S.error(Self.join) { S.put(UInt16(1000), at: 32, in: &$0) }
            == .tooMany("join.procSet", count: 1000, limit: 4))
    }

    @Test func commitFields() {
        #expect(S.error(Self.commit) { _ in } == nil)
        #expect(S.error(Self.commit) { $0[20] = 0 } != nil)
        #expect(S.error(Self.commit) { $0[20] = 3 } != nil)
        #expect(S.error(Self.commit) { S.put(UInt16(2), at: 21, in: &$0) } != nil)
        #expect(S.error(Self.commit) { S.put(UInt32(1), at: 25 + 43, in: &$0) } != nil)  // duplicate member
        #expect(S.error(Self.commit) { $0[25 + 40] = 2 } != nil)
        #expect(S.error(Self.commit) { S.put(UInt16.max, at: 23, in: &$0) }
            == .tooMany("commit.members", count: 65535, limit: WireLimits.maxMembers))
        #expect(S.error(Self.commit) { bytes in  // no members
            S.put(UInt16(0), at: 23, in: &bytes)
            S.put(UInt16(0), at: 21, in: &bytes)
            bytes.removeLast(86)
        } == .invalidField("commit.members", reason: "empty"))
    }

    /// Committed senders (at 25 + 43 in the first member entry) must be strictly ascending.
    @Test func commitCommittedSenders() {
        var info = CommitMemberInfo.empty
        info.committedSenders = [NodeID(1), NodeID(2)]
        let commit = Packet.commit(CommitToken(
            ringID: Self.ring, members: [NodeID(1), NodeID(2)], memberInfo: [info, .empty], rotation: 1, position: 1))
        #expect(S.error(commit) { _ in } == nil)
        #expect(S.error(commit) { S.put(UInt32(1), at: 25 + 47, in: &$0) } != nil)  // duplicate sender
    }

    @Test func truncationAtEveryLength() {
        var rng = SplitMix64(seed: 0x7A0C_0001)
        for _ in 0..<40 {
            let bytes = PacketCodec.encode(Gen.packet(&rng)).bytes
            for length in 0..<bytes.count {
                var cut = Array(bytes[..<length])
                guard case .failure = S.decode(cut) else {
                    Issue.record("truncation to \(length) of \(bytes.count) decoded")
                    continue
                }
                S.fixFraming(&cut)
                // With framing fixed the body is short, so some field must fail (or it is a shorter valid packet).
                if case .success(let packet) = S.decode(cut) {
                    #expect(PacketCodec.encode(packet).bytes == cut)
                }
            }
        }
    }

    @Test func errorsDescribeThemselves() {
        let errors: [WireError] = [
            .truncated(field: "magic", need: 2, have: 0), .badMagic(0xBEEF), .unsupportedVersion(9), .unknownType(7),
            .lengthMismatch(field: "bodyLength", declared: 1, actual: 2), .checksumMismatch(expected: 1, computed: 2),
            .invalidField("x", reason: "y"), .tooMany("z", count: 5, limit: 4), .trailingBytes(field: "w", count: 1),
        ]
        for error in errors {
            #expect(!error.description.isEmpty)
        }
        #expect(WireError.badMagic(0xBEEF).description.contains("beef"))
    }
}
