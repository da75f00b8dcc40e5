import NIOCore

/// The framing every datagram between daemons shares, the ring's (`PacketCodec`) and the hop
/// protocol's (`HopPacketCodec`), each with its own magic so neither is taken for the other.
///
///     magic u16 | version u8 | type u8 | bodyLength u32 | body | crc32c u32
///
/// Integers big endian; the CRC32C covers every byte before it.
@usableFromInline
enum WireFrame {
    @usableFromInline static let headerSize = 8
    @usableFromInline static let trailerSize = 4
    @usableFromInline static let overhead = headerSize + trailerSize

    /// Appends one frame: the header, `bodyLength` bytes written by `writeBody`, the CRC.
    /// `writeBody` must write exactly `bodyLength` bytes (a mismatch traps: a programmer error).
    @inlinable
    static func write(
        magic: UInt16, version: UInt8, type: UInt8, bodyLength: Int, into buffer: inout ByteBuffer,
        _ writeBody: (inout ByteBuffer) -> Void
    ) {
        buffer.reserveCapacity(minimumWritableBytes: overhead + bodyLength)
        let start = buffer.writerIndex
        buffer.writeInteger(magic)
        buffer.writeInteger(version)
        buffer.writeInteger(type)
        buffer.writeInteger(UInt32(bodyLength))
        writeBody(&buffer)
        precondition(buffer.writerIndex - start == headerSize + bodyLength, "frame body size mismatch")
        let offset = start - buffer.readerIndex
        let crc = buffer.withUnsafeReadableBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        }
        buffer.writeInteger(crc)
    }

    /// Checks one frame filling all readable bytes of `buffer`, in order: magic, version, type
    /// (`knownType`), that the body length is exactly the bytes between header and trailer, the
    /// CRC. Returns the type byte and a reader over the body (a zero-copy slice).
    @inlinable
    static func open(
        _ buffer: ByteBuffer, magic expectedMagic: UInt16, version expectedVersion: UInt8,
        knownType: (UInt8) -> Bool
    ) throws(WireError) -> (type: UInt8, body: WireReader) {
        let total = buffer.readableBytes
        var reader = WireReader(buffer)
        let magic = try reader.read(UInt16.self, "magic")
        guard magic == expectedMagic else { throw .badMagic(magic) }
        let version = try reader.read(UInt8.self, "version")
        guard version == expectedVersion else { throw .unsupportedVersion(version) }
        let type = try reader.read(UInt8.self, "type")
        guard knownType(type) else { throw .unknownType(type) }
        let declared = Int(try reader.read(UInt32.self, "bodyLength"))
        guard total >= overhead else { throw .truncated(field: "crc32c", need: trailerSize, have: total - headerSize) }
        let actual = total - overhead
        guard declared == actual else { throw .lengthMismatch(field: "bodyLength", declared: declared, actual: actual) }
        guard let expected = buffer.getInteger(at: buffer.readerIndex + total - trailerSize, as: UInt32.self) else {
            throw .truncated(field: "crc32c", need: trailerSize, have: 0)
        }
        let computed = buffer.withUnsafeReadableBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes.prefix(total - trailerSize)))
        }
        guard expected == computed else { throw .checksumMismatch(expected: expected, computed: computed) }
        return (type, WireReader(try reader.readSlice(declared, "body")))
    }
}
