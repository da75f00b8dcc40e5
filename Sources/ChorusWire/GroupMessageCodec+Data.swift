import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The group list of the last data message a daemon decoded, in wire form and as names.
///
/// A daemon delivers long runs of messages to the same groups; with this cache such a message
/// decodes without building or validating its group names again, and all of them share one array.
public struct GroupNameCache: Sendable {
    /// The encoded list (`groupCount u16 | group * groupCount`) that `groups` was decoded from.
    var encoded: [UInt8] = []
    var groups: [String] = []
    /// The sender name decoded last (a stream of messages mostly comes from few senders).
    var lastSenderName = ""

    public init() {}

    /// The name in `bytes` (checked ASCII), reusing the last one when it is the same.
    mutating func senderName(_ bytes: UnsafeRawBufferPointer) -> String {
        // Compared as bytes (the generic `elementsEqual` over the UTF-8 view cost 1 % of the engine).
        let same =
            lastSenderName.utf8.count == bytes.count
            && (bytes.isEmpty
                || lastSenderName.utf8.withContiguousStorageIfAvailable {
                    memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0
                } ?? lastSenderName.utf8.elementsEqual(bytes))
        if !same { lastSenderName = String(decoding: bytes, as: UTF8.self) }
        return lastSenderName
    }
}

extension GroupMessageCodec {
    /// Decodes like `decode(_:)`, and gives exactly the same message or error; a data message whose
    /// group list is the one decoded last reuses the cached names.
    ///
    /// The data message is read in one pass over the bytes; anything unusual (another kind, a
    /// malformed field, a non-ASCII name) is left to `decode(_:)`, which also makes every error
    /// the same as its.
    public static func decode(_ buffer: ByteBuffer, names cache: inout GroupNameCache) throws(WireError) -> GroupMessage {
        if let data = decodeData(buffer, names: &cache) { return .data(data) }
        return try decode(buffer)
    }

