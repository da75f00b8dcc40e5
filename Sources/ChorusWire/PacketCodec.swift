import NIOCore

/// Encodes and decodes `Packet`s: the framing shared by every packet type.
///
/// Layout, integers big endian:
///
///     magic u16 (0xC405) | version u8 (5) | type u8 | bodyLength u32 | body | crc32c u32
///
/// The CRC covers every byte before it. `decode` checks, in order: magic, version, type,
/// that `bodyLength` is exactly the bytes between header and trailer, the CRC, then every
/// field of the body (see `validate(_:)` for the rules beyond field syntax). It never traps,
/// never reads out of bounds and allocates only in proportion to bytes actually present.
///
/// The encoding is canonical: whenever `decode(bytes)` succeeds, re-encoding the result gives
/// `bytes` again.
public enum PacketCodec {
    /// The first two bytes of every packet.
    public static let magic: UInt16 = 0xC405
    /// The format version this build writes and reads (3: causal data packets carry `causalPast`,
    /// the token carries `barrierSeq`; 4: commit member entries carry `committedSenders`; 5: the
    /// token carries `aruSetter` and `stableSeq`; 6: stability announcements, `Packet.stable`).
    public static let version: UInt8 = 6
    /// Bytes before the body: magic, version, type, body length.
    public static let headerSize = WireFrame.headerSize
    /// Bytes after the body: the CRC32C.
    public static let trailerSize = WireFrame.trailerSize
    /// Framing bytes around every body.
    public static let overhead = headerSize + trailerSize

    /// The type byte of each packet case.
    @usableFromInline
    enum PacketType: UInt8 {
        case data = 1
        case token = 2
        case join = 3
        case commit = 4
        case leave = 5
        case wake = 6
        case stable = 7
    }

    /// Exactly how many bytes `encode(_:into:)` writes for `packet`.
    public static func encodedSize(_ packet: Packet) -> Int {
        overhead + bodySize(packet)
    }

    /// Appends the encoding of `packet` at the writer index of `buffer`, reserving capacity once.
    ///
    /// `packet` must satisfy `validate(_:)` (checked by assertion in debug builds) and the
    /// `WireLimits` (always checked: a violation traps, it is a programmer error).
    public static func encode(_ packet: Packet, into buffer: inout ByteBuffer) {
        assert(isValid(packet), "encoding an invalid packet: \(packet)")
        WireFrame.write(
            magic: magic, version: version, type: packetType(packet).rawValue, bodyLength: bodySize(packet), into: &buffer
        ) { buffer in
            switch packet {
            case .data(let data): writeData(data, into: &buffer)
            case .token(let token): writeToken(token, into: &buffer)
            case .join(let join): writeJoin(join, into: &buffer)
            case .commit(let commit): writeCommit(commit, into: &buffer)
            case .leave(let leave): writeSenderAndRing(sender: leave.sender, ringID: leave.ringID, into: &buffer)
            case .wake(let wake): writeSenderAndRing(sender: wake.sender, ringID: wake.ringID, into: &buffer)
            case .stable(let stable):
                writeSenderAndRing(sender: stable.sender, ringID: stable.ringID, into: &buffer)
                buffer.writeInteger(stable.aru)
                buffer.writeInteger(stable.stableSeq)
            }
        }
    }

