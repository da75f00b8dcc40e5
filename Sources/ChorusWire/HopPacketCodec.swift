import NIOCore

/// Encodes and decodes `HopPacket`s, the datagrams between site representatives.
///
/// Framing as `WireFrame` with its own magic (a hop datagram sent to a ring port, or the
/// reverse, fails on the magic). Header, 52 bytes:
///
///     from u32 | to u32 | senderIncarnation u64 | receiverIncarnation u64 | sentAt u64 |
///     echo u64 | echoDelay u32 | ack u64
///
/// then data (type 1): `seq u64 | payload` (the rest of the body, at most
/// `WireLimits.maxHopPayload` bytes), or control (type 2): `highestSent u64 | count u16 |
/// (first u64, last u64) * count`.
///
/// `decode` checks the framing, every field's syntax and `validate`'s rules; it never traps and
/// allocates only in proportion to the bytes present. Encoding is canonical.
public enum HopPacketCodec {
    public static let magic: UInt16 = 0xC4B0
    public static let version: UInt8 = 1
    static let headerSize = 4 + 4 + 8 + 8 + 8 + 8 + 4 + 8
    /// Bytes a data packet adds to its payload.
    public static let dataOverhead = WireFrame.overhead + headerSize + 8
    static let controlFixedSize = 8 + 2

    enum PacketType: UInt8 {
        case data = 1
        case control = 2
    }

    /// Exactly how many bytes `encode` writes for `packet`.
    public static func encodedSize(_ packet: HopPacket) -> Int {
        WireFrame.overhead + bodySize(packet)
    }

    static func bodySize(_ packet: HopPacket) -> Int {
        switch packet.body {
        case .data(_, let payload): headerSize + 8 + payload.readableBytes
        case .control(let control): headerSize + controlFixedSize + 16 * control.missing.count
        }
    }

    /// Appends the encoding of `packet`, which must satisfy `validate` (a violation traps).
    public static func encode(_ packet: HopPacket, into buffer: inout ByteBuffer) {
        precondition(isValid(packet), "encoding an invalid hop packet")
        writeFrame(packet, into: &buffer)
    }

    /// The frame of `packet`, valid or not (tests write invalid ones through it).
    static func writeFrame(_ packet: HopPacket, into buffer: inout ByteBuffer) {
        let type: PacketType = if case .data = packet.body { .data } else { .control }
        WireFrame.write(
            magic: magic, version: version, type: type.rawValue, bodyLength: bodySize(packet), into: &buffer
        ) { buffer in
            let header = packet.header
            buffer.writeInteger(header.from.rawValue)
            buffer.writeInteger(header.to.rawValue)
            buffer.writeInteger(header.senderIncarnation)
            buffer.writeInteger(header.receiverIncarnation)
            buffer.writeInteger(header.sentAt)
            buffer.writeInteger(header.echo)
            buffer.writeInteger(header.echoDelay)
            buffer.writeInteger(header.ack)
            switch packet.body {
            case .data(let seq, let payload):
                buffer.writeInteger(seq)
                buffer.writeImmutableBuffer(payload)
            case .control(let control):
                buffer.writeInteger(control.highestSent)
                buffer.writeInteger(UInt16(control.missing.count))
                for range in control.missing {
                    buffer.writeInteger(range.lowerBound)
                    buffer.writeInteger(range.upperBound)
                }
            }
        }
    }

    /// The encoding of `packet` in a new buffer of exactly the right size.
    public static func encode(_ packet: HopPacket, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: encodedSize(packet))
        encode(packet, into: &buffer)
        return buffer
    }

    /// Decodes one packet from all readable bytes of `buffer`; a data payload is a zero-copy slice.
    public static func decode(_ buffer: ByteBuffer) throws(WireError) -> HopPacket {
        let (typeByte, bodyReader) = try WireFrame.open(buffer, magic: magic, version: version) {
            PacketType(rawValue: $0) != nil
        }
        var body = bodyReader
        let header = HopHeader(
            from: SiteID(try body.read(UInt32.self, "hop.from")), to: SiteID(try body.read(UInt32.self, "hop.to")),
            senderIncarnation: try body.read(UInt64.self, "hop.senderIncarnation"),
            receiverIncarnation: try body.read(UInt64.self, "hop.receiverIncarnation"),
            sentAt: try body.read(UInt64.self, "hop.sentAt"), echo: try body.read(UInt64.self, "hop.echo"),
            echoDelay: try body.read(UInt32.self, "hop.echoDelay"), ack: try body.read(UInt64.self, "hop.ack"))
        let packet: HopPacket
        switch PacketType(rawValue: typeByte)! {
        case .data:
            let seq = try body.read(UInt64.self, "hop.seq")
            let payload = try body.readSlice(body.remaining, "hop.payload")
            packet = HopPacket(header: header, body: .data(seq: seq, payload: payload))
        case .control:
            let highestSent = try body.read(UInt64.self, "hop.highestSent")
            let count = try body.readCount(
                UInt16.self, "hop.missing", limit: WireLimits.maxHopMissingRanges, minimumEntrySize: 16)
            var missing: [ClosedRange<UInt64>] = []
            missing.reserveCapacity(count)
            for _ in 0..<count {
                let first = try body.read(UInt64.self, "hop.missing.first")
                let last = try body.read(UInt64.self, "hop.missing.last")
                guard first <= last else {
                    throw .invalidField("hop.missing", reason: "range \(first)...\(last) runs backwards")
                }
                missing.append(first...last)
            }
            packet = HopPacket(header: header, body: .control(HopControl(highestSent: highestSent, missing: missing)))
        }
        try body.expectEnd("hop packet body")
        try validate(packet)
        return packet
    }

    /// The rules beyond field syntax: the two ends differ; the sender's incarnation is not 0;
    /// data: `seq >= 1`, payload at most `WireLimits.maxHopPayload`; control: missing ranges
    /// ascending and apart, above the ack, at most `WireLimits.maxHopMissingRanges`.
    public static func validate(_ packet: HopPacket) throws(WireError) {
        let header = packet.header
        guard header.from != header.to else {
            throw .invalidField("hop.to", reason: "a link from \(header.from) to itself")
        }
        guard header.senderIncarnation != 0 else {
            throw .invalidField("hop.senderIncarnation", reason: "0 names no incarnation")
        }
        switch packet.body {
        case .data(let seq, let payload):
            guard seq >= 1 else { throw .invalidField("hop.seq", reason: "seqs start at 1") }
            guard payload.readableBytes <= WireLimits.maxHopPayload else {
                throw .tooMany("hop.payload bytes", count: payload.readableBytes, limit: WireLimits.maxHopPayload)
            }
        case .control(let control):
            guard control.missing.count <= WireLimits.maxHopMissingRanges else {
                throw .tooMany("hop.missing", count: control.missing.count, limit: WireLimits.maxHopMissingRanges)
            }
            var floor = header.ack
            for range in control.missing {
                guard range.lowerBound > floor, range.lowerBound <= range.upperBound else {
                    throw .invalidField(
                        "hop.missing", reason: "range \(range) not above \(floor) (the ack or the previous range, apart)")
                }
                floor = range.upperBound &+ 1
                guard floor != 0 else { throw .invalidField("hop.missing", reason: "range \(range) reaches 2^64 - 1") }
            }
        }
    }

    static func isValid(_ packet: HopPacket) -> Bool {
        do throws(WireError) {
            try validate(packet)
            return true
        } catch {
            return false
        }
    }
}
