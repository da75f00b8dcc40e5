/// Why bytes could not be decoded as a `Packet` or `GroupMessage`.
///
/// Decoding never traps: every malformed input ends in one of these. A daemon drops the
/// datagram (and may count or log the error); nothing in it is trusted.
public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The input ended while reading `field`: `need` more bytes were required, `have` were left.
    case truncated(field: String, need: Int, have: Int)
    /// The packet does not start with `PacketCodec.magic`.
    case badMagic(UInt16)
    /// A packet or group message of a version this build does not speak.
    case unsupportedVersion(UInt8)
    /// The packet type (or group message kind) byte names nothing.
    case unknownType(UInt8)
    /// A declared length (`field`) differs from the number of bytes actually present.
    case lengthMismatch(field: String, declared: Int, actual: Int)
    /// The CRC32C trailer (`expected`) differs from the CRC of the bytes received (`computed`).
    case checksumMismatch(expected: UInt32, computed: UInt32)
    /// A field holds a value the format does not allow.
    case invalidField(String, reason: String)
    /// A count exceeds the format's limit, or the bytes left could not hold that many entries.
    case tooMany(String, count: Int, limit: Int)
    /// Bytes were left over after the last field of a structure that must be consumed exactly.
    case trailingBytes(field: String, count: Int)

    public var description: String {
        switch self {
        case .truncated(let field, let need, let have):
            "truncated at \(field): need \(need) bytes, have \(have)"
        case .badMagic(let magic):
            "bad magic 0x\(String(magic, radix: 16))"
        case .unsupportedVersion(let version):
            "unsupported version \(version)"
        case .unknownType(let type):
            "unknown type \(type)"
        case .lengthMismatch(let field, let declared, let actual):
            "length mismatch in \(field): declared \(declared), actual \(actual)"
        case .checksumMismatch(let expected, let computed):
            "checksum mismatch: packet says 0x\(String(expected, radix: 16)), computed 0x\(String(computed, radix: 16))"
        case .invalidField(let name, let reason):
            "invalid \(name): \(reason)"
        case .tooMany(let field, let count, let limit):
            "too many \(field): \(count), limit \(limit)"
        case .trailingBytes(let field, let count):
            "\(count) trailing bytes after \(field)"
        }
    }
}