    /// The encoding of `packet` in a new buffer of exactly the right capacity.
    public static func encode(_ packet: Packet, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: encodedSize(packet))
        encode(packet, into: &buffer)
        return buffer
    }

    /// Decodes one packet from all readable bytes of `buffer`.
    ///
    /// `DataPacket.body` is a zero-copy slice of `buffer` (it keeps `buffer`'s storage alive).
    public static func decode(_ buffer: ByteBuffer) throws(WireError) -> Packet {
        let (typeByte, bodyReader) = try WireFrame.open(buffer, magic: magic, version: version) {
            PacketType(rawValue: $0) != nil
        }
        let type = PacketType(rawValue: typeByte)!
        var body = bodyReader
        let packet: Packet
        switch type {
        case .data: packet = .data(try readData(&body))
        case .token: packet = .token(try readToken(&body))
        case .join: packet = .join(try readJoin(&body))
        case .commit: packet = .commit(try readCommit(&body))
        case .leave:
            let (sender, ringID) = try readSenderAndRing(&body)
            packet = .leave(LeaveMessage(sender: sender, ringID: ringID))
        case .wake:
            let (sender, ringID) = try readSenderAndRing(&body)
            packet = .wake(WakeMessage(sender: sender, ringID: ringID))
        case .stable:
            let (sender, ringID) = try readSenderAndRing(&body)
            let aru = try body.read(UInt64.self, "stable.aru")
            let stableSeq = try body.read(UInt64.self, "stable.stableSeq")
            packet = .stable(StableMessage(sender: sender, ringID: ringID, aru: aru, stableSeq: stableSeq))
        }
        try body.expectEnd("packet body")
        try validate(packet)
        return packet
    }

    /// Checks the rules a packet must follow beyond field syntax; `decode` rejects packets that break them.
    ///
    /// - Data: `seq == 0` exactly when `service == .unreliable`; sequenced packets have `senderIndex >= 1`.
    ///   `.packed`: `messageCount >= 1`, `totalLength == 0`, and the body is exactly `messageCount`
    ///   u32-length-prefixed records (see `PackedBody`). `.first`: `messageCount == 1`, non-empty body,
    ///   `body.readableBytes < totalLength <= WireLimits.maxMessageSize`. `.middle`/`.last`:
    ///   `messageCount == 1`, `totalLength == 0`, non-empty body. With `isRecovery` the body is instead
    ///   one whole encoded old-ring packet (no record prefix): `.packed`, `messageCount == 1`,
    ///   `totalLength == 0`, at least `overhead` bytes; its content is checked when it is decoded.
    ///   `causalPast < seq` for a causal packet, 0 for any other.
    /// - Token: `aru <= seq`; `barrierSeq <= seq`; every retransmit request in `1...seq`; at most
    ///   `maxRetransmitRequests`.
    /// - Join: `procSet`, `failSet` strictly ascending, at most `maxMembers` each; `maxRingSeq >= ringID.seq`.
    /// - Stable: `stableSeq <= aru`.
    /// - Commit: `members` non-empty, strictly ascending, at most `maxMembers`; `memberInfo.count ==
    ///   members.count`; each `committedSenders` strictly ascending, at most `maxMembers`; `rotation` 1 or 2;
    ///   `position < members.count`.
    public static func validate(_ packet: Packet) throws(WireError) {
        switch packet {
        case .data(let data): try validateData(data)
        case .token(let token): try validateToken(token)
        case .join(let join): try validateJoin(join)
        case .commit(let commit): try validateCommit(commit)
        case .stable(let stable):
            guard stable.stableSeq <= stable.aru else {
                throw .invalidField("stable.stableSeq", reason: "stable \(stable.stableSeq) above aru \(stable.aru)")
            }
        case .leave, .wake: break
        }
    }

    static func isValid(_ packet: Packet) -> Bool {
        do throws(WireError) {
            try validate(packet)
            return true
        } catch {
            return false
        }
    }

    @usableFromInline
    static func packetType(_ packet: Packet) -> PacketType {
        switch packet {
        case .data: .data
        case .token: .token
        case .join: .join
        case .commit: .commit
        case .leave: .leave
        case .wake: .wake
        case .stable: .stable
        }
    }

    /// The most bytes a token, commit token or join message can take in a site of `members`
    /// daemons whose tokens carry at most `retransmitRequests` requests. Receive buffers must hold
    /// this as well as the largest data datagram: these can exceed the configured datagram size.
    public static func largestControlPacket(members: Int, retransmitRequests: Int) -> Int {
        overhead
            + max(
                tokenFixedSize + 8 * retransmitRequests, commitFixedSize + (commitMemberSize + 4 * members) * members,
                joinFixedSize + 4 * 2 * members)
    }

    static func bodySize(_ packet: Packet) -> Int {
        switch packet {
        case .data(let data): dataBodySize(data)
        case .token(let token): tokenFixedSize + 8 * token.retransmitRequests.count
        case .join(let join): joinFixedSize + 4 * (join.procSet.count + join.failSet.count)
        case .commit(let commit):
            commitFixedSize + commitMemberSize * commit.members.count
                + 4 * commit.memberInfo.reduce(0) { $0 + $1.committedSenders.count }
        case .leave, .wake: senderAndRingSize
        case .stable: senderAndRingSize + 16
        }
    }

    /// Strictly ascending: sorted with no duplicates.
    static func checkStrictlyAscending<ID: Comparable>(_ ids: some Sequence<ID>, _ field: String) throws(WireError) {
        var previous: ID?
        for id in ids {
            if let previous, !(previous < id) {
                throw .invalidField(field, reason: "not sorted ascending without duplicates (\(previous) then \(id))")
            }
            previous = id
        }
    }

    static func checkLimit(_ count: Int, _ field: String, _ limit: Int) throws(WireError) {
        guard count <= limit else { throw .tooMany(field, count: count, limit: limit) }
    }
}