    /// Appends the encoding of a data message, exactly as `encode(_:into:)` does, writing its
    /// header in one pass (the general encoder checks capacity once per field).
    public static func encode(_ data: ClientData, into buffer: inout ByteBuffer) {
        let message = GroupMessage.data(data)
        assert(isValid(message), "encoding an invalid group message: \(message)")
        precondition(data.groups.count <= WireLimits.maxGroupsPerMessage, "too many groups")
        precondition(data.payload.readableBytes <= UInt32.max, "payload too large")
        let headerSize = encodedSize(message) - data.payload.readableBytes
        buffer.reserveCapacity(minimumWritableBytes: headerSize + data.payload.readableBytes)
        // Checked once, when the session opened (`GroupLayer.openSession`), not per message.
        assert(data.sender.name.isEmpty || SessionID.isValidName(data.sender.name), "invalid session name")
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: headerSize) { raw in
            raw[0] = version
            raw[1] = Kind.data.rawValue
            raw.storeBigEndian(data.sender.daemon.rawValue, at: 2)
            raw.storeBigEndian(data.sender.local, at: 6)
            var offset = 14
            raw[offset] = UInt8(data.sender.name.utf8.count)
            offset += 1
            for byte in data.sender.name.utf8 {
                raw[offset] = byte
                offset += 1
            }
            raw.storeBigEndian(data.sessionSeq, at: offset)
            raw.storeBigEndian(data.messageType, at: offset + 8)
            raw[offset + 10] = (data.selfDiscard ? selfDiscardFlag : 0) | (data.isStandIn ? standInFlag : 0)
            raw.storeBigEndian(UInt16(data.groups.count), at: offset + 11)
            offset += 13
            for group in data.groups {
                let length = group.utf8.count
                precondition(length > 0 && length <= 255, "group name must be 1...255 UTF-8 bytes")
                raw[offset] = UInt8(length)
                offset += 1
                for byte in group.utf8 {
                    raw[offset] = byte
                    offset += 1
                }
            }
            raw.storeBigEndian(UInt32(data.payload.readableBytes), at: offset)
            return headerSize
        }
        buffer.writeImmutableBuffer(data.payload)
    }

    /// A valid data message, or nil for anything else (then `decode(_:)` says what it is, or why
    /// it is not valid). The receive path calls it first: the client data comes back
    /// bare, so it moves into its delivery instead of being copied out of a `GroupMessage`.
    public static func decodeData(_ buffer: ByteBuffer, names cache: inout GroupNameCache) -> ClientData? {
        // version, kind, sender (daemon, local, name), sessionSeq (8), messageType (2), flags (1),
        // then the group list.
        typealias Header = (sender: SessionID, seq: UInt64, type: UInt16, flags: UInt8, payloadOffset: Int)
        let header: Header? = buffer.withUnsafeReadableBytes { raw -> Header? in
            guard raw.count >= 2 + sessionSize, raw[0] == version, raw[1] == Kind.data.rawValue else { return nil }
            let nameLength = Int(raw[14])
            let fixed = 15 + nameLength
            let groupsOffset = fixed + 8 + 2 + 1
            guard raw.count >= groupsOffset + 2 else { return nil }
            let nameBytes = UnsafeRawBufferPointer(rebasing: raw[15..<fixed])
            // A name of '!'…'~' but '#' (anything else is left to the general decoder to refuse).
            guard nameBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }),
                nameLength <= WireLimits.maxSessionNameLength
            else { return nil }
            let count = Int(raw.bigEndian(UInt16.self, at: groupsOffset))
            guard count >= 1, count <= WireLimits.maxGroupsPerMessage else { return nil }
            var end = groupsOffset + 2
            for _ in 0..<count {
                guard end < raw.count else { return nil }
                let length = Int(raw[end])
                guard length > 0, length < raw.count - end else { return nil }
                end += 1 + length
            }
            guard raw.count - end >= 4, Int(raw.bigEndian(UInt32.self, at: end)) == raw.count - end - 4 else {
                return nil
            }
            let list = UnsafeRawBufferPointer(rebasing: raw[groupsOffset..<end])
            let cached = cache.encoded.withUnsafeBytes { $0.count == list.count && memcmp($0.baseAddress!, list.baseAddress!, list.count) == 0 }
            if !cached {
                guard let groups = asciiNames(list, count: count) else { return nil }
                cache.encoded = Array(list)
                cache.groups = groups
            }
            let sender = SessionID(
                daemon: NodeID(raw.bigEndian(UInt32.self, at: 2)), local: raw.bigEndian(UInt64.self, at: 6),
                name: cache.senderName(nameBytes))
            return (sender, raw.bigEndian(UInt64.self, at: fixed), raw.bigEndian(UInt16.self, at: fixed + 8), raw[fixed + 10], end + 4)
        }
        guard let header, header.seq >= 1, header.flags & ~(selfDiscardFlag | standInFlag) == 0 else { return nil }
        let payload = buffer.getSlice(
            at: buffer.readerIndex + header.payloadOffset, length: buffer.readableBytes - header.payloadOffset)!
        var data = ClientData(
            sender: header.sender, sessionSeq: header.seq, messageType: header.type,
            selfDiscard: header.flags & selfDiscardFlag != 0, groups: cache.groups, payload: payload)
        if header.flags & standInFlag != 0 {
            guard payload.readableBytes == 0 else { return nil }  // (the general decoder says why)
            data.isStandIn = true
        }
        return data
    }

    /// The sender and sequence number at the start of an encoded data message, read from its
    /// first bytes only (a first fragment holds just the beginning); nil if they are not there or
    /// it is not a data message. The name is not checked.
    public static func dataSenderAndSeq(_ buffer: ByteBuffer) -> (sender: SessionID, seq: UInt64)? {
        let start = buffer.readerIndex
        guard buffer.getInteger(at: start, as: UInt8.self) == version, buffer.getInteger(at: start + 1, as: UInt8.self) == Kind.data.rawValue,
            let daemon = buffer.getInteger(at: start + 2, as: UInt32.self),
            let local = buffer.getInteger(at: start + 6, as: UInt64.self),
            let nameLength = buffer.getInteger(at: start + 14, as: UInt8.self),
            let seq = buffer.getInteger(at: start + 15 + Int(nameLength), as: UInt64.self)
        else { return nil }
        return (SessionID(daemon: NodeID(daemon), local: local), seq)
    }

    /// The names of an encoded group list whose lengths were checked, or nil if one is not ASCII
    /// (the general decoder validates those).
    private static func asciiNames(_ list: UnsafeRawBufferPointer, count: Int) -> [String]? {
        var names: [String] = []
        names.reserveCapacity(count)
        var offset = 2
        for _ in 0..<count {
            let length = Int(list[offset])
            let text = UnsafeRawBufferPointer(rebasing: list[(offset + 1)..<(offset + 1 + length)])
            guard text.allSatisfy({ $0 < 0x80 }) else { return nil }
            names.append(String(decoding: text, as: UTF8.self))
            offset += 1 + length
        }
        return names
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Stores `value` big endian at `offset`; the caller has checked the bounds.
    @inline(__always)
    fileprivate func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}

extension UnsafeRawBufferPointer {
    /// The big-endian integer at `offset`; the caller has checked the bounds.
    @inline(__always)
    fileprivate func bigEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
