import NIOCore

// Data packet body:
//
//     ringID (seq u64, representative u32) | sender u32 | seq u64 | senderIndex u64 | service u8 |
//     fragment u8 | flags u8 (bit 0: isRecovery, bit 1: sentWhileHolding) | messageCount u16 | totalLength u32 |
//     [causalPast u64, only when service is causal] | bodyLength u32 | body

extension PacketCodec {
    static let dataFixedSize = 12 + 4 + 8 + 8 + 1 + 1 + 1 + 2 + 4 + 4
    static let causalPastSize = 8

    /// Bytes a datagram adds around a data packet's body in the worst case: a causal packet
    /// re-sent during membership recovery, whole, inside a (never causal) recovery packet.
    public static let recoveryDatagramOverhead = 2 * (overhead + dataFixedSize) + causalPastSize

    static func dataBodySize(_ data: DataPacket) -> Int {
        dataFixedSize + (data.service == .causal ? causalPastSize : 0) + data.body.readableBytes
    }
    static let recoveryFlag: UInt8 = 0x01
    static let sentWhileHoldingFlag: UInt8 = 0x02

    static func writeData(_ data: DataPacket, into buffer: inout ByteBuffer) {
        buffer.writeRingID(data.ringID)
        buffer.writeInteger(data.sender.rawValue)
        buffer.writeInteger(data.seq)
        buffer.writeInteger(data.senderIndex)
        buffer.writeInteger(data.service.rawValue)
        buffer.writeInteger(data.fragment.rawValue)
        buffer.writeInteger((data.isRecovery ? recoveryFlag : 0) | (data.sentWhileHolding ? sentWhileHoldingFlag : 0))
        buffer.writeInteger(data.messageCount)
        buffer.writeInteger(data.totalLength)
        if data.service == .causal { buffer.writeInteger(data.causalPast) }
        buffer.writeInteger(UInt32(data.body.readableBytes))
        buffer.writeImmutableBuffer(data.body)
    }

    static func readData(_ reader: inout WireReader) throws(WireError) -> DataPacket {
        let ringID = try reader.readRingID("data.ringID")
        let sender = try reader.readNodeID("data.sender")
        let seq = try reader.read(UInt64.self, "data.seq")
        let senderIndex = try reader.read(UInt64.self, "data.senderIndex")
        let serviceByte = try reader.read(UInt8.self, "data.service")
        guard let service = Service(rawValue: serviceByte) else {
            throw .invalidField("data.service", reason: "unknown service \(serviceByte)")
        }
        let fragmentByte = try reader.read(UInt8.self, "data.fragment")
        guard let fragment = FragmentKind(rawValue: fragmentByte) else {
            throw .invalidField("data.fragment", reason: "unknown fragment kind \(fragmentByte)")
        }
        let flags = try reader.read(UInt8.self, "data.flags")
        guard flags & ~(recoveryFlag | sentWhileHoldingFlag) == 0 else {
            throw .invalidField("data.flags", reason: "unknown flag bits 0x\(String(flags, radix: 16))")
        }
        let messageCount = try reader.read(UInt16.self, "data.messageCount")
        let totalLength = try reader.read(UInt32.self, "data.totalLength")
        let causalPast = service == .causal ? try reader.read(UInt64.self, "data.causalPast") : 0
        let bodyLength = Int(try reader.read(UInt32.self, "data.bodyLength"))
        guard bodyLength == reader.remaining else {
            throw .lengthMismatch(field: "data.bodyLength", declared: bodyLength, actual: reader.remaining)
        }
        let body = try reader.readSlice(bodyLength, "data.body")
        return DataPacket(
            ringID: ringID, sender: sender, seq: seq, senderIndex: senderIndex, causalPast: causalPast,
            service: service, fragment: fragment, isRecovery: flags & recoveryFlag != 0,
            sentWhileHolding: flags & sentWhileHoldingFlag != 0, messageCount: messageCount,
            totalLength: totalLength, body: body
        )
    }

    static func validateData(_ data: DataPacket) throws(WireError) {
        guard !data.sentWhileHolding || (data.service != .unreliable && !data.isRecovery) else {
            throw .invalidField("data.flags", reason: "only sequenced client packets are sent while holding the token")
        }
        if data.service == .unreliable {
            guard data.seq == 0 else { throw .invalidField("data.seq", reason: "unreliable packets are unsequenced (seq 0)") }
        } else {
            guard data.seq >= 1 else { throw .invalidField("data.seq", reason: "sequenced packets have seq >= 1") }
            guard data.senderIndex >= 1 else {
                throw .invalidField("data.senderIndex", reason: "sequenced packets have senderIndex >= 1")
            }
        }
        if data.service == .causal {
            guard data.causalPast < data.seq else {
                throw .invalidField("data.causalPast", reason: "\(data.causalPast) not below the packet's own seq \(data.seq)")
            }
        } else {
            guard data.causalPast == 0 else { throw .invalidField("data.causalPast", reason: "must be 0 unless service is causal") }
        }
        let bodyLength = data.body.readableBytes
        if data.isRecovery {
            // The body is one whole encoded old-ring packet, not length-prefixed records; the ring
            // layer decodes it with `PacketCodec.decode`, which checks it (its CRC included).
            guard data.fragment == .packed, data.messageCount == 1, data.totalLength == 0 else {
                throw .invalidField("data.isRecovery", reason: "a recovery packet is packed, messageCount 1, totalLength 0")
            }
            guard bodyLength >= overhead else {
                throw .invalidField("data.body", reason: "recovery body of \(bodyLength) bytes cannot hold a packet")
            }
            return
        }
        switch data.fragment {
        case .packed:
            guard data.messageCount >= 1 else { throw .invalidField("data.messageCount", reason: "packed body with no message") }
            guard data.totalLength == 0 else { throw .invalidField("data.totalLength", reason: "must be 0 unless fragment is first") }
            _ = try PackedBody.validate(data.body, expectedCount: Int(data.messageCount))
        case .first:
            guard data.messageCount == 1 else { throw .invalidField("data.messageCount", reason: "must be 1 for a fragment") }
            guard bodyLength > 0 else { throw .invalidField("data.body", reason: "empty fragment") }
            guard Int(data.totalLength) > bodyLength else {
                throw .invalidField("data.totalLength", reason: "\(data.totalLength) not above first fragment's \(bodyLength) bytes")
            }
            guard Int(data.totalLength) <= WireLimits.maxMessageSize else {
                throw .tooMany("data.totalLength", count: Int(data.totalLength), limit: WireLimits.maxMessageSize)
            }
        case .middle, .last:
            guard data.messageCount == 1 else { throw .invalidField("data.messageCount", reason: "must be 1 for a fragment") }
            guard data.totalLength == 0 else { throw .invalidField("data.totalLength", reason: "must be 0 unless fragment is first") }
            guard bodyLength > 0 else { throw .invalidField("data.body", reason: "empty fragment") }
        }
    }
}

extension DataPacket {
    /// The messages of a `.packed` body, as zero-copy slices. Throws if the body is not packed records
    /// (a fragment or a recovery packet) or malformed (never for a non-recovery packed packet that
    /// `PacketCodec.decode` returned).
    public func packedMessages() throws(WireError) -> PackedMessages {
        guard fragment == .packed, !isRecovery else { throw .invalidField("data.fragment", reason: "not packed records") }
        return try PackedBody.messages(in: body, expectedCount: Int(messageCount))
    }
}
