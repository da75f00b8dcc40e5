import ChorusWire
import NIOCore
import Testing

@Suite("Packet codec round trips")
struct PacketCodecTests {
    static let ring = RingID(seq: 42, representative: NodeID(3))

    static func roundTrip(_ packet: Packet, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let encoded = PacketCodec.encode(packet)
        #expect(encoded.readableBytes == PacketCodec.encodedSize(packet), sourceLocation: sourceLocation)
        let decoded = try PacketCodec.decode(encoded)
        #expect(decoded == packet, sourceLocation: sourceLocation)
        #expect(PacketCodec.encode(decoded) == encoded, sourceLocation: sourceLocation)
    }

    static func packedBody(_ messages: [[UInt8]]) -> ByteBuffer {
        var body = ByteBuffer()
        for message in messages { PackedBody.append(ByteBuffer(bytes: message), to: &body) }
        return body
    }

    @Test func headerLayout() {
        let packet = Packet.wake(WakeMessage(sender: NodeID(1), ringID: Self.ring))
        let bytes = PacketCodec.encode(packet).bytes
        #expect(bytes[0..<8] == [0xC4, 0x05, 6, 6, 0, 0, 0, 16])
        #expect(bytes.count == 8 + 16 + 4)
        let crc = bytes[(bytes.count - 4)...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(crc == CRC32C.checksum(bytes[..<(bytes.count - 4)]))
    }

    @Test func packedData() throws {
        for service in Service.allCases {
            let seq: UInt64 = service == .unreliable ? 0 : 17
            try Self.roundTrip(.data(DataPacket(
                ringID: Self.ring, sender: NodeID(2), seq: seq, senderIndex: service == .unreliable ? 0 : 5,
                service: service, fragment: .packed, messageCount: 3, body: Self.packedBody([[1, 2], [], [3]])
            )))
        }
        // The largest message count.
        let many = [[UInt8]](repeating: [], count: Int(UInt16.max))
        try Self.roundTrip(.data(DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 1, senderIndex: 1, service: .agreed, fragment: .packed,
            messageCount: UInt16.max, body: Self.packedBody(many)
        )))
    }

