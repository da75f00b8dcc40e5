import NIOCore

/// The sealed datagram's layout (every integer big-endian). The header is authenticated (it is
/// the AEAD's associated data); the packet inside is encrypted.
///
///     offset  size  field
///          0     2  magic 0xC5E1 (a plain ring or hop datagram starts 0xC4)
///          2     1  version (1)
///          3     1  channel: 1 ring, 2 hop
///          4     2  key id that sealed it
///          6     2  oldest key id the sender holds
///          8     2  newest key id the sender holds
///         10     2  reserved, 0
///         12     4  sender (its daemon id)
///         16     8  sender's incarnation (its start, µs since 1970)
///         24    12  nonce: 4 zero bytes, then the counter (u64, per incarnation, from 0)
///         36     n  the packet, encrypted
///       36+n    16  tag
///
/// The first 24 bytes are the associated data; the nonce, ciphertext and tag are AES-GCM's
/// "combined" form, opened where they lie. Each (key, sender, incarnation) seals with a key of
/// its own, derived with HKDF-SHA256 from the configured key, so a nonce never repeats under one
/// key, also across restarts, without a counter kept on disk.
public enum SealFormat {
    public static let magic: UInt16 = 0xC5E1
    public static let version: UInt8 = 1
    /// The authenticated fields before the nonce.
    public static let associatedSize = 24
    public static let nonceSize = 12
    public static let headerSize = associatedSize + nonceSize
    public static let tagSize = 16
    /// Bytes sealing adds to a datagram.
    public static let overhead = headerSize + tagSize
}

/// Which socket a sealed datagram belongs to: each keeps its own replay window per sender.
public enum SealChannel: UInt8, Sendable, CaseIterable {
    case ring = 1
    case hop = 2
}

/// The authenticated header of a sealed datagram.
public struct SealHeader: Sendable, Equatable {
    public var channel: SealChannel
    public var keyID: UInt16
    public var oldestKeyID: UInt16
    public var newestKeyID: UInt16
    public var sender: UInt32
    public var incarnation: UInt64
    public var counter: UInt64

    public init(
        channel: SealChannel, keyID: UInt16, oldestKeyID: UInt16, newestKeyID: UInt16, sender: UInt32, incarnation: UInt64,
        counter: UInt64
    ) {
        self.channel = channel
        self.keyID = keyID
        self.oldestKeyID = oldestKeyID
        self.newestKeyID = newestKeyID
        self.sender = sender
        self.incarnation = incarnation
        self.counter = counter
    }

    func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(SealFormat.magic)
        buffer.writeInteger(SealFormat.version)
        buffer.writeInteger(channel.rawValue)
        buffer.writeInteger(keyID)
        buffer.writeInteger(oldestKeyID)
        buffer.writeInteger(newestKeyID)
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(sender)
        buffer.writeInteger(incarnation)
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(counter)
    }

    /// Reads the header at the start of `datagram`; nil when it is not a sealed datagram of this version.
    static func read(_ datagram: ByteBuffer) -> SealHeader? {
        guard datagram.readableBytes >= SealFormat.overhead else { return nil }
        let base = datagram.readerIndex
        guard datagram.getInteger(at: base, as: UInt16.self) == SealFormat.magic,
            datagram.getInteger(at: base + 2, as: UInt8.self) == SealFormat.version,
            let channel = datagram.getInteger(at: base + 3, as: UInt8.self).flatMap(SealChannel.init(rawValue:)),
            let keyID = datagram.getInteger(at: base + 4, as: UInt16.self),
            let oldest = datagram.getInteger(at: base + 6, as: UInt16.self),
            let newest = datagram.getInteger(at: base + 8, as: UInt16.self),
            let sender = datagram.getInteger(at: base + 12, as: UInt32.self),
            let incarnation = datagram.getInteger(at: base + 16, as: UInt64.self),
            datagram.getInteger(at: base + 24, as: UInt32.self) == 0,
            let counter = datagram.getInteger(at: base + 28, as: UInt64.self)
        else { return nil }
        return SealHeader(
            channel: channel, keyID: keyID, oldestKeyID: oldest, newestKeyID: newest, sender: sender, incarnation: incarnation,
            counter: counter)
    }

    /// Whether `datagram` looks like a plain (unsealed) ring or hop datagram.
    static func isPlain(_ datagram: ByteBuffer) -> Bool {
        datagram.getInteger(at: datagram.readerIndex, as: UInt8.self) == 0xC4
    }
}
