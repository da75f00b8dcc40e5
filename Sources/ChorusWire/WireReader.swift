import NIOCore

/// Reads big-endian fields from a ByteBuffer, turning every shortfall into a `WireError`.
@usableFromInline
struct WireReader {
    @usableFromInline var buffer: ByteBuffer

    @inlinable init(_ buffer: ByteBuffer) { self.buffer = buffer }

    @inlinable var remaining: Int { buffer.readableBytes }

    @inlinable
    mutating func read<T: FixedWidthInteger>(_ type: T.Type = T.self, _ field: String) throws(WireError) -> T {
        guard let value = buffer.readInteger(as: T.self) else {
            throw .truncated(field: field, need: MemoryLayout<T>.size, have: buffer.readableBytes)
        }
        return value
    }

    @inlinable
    mutating func readBool(_ field: String) throws(WireError) -> Bool {
        switch try read(UInt8.self, field) {
        case 0: return false
        case 1: return true
        case let other: throw .invalidField(field, reason: "boolean byte \(other)")
        }
    }

    /// A zero-copy slice of the next `length` bytes.
    @inlinable
    mutating func readSlice(_ length: Int, _ field: String) throws(WireError) -> ByteBuffer {
        guard length >= 0, let slice = buffer.readSlice(length: length) else {
            throw .truncated(field: field, need: length, have: buffer.readableBytes)
        }
        return slice
    }

    @inlinable
    mutating func readNodeID(_ field: String) throws(WireError) -> NodeID {
        NodeID(try read(UInt32.self, field))
    }

    @inlinable
    mutating func readRingID(_ field: String) throws(WireError) -> RingID {
        let seq = try read(UInt64.self, field)
        let representative = try readNodeID(field)
        return RingID(seq: seq, representative: representative)
    }

    /// Reads a count and checks it against `limit` and against the bytes left, assuming each
    /// entry takes at least `minimumEntrySize` bytes, so callers may allocate for it.
    @inlinable
    mutating func readCount<T: FixedWidthInteger>(
        _ type: T.Type, _ field: String, limit: Int, minimumEntrySize: Int
    ) throws(WireError) -> Int {
        let raw = try read(T.self, field)
        let count = Int(raw)
        guard count <= limit else { throw .tooMany(field, count: count, limit: limit) }
        let fits = remaining / minimumEntrySize
        guard count <= fits else { throw .tooMany(field, count: count, limit: fits) }
        return count
    }

    /// A u8-length-prefixed, non-empty, valid UTF-8 string.
    @inlinable
    mutating func readShortString(_ field: String) throws(WireError) -> String {
        let length = Int(try read(UInt8.self, field))
        guard length > 0 else { throw .invalidField(field, reason: "empty") }
        guard length <= remaining else { throw .truncated(field: field, need: length, have: remaining) }
        let string = buffer.withUnsafeReadableBytes { bytes -> String? in
            let text = UnsafeRawBufferPointer(rebasing: bytes.prefix(length))
            // Names are nearly always ASCII, which is valid UTF-8 as it stands; the general
            // validating initializer costs several times more per call.
            if text.allSatisfy({ $0 < 0x80 }) { return String(decoding: text, as: UTF8.self) }
            return String(validating: text, as: UTF8.self)
        }
        guard let string else { throw .invalidField(field, reason: "not valid UTF-8") }
        buffer.moveReaderIndex(forwardBy: length)
        return string
    }

    @inlinable
    func expectEnd(_ field: String) throws(WireError) {
        guard remaining == 0 else { throw .trailingBytes(field: field, count: remaining) }
    }
}

extension ByteBuffer {
    @inlinable
    mutating func writeRingID(_ ringID: RingID) {
        writeInteger(ringID.seq)
        writeInteger(ringID.representative.rawValue)
    }

    @inlinable
    mutating func writeBool(_ value: Bool) {
        writeInteger(value ? 1 as UInt8 : 0)
    }

    /// Writes a u8 length prefix and the UTF-8 bytes. The caller has checked `WireLimits.isValidGroupName`.
    @inlinable
    mutating func writeShortString(_ string: String) {
        let length = string.utf8.count
        precondition(length > 0 && length <= 255, "group name must be 1...255 UTF-8 bytes")
        writeInteger(UInt8(length))
        writeString(string)
    }
}