    @Test func fragmentsAndRecovery() throws {
        let piece = ByteBuffer(bytes: Array(repeating: 0xAB, count: 1000))
        try Self.roundTrip(.data(DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: UInt64.max, senderIndex: UInt64.max, service: .safe,
            fragment: .first, messageCount: 1, totalLength: 2500, body: piece
        )))
        try Self.roundTrip(.data(DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 9, senderIndex: 4, service: .safe, fragment: .middle,
            messageCount: 1, body: piece
        )))
        try Self.roundTrip(.data(DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 10, senderIndex: 5, service: .safe, fragment: .last,
            messageCount: 1, body: ByteBuffer(bytes: [7])
        )))
        // A recovery packet's body is one whole encoded old-ring packet.
        let oldPacket = Packet.data(DataPacket(
            ringID: RingID(seq: 41, representative: NodeID(1)), sender: NodeID(1), seq: 3, senderIndex: 1,
            service: .agreed, fragment: .packed, messageCount: 1, body: Self.packedBody([[1, 2, 3]])
        ))
        let recovery = DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 1, senderIndex: 1, service: .agreed, fragment: .packed,
            isRecovery: true, messageCount: 1, body: PacketCodec.encode(oldPacket)
        )
        try Self.roundTrip(.data(recovery))
        guard case .data(let decoded) = try PacketCodec.decode(PacketCodec.encode(.data(recovery))) else {
            Issue.record("not data")
            return
        }
        #expect(try PacketCodec.decode(decoded.body) == oldPacket)
        #expect(throws: WireError.self) { try decoded.packedMessages() }
    }

    /// Only causal packets carry causalPast (8 bytes), so the worst datagram, a causal packet with
    /// a full body re-sent inside a recovery packet, still fits 1472 bytes.
    @Test func causalPastTravelsOnlyOnCausalPackets() throws {
        let payload = RingOptionsDefaults.maxPacketPayload
        let causal = DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 9, senderIndex: 4, causalPast: 7, service: .causal,
            fragment: .first, messageCount: 1, totalLength: UInt32(payload * 2),
            body: ByteBuffer(repeating: 1, count: payload))
        try Self.roundTrip(.data(causal))
        var agreed = causal
        agreed.service = .agreed
        agreed.causalPast = 0
        #expect(PacketCodec.encodedSize(.data(causal)) == PacketCodec.encodedSize(.data(agreed)) + 8)
        let recovery = DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 1, senderIndex: 1, service: .agreed, fragment: .packed,
            isRecovery: true, messageCount: 1, body: PacketCodec.encode(.data(causal)))
        let datagram = PacketCodec.encodedSize(.data(recovery))
        #expect(datagram == payload + PacketCodec.recoveryDatagramOverhead)
        #expect(datagram <= 1472)
    }

    /// Receive buffers are sized with `largestControlPacket`: a full token and a commit token of a
    /// large site fit it, though both exceed 1472 bytes, and so does a join naming every daemon.
    @Test func largestControlPacketBoundsTokensCommitsAndJoins() {
        let members = (1...64).map { NodeID(UInt32($0)) }
        let bound = PacketCodec.largestControlPacket(members: members.count, retransmitRequests: 256)
        let token = Packet.token(Token(
            ringID: Self.ring, tokenSeq: 1, seq: 1000, aru: 0, aruID: nil, retransmitRequests: Array(1...256),
            fcc: 0, backlog: 0, idleRotations: 0, recoveryPending: 0, barrierSeq: 0))
        var full = CommitMemberInfo.empty
        full.committedSenders = members
        let commit = Packet.commit(CommitToken(
            ringID: Self.ring, members: members, memberInfo: Array(repeating: full, count: members.count),
            rotation: 1, position: 0))
        let join = Packet.join(JoinMessage(
            sender: NodeID(1), ringID: Self.ring, maxRingSeq: 42, procSet: members, failSet: members))
        for packet in [token, commit] { #expect(PacketCodec.encodedSize(packet) > 1472) }
        for packet in [token, commit, join] { #expect(PacketCodec.encodedSize(packet) <= bound) }
        #expect(PacketCodec.encodedSize(commit) == bound)
    }

    @Test func dataBodyIsZeroCopySlice() throws {
        let encoded = PacketCodec.encode(.data(DataPacket(
            ringID: Self.ring, sender: NodeID(2), seq: 1, senderIndex: 1, service: .fifo, fragment: .middle,
            messageCount: 1, body: ByteBuffer(bytes: Array(0..<200))
        )))
        guard case .data(let data) = try PacketCodec.decode(encoded) else {
            Issue.record("not a data packet")
            return
        }
        let inside = encoded.withUnsafeReadableBytes { whole in
            data.body.withUnsafeReadableBytes { part in
                part.baseAddress! > whole.baseAddress! && part.baseAddress! + part.count <= whole.baseAddress! + whole.count
            }
        }
        #expect(inside)
    }

    @Test func tokens() throws {
        try Self.roundTrip(.token(Token(
            ringID: Self.ring, tokenSeq: 1, seq: 0, aru: 0, aruID: nil, retransmitRequests: [], fcc: 0, backlog: 0,
            idleRotations: 0, recoveryPending: 0, barrierSeq: 0
        )))
        try Self.roundTrip(.token(Token(
            ringID: Self.ring, tokenSeq: .max, seq: 100, aru: 90, aruID: NodeID(0), retransmitRequests: [91, 95, 100],
            fcc: .max, backlog: .max, idleRotations: .max, recoveryPending: 3, barrierSeq: 7
        )))
        let requests = (1...UInt64(WireLimits.maxRetransmitRequests)).map { $0 }
        try Self.roundTrip(.token(Token(
            ringID: Self.ring, tokenSeq: 7, seq: UInt64(requests.count), aru: 0, aruID: NodeID(9),
            retransmitRequests: requests, fcc: 1, backlog: 2, idleRotations: 3, recoveryPending: 0, barrierSeq: 0
        )))
    }

    @Test func joins() throws {
        try Self.roundTrip(.join(JoinMessage(sender: NodeID(1), ringID: .none, maxRingSeq: 0, procSet: [], failSet: [])))
        try Self.roundTrip(.join(JoinMessage(
            sender: NodeID(1), ringID: Self.ring, maxRingSeq: 50, procSet: [NodeID(1), NodeID(2), NodeID(9)],
            failSet: [NodeID(4)]
        )))
        let all = (0..<UInt32(WireLimits.maxMembers)).map(NodeID.init)
        try Self.roundTrip(.join(JoinMessage(sender: NodeID(1), ringID: Self.ring, maxRingSeq: 42, procSet: all, failSet: all)))
    }

    @Test func commits() throws {
        let members = [NodeID(1), NodeID(2), NodeID(5), NodeID(6)]
        let infos = [
            CommitMemberInfo(oldRingID: Self.ring, myAru: 10, highSeq: 12, stableSeq: 8, filled: true),
            .empty,
            CommitMemberInfo(oldRingID: .none, myAru: 0, highSeq: 0, stableSeq: 0, filled: true),
            CommitMemberInfo(
                oldRingID: Self.ring, myAru: 3, highSeq: 9, stableSeq: 2, filled: true,
                committedSenders: [NodeID(1), NodeID(4), NodeID(7)]),
        ]
        try Self.roundTrip(.commit(CommitToken(ringID: Self.ring, members: members, memberInfo: infos, rotation: 1, position: 0)))
        try Self.roundTrip(.commit(CommitToken(ringID: Self.ring, members: members, memberInfo: infos, rotation: 2, position: 2)))
        let all = (0..<UInt32(WireLimits.maxMembers)).map(NodeID.init)
        try Self.roundTrip(.commit(CommitToken(
            ringID: Self.ring, members: all, memberInfo: all.map { _ in .empty }, rotation: 1, position: UInt16(all.count - 1)
        )))
    }

    @Test func leaveAndWake() throws {
        try Self.roundTrip(.leave(LeaveMessage(sender: NodeID(UInt32.max), ringID: RingID(seq: .max, representative: NodeID(.max)))))
        try Self.roundTrip(.wake(WakeMessage(sender: NodeID(0), ringID: .none)))
    }

    @Test func stabilityAnnouncement() throws {
        let stable = Packet.stable(StableMessage(
            sender: NodeID(3), ringID: Self.ring, aru: 0x0102_0304_0506_0709, stableSeq: 0x0102_0304_0506_0708))
        try Self.roundTrip(stable)
        let bytes = PacketCodec.encode(stable).bytes
        #expect(bytes[0..<8] == [0xC4, 0x05, 6, 7, 0, 0, 0, 32])
        #expect(Array(bytes[24..<40]) == [1, 2, 3, 4, 5, 6, 7, 9, 1, 2, 3, 4, 5, 6, 7, 8])
        // A stable seq above the sender's own aru: no honest member writes it.
        let inverted = StableMessage(sender: NodeID(3), ringID: Self.ring, aru: 1, stableSeq: 2)
        #expect(throws: WireError.self) { try PacketCodec.validate(.stable(inverted)) }
        // One byte short of its stable seq: refused, not read past the end.
        var short = PacketCodec.encode(stable)
        short.moveWriterIndex(to: short.writerIndex - 5)
        #expect(throws: WireError.self) { try PacketCodec.decode(short) }
    }

    @Test func randomPackets() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<2000 {
            try Self.roundTrip(Gen.packet(&rng))
        }
    }

    @Test func encodeAppendsAfterExistingBytes() throws {
        let packet = Packet.leave(LeaveMessage(sender: NodeID(4), ringID: Self.ring))
        var buffer = ByteBuffer(bytes: [9, 9, 9])
        buffer.moveReaderIndex(forwardBy: 1)
        PacketCodec.encode(packet, into: &buffer)
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try PacketCodec.decode(buffer) == packet)
    }
}

/// The ring's default packet payload (ChorusCore's `RingOptions`, which this target does not import).
enum RingOptionsDefaults {
    static let maxPacketPayload = 1350
}
