import NIOCore

/// Reads the fields of one frame body, turning every shortfall into a `ProtocolError`.
struct FrameReader {
    var buffer: ByteBuffer
    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    mutating func integer<T: FixedWidthInteger>(_ field: String, as: T.Type = T.self) throws(ProtocolError) -> T {
        guard let value = buffer.readInteger(as: T.self) else {
            throw ProtocolError(.malformedFrame, "truncated at \(field)")
        }
        return value
    }

    /// A `u8`-length-prefixed UTF-8 string.
    mutating func shortString(_ field: String) throws(ProtocolError) -> String {
        let length = Int(try integer(field, as: UInt8.self))
        return try string(length: length, field)
    }

    /// A `u16`-length-prefixed UTF-8 string.
    mutating func string16(_ field: String) throws(ProtocolError) -> String {
        let length = Int(try integer(field, as: UInt16.self))
        return try string(length: length, field)
    }

    private mutating func string(length: Int, _ field: String) throws(ProtocolError) -> String {
        guard let bytes = buffer.readSlice(length: length) else {
            throw ProtocolError(.malformedFrame, "truncated in \(field): \(length) bytes declared")
        }
        guard let text = bytes.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw ProtocolError(.malformedFrame, "\(field) is not valid UTF-8")
        }
        return text
    }

    /// A `u16` count followed by that many short strings; the count is checked against the
    /// bytes left before anything is allocated.
    mutating func stringList(_ field: String, limit: Int) throws(ProtocolError) -> [String] {
        let count = Int(try integer(field, as: UInt16.self))
        guard count <= limit, count <= buffer.readableBytes else {
            throw ProtocolError(.malformedFrame, "\(field): \(count) entries exceed what the frame can hold")
        }
        var list: [String] = []
        list.reserveCapacity(count)
        for _ in 0..<count { list.append(try shortString(field)) }
        return list
    }

    /// A `u8` count followed by that many short strings (the target groups of a message).
    mutating func groupList() throws(ProtocolError) -> [String] {
        let count = Int(try integer("group count", as: UInt8.self))
        var groups: [String] = []
        groups.reserveCapacity(count)
        for _ in 0..<count { groups.append(try shortString("group")) }
        return groups
    }

    /// Everything left, without a copy.
    mutating func rest() -> ByteBuffer { buffer.readSlice(length: buffer.readableBytes)! }

    func expectEnd(_ frame: String) throws(ProtocolError) {
        guard buffer.readableBytes == 0 else {
            throw ProtocolError(.malformedFrame, "\(buffer.readableBytes) trailing bytes after \(frame)")
        }
    }
}

extension ByteBuffer {
    /// Writes a `u8`-length-prefixed string (the caller keeps it within 255 bytes).
    @inlinable
    mutating func writeShortString(_ string: String) {
        let lengthIndex = writerIndex
        writeInteger(UInt8(0))
        let written = writeString(string)
        setInteger(UInt8(truncatingIfNeeded: written), at: lengthIndex)
    }

    /// Writes a `u16`-length-prefixed string.
    @inlinable
    mutating func writeString16(_ string: String) {
        let lengthIndex = writerIndex
        writeInteger(UInt16(0))
        let written = writeString(string)
        setInteger(UInt16(truncatingIfNeeded: written), at: lengthIndex)
    }

    /// A `u8` count and the names (a message's target groups; the caller keeps it within 255).
    @inlinable
    mutating func writeGroupList(_ groups: [String]) {
        writeInteger(UInt8(truncatingIfNeeded: groups.count))
        for group in groups { writeShortString(group) }
    }

    mutating func writeStringList(_ list: [String]) {
        writeInteger(UInt16(truncatingIfNeeded: list.count))
        for item in list { writeShortString(item) }
    }

    /// Reserves a frame header; `finishFrame(at:)` fills in the length once the body is written.
    @inlinable
    mutating func startFrame(_ type: FrameType) -> Int {
        let start = writerIndex
        writeInteger(UInt32(0))
        writeInteger(type.rawValue)
        return start
    }

    /// Sets the length of the frame started at `start`; `extra` counts body bytes that follow
    /// in a separate buffer (a payload written without a copy).
    @inlinable
    mutating func finishFrame(at start: Int, extra: Int = 0) {
        setInteger(UInt32(writerIndex - start - 4 + extra), at: start)
    }
}
