import NIOCore

/// The body of a `.packed` data packet: `messageCount` records, each a u32 big-endian length
/// followed by that many bytes, exactly filling the body.
///
/// Build one with `append`; read one with `messages(in:expectedCount:)`, which validates once and
/// then iterates zero-copy slices.
public enum PackedBody {
    /// Bytes each record adds besides the message itself.
    public static let recordOverhead = 4

    /// Free bytes a producer may leave in front of a message's reader index, so that a message that
    /// travels alone becomes a packet body in place (see `loneRecord`), without a copy.
    public static let headroom = recordOverhead

    /// A packed body holding only `message`. When `message` has `headroom` bytes in front of its
    /// reader index, the record length is written there and the same storage is returned (a copy
    /// happens only if that storage is shared); otherwise the bytes are copied into a new body.
    @inlinable
    public static func loneRecord(_ message: consuming ByteBuffer) -> ByteBuffer {
        let length = message.readableBytes
        precondition(length <= UInt32.max, "message too large")
        guard message.readerIndex >= headroom else {
            var body = ByteBufferAllocator().buffer(capacity: recordSize(messageLength: length))
            append(message, to: &body)
            return body
        }
        message.moveReaderIndex(to: message.readerIndex - headroom)
        message.setInteger(UInt32(length), at: message.readerIndex)
        return message
    }

    /// The bytes one message of `messageLength` bytes takes in a packed body.
    @inlinable
    public static func recordSize(messageLength: Int) -> Int {
        recordOverhead + messageLength
    }

    /// Appends `message`'s readable bytes as one record.
    @inlinable
    public static func append(_ message: ByteBuffer, to body: inout ByteBuffer) {
        precondition(message.readableBytes <= UInt32.max, "message too large")
        body.writeInteger(UInt32(message.readableBytes))
        body.writeImmutableBuffer(message)
    }

    /// Appends one record whose bytes `writeMessage` writes directly into `body`, then fills in
    /// its length. No intermediate buffer, e.g.
    /// `PackedBody.append(to: &body) { GroupMessageCodec.encode(message, into: &$0) }`.
    ///
    /// `writeMessage` must only append to the buffer it is given.
    @inlinable
    public static func append<E: Error>(
        to body: inout ByteBuffer, _ writeMessage: (inout ByteBuffer) throws(E) -> Void
    ) throws(E) {
        let lengthIndex = body.writerIndex
        body.writeInteger(UInt32(0))
        try writeMessage(&body)
        let length = body.writerIndex - lengthIndex - recordOverhead
        precondition(length >= 0 && length <= UInt32.max, "message writer moved backwards or wrote too much")
        body.setInteger(UInt32(length), at: lengthIndex)
    }

    /// Checks that `body` is a sequence of records that exactly fills it, and, when `expectedCount`
    /// is given, that there are that many. Returns the number of records.
    public static func validate(_ body: ByteBuffer, expectedCount: Int? = nil) throws(WireError) -> Int {
        var reader = WireReader(body)
        var count = 0
        while reader.remaining > 0 {
            if let expectedCount, count >= expectedCount {
                throw .trailingBytes(field: "packed body after \(expectedCount) messages", count: reader.remaining)
            }
            let length = Int(try reader.read(UInt32.self, "packed message length"))
            guard length <= reader.remaining else {
                throw .truncated(field: "packed message \(count)", need: length, have: reader.remaining)
            }
            reader.buffer.moveReaderIndex(forwardBy: length)
            count += 1
        }
        if let expectedCount, count != expectedCount {
            throw .lengthMismatch(field: "data.messageCount", declared: expectedCount, actual: count)
        }
        return count
    }

    /// Validates `body` (see `validate`) and returns its messages as a sequence of zero-copy slices.
    public static func messages(in body: ByteBuffer, expectedCount: Int? = nil) throws(WireError) -> PackedMessages {
        let count = try validate(body, expectedCount: expectedCount)
        return PackedMessages(body: body, count: count)
    }
}

/// The messages of a validated packed body, as zero-copy slices of it.
public struct PackedMessages: Sequence, Sendable {
    /// The packed body the slices come from.
    public let body: ByteBuffer
    /// How many messages the body holds.
    public let count: Int

    @usableFromInline
    init(body: ByteBuffer, count: Int) {
        self.body = body
        self.count = count
    }

    public var underestimatedCount: Int { count }

    public func makeIterator() -> Iterator { Iterator(remaining: body) }

    public struct Iterator: IteratorProtocol, Sendable {
        @usableFromInline var remaining: ByteBuffer

        @inlinable
        public mutating func next() -> ByteBuffer? {
            // The body was validated, so these reads succeed; a nil ends the iteration, never a trap.
            guard let length = remaining.readInteger(as: UInt32.self) else { return nil }
            return remaining.readSlice(length: Int(length))
        }
    }
}
