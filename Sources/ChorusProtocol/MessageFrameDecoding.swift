import ChorusSchema
import NIOCore

/// The last group list decoded from a stream of frames, so a stream of messages to one group
/// list builds its strings and array once, not once per message.
public struct GroupListCache: Sendable {
    var bytes = ByteBuffer()
    var groups: [String] = []

    public init() {}

    /// Reads a group list (`u8 count`, then short strings) at the reader's position, reusing
    /// the last list when its bytes are the same.
    mutating func read(from reader: inout FrameReader) throws(ProtocolError) -> [String] {
        let start = reader.buffer.readerIndex
        if let length = Self.length(of: reader.buffer), let bytes = reader.buffer.getSlice(at: start, length: length),
            bytes == self.bytes
        {
            reader.buffer.moveReaderIndex(forwardBy: length)
            return groups
        }
        let before = reader.buffer
        groups = try reader.groupList()
        bytes = before.getSlice(at: start, length: reader.buffer.readerIndex - start)!
        return groups
    }

    /// The byte length of the group list at the start of `buffer`, or nil if it runs past the end.
    private static func length(of buffer: ByteBuffer) -> Int? {
        guard let count = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        var offset = buffer.readerIndex + 1
        for _ in 0..<count {
            guard let length = buffer.getInteger(at: offset, as: UInt8.self) else { return nil }
            offset += 1 + Int(length)
        }
        return offset <= buffer.writerIndex ? offset - buffer.readerIndex : nil
    }
}

/// The sender and group list of the last message frame a client decoded (see `GroupListCache`).
public struct MessageNameCache: Sendable {
    var senderBytes = ByteBuffer()
    var sender = ""
    var groups = GroupListCache()

    public init() {}
}

extension DaemonEvent {
    /// Decodes the body of a message frame (`service u8 | type u16 | sender | groups | payload`),
    /// reusing the names of `cache` when the bytes are those decoded last. The result and every
    /// error are the same as `decode(_:)`'s for the same frame.
    public static func decodeMessage(
        _ body: ByteBuffer, names cache: inout MessageNameCache
    ) throws(ProtocolError) -> MessageEvent {
        var reader = FrameReader(body)
        let serviceByte = try reader.integer("service", as: UInt8.self)
        guard let service = Service(rawValue: serviceByte) else {
            throw ProtocolError(.invalidService, "service byte \(serviceByte)")
        }
        let messageType = try reader.integer("message type", as: UInt16.self)

        let senderStart = reader.buffer.readerIndex
        let senderLength = Int(try reader.integer("sender", as: UInt8.self))
        if let bytes = body.getSlice(at: senderStart, length: 1 + senderLength), bytes == cache.senderBytes {
            reader.buffer.moveReaderIndex(forwardBy: senderLength)
        } else {
            reader.buffer.moveReaderIndex(to: senderStart)
            cache.sender = try reader.shortString("sender")
            cache.senderBytes = body.getSlice(at: senderStart, length: reader.buffer.readerIndex - senderStart)!
        }
        let groups = try cache.groups.read(from: &reader)
        return MessageEvent(
            service: service, messageType: messageType, sender: cache.sender, groups: groups, payload: reader.rest())
    }
}
