import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The byte order of one Spread client: every 32-bit integer it sends is in its own order, the
/// type word's endian marker says which, and the daemon answers in the same order.
public enum SpreadByteOrder: Sendable, Equatable {
    case little
    case big

    /// The order of a header whose type word is `bytes` as read in memory order: a little-endian
    /// writer sets the marker bits (0x80000080), which read the same in either order.
    init(typeWordBytes word: UInt32) {
        self = word & Spread.TypeBits.endianMarker == Spread.TypeBits.endianMarker ? .little : .big
    }

    var endianness: Endianness { self == .little ? .little : .big }

    /// `value` with this order's marker bits (set for little-endian, clear for big-endian).
    func marked(_ value: UInt32) -> UInt32 {
        self == .little ? value | Spread.TypeBits.endianMarker : value & ~Spread.TypeBits.endianMarker
    }
}

extension ByteBuffer {
    mutating func writeSpreadInt(_ value: UInt32, _ order: SpreadByteOrder) {
        writeInteger(value, endianness: order.endianness)
    }

    /// `name` NUL-padded to `Spread.groupNameSize` bytes (cut to 31 bytes: the wire keeps a NUL).
    mutating func writeSpreadName(_ name: String) {
        let bytes = name.utf8.prefix(Spread.groupNameSize - 1)
        writeBytes(bytes)
        writeRepeatingByte(0, count: Spread.groupNameSize - bytes.count)
    }

    func getSpreadInt(at index: Int, _ order: SpreadByteOrder) -> UInt32? {
        getInteger(at: index, endianness: order.endianness, as: UInt32.self)
    }

    /// The name in the 32 bytes at `index`: the bytes before the first NUL (the last byte is
    /// taken as a NUL whatever it holds, as Spread does); nil when they are not UTF-8.
    func getSpreadName(at index: Int) -> String? {
        guard let bytes = getBytes(at: index, length: Spread.groupNameSize) else { return nil }
        let name = bytes.prefix(Spread.groupNameSize - 1).prefix { $0 != 0 }
        return String(validating: name, as: UTF8.self)
    }

    /// Whether the 32-byte name at `index` is `name` (bytes without NUL, at most 31), read as
    /// `getSpreadName` reads it, without making a string; nil when the field is not all here.
    func spreadName(at index: Int, is name: [UInt8]) -> Bool? {
        guard index >= readerIndex, index + Spread.groupNameSize <= writerIndex else { return nil }
        guard name.count < Spread.groupNameSize, bytes(at: index, equal: name) else { return false }
        // The name ends at a NUL, or at the field's last byte (taken as a NUL whatever it holds).
        return name.count == Spread.groupNameSize - 1 || getInteger(at: index + name.count, as: UInt8.self) == 0
    }

    /// Whether the `bytes.count` bytes at `index` are `bytes`.
    func bytes(at index: Int, equal bytes: [UInt8]) -> Bool {
        guard index >= readerIndex, index + bytes.count <= writerIndex else { return false }
        return withUnsafeReadableBytes { raw in
            bytes.withUnsafeBytes { expected in
                expected.isEmpty || memcmp(raw.baseAddress! + (index - readerIndex), expected.baseAddress!, expected.count) == 0
            }
        }
    }
}
