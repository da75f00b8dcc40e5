import ChorusWire
import NIOCore
import Testing

@Suite("Packed body")
struct PackedBodyTests {
    @Test func appendAndIterate() throws {
        let messages: [[UInt8]] = [[], [1], [2, 3, 4], Array(repeating: 9, count: 300)]
        var body = ByteBuffer()
        for message in messages {
            PackedBody.append(ByteBuffer(bytes: message), to: &body)
        }
        #expect(body.readableBytes == messages.reduce(0) { $0 + PackedBody.recordSize(messageLength: $1.count) })
        let decoded = try PackedBody.messages(in: body, expectedCount: messages.count)
        #expect(decoded.count == messages.count)
        #expect(decoded.map(\.bytes) == messages)
        #expect(try PackedBody.validate(body) == messages.count)
    }

    @Test func appendWithWriterFillsInLength() throws {
        let message = GroupMessage.join(session: SessionID(daemon: NodeID(2), local: 7), group: "chat")
        var body = ByteBuffer()
        PackedBody.append(to: &body) { GroupMessageCodec.encode(message, into: &$0) }
        PackedBody.append(to: &body) { _ in }
        let slices = Array(try PackedBody.messages(in: body, expectedCount: 2))
        #expect(try GroupMessageCodec.decode(slices[0]) == message)
        #expect(slices[1].readableBytes == 0)
    }

    @Test func slicesAreZeroCopy() throws {
        var body = ByteBuffer()
        PackedBody.append(ByteBuffer(bytes: [1, 2, 3, 4, 5]), to: &body)
        let slice = try #require(Array(try PackedBody.messages(in: body)).first)
        let inside = body.withUnsafeReadableBytes { whole in
            slice.withUnsafeReadableBytes { part in
                part.baseAddress! >= whole.baseAddress! && part.baseAddress! + part.count <= whole.baseAddress! + whole.count
            }
        }
        #expect(inside)
    }

    @Test func rejectsMalformedBodies() {
        // A record longer than the body.
        #expect(throws: WireError.self) { try PackedBody.validate(ByteBuffer(bytes: [0, 0, 0, 5, 1, 2])) }
        // A length prefix cut short.
        #expect(throws: WireError.self) { try PackedBody.validate(ByteBuffer(bytes: [0, 0, 1, 0, 0, 0])) }
        // A huge length.
        #expect(throws: WireError.self) { try PackedBody.validate(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 1])) }
        // Count mismatch both ways.
        var body = ByteBuffer()
        PackedBody.append(ByteBuffer(bytes: [1]), to: &body)
        PackedBody.append(ByteBuffer(bytes: [2]), to: &body)
        #expect(throws: WireError.lengthMismatch(field: "data.messageCount", declared: 3, actual: 2)) {
            try PackedBody.validate(body, expectedCount: 3)
        }
        #expect(throws: WireError.self) { try PackedBody.validate(body, expectedCount: 1) }
        #expect((try? PackedBody.validate(ByteBuffer(), expectedCount: 0)) == 0)
    }
}

@Suite("Lone records")
struct LoneRecordTests {
    static let message: [UInt8] = Array(0..<200)

    /// A message with headroom, as the group layer encodes it.
    static func withHeadroom() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeRepeatingByte(0xEE, count: PackedBody.headroom)
        buffer.moveReaderIndex(forwardBy: PackedBody.headroom)
        buffer.writeBytes(message)
        return buffer
    }

    static func expected() -> [UInt8] {
        var body = ByteBuffer()
        PackedBody.append(ByteBuffer(bytes: message), to: &body)
        return body.bytes
    }

    @Test func usesTheHeadroomInPlace() throws {
        let buffer = Self.withHeadroom()
        let address = buffer.withUnsafeReadableBytes { $0.baseAddress! }
        let body = PackedBody.loneRecord(consume buffer)
        #expect(body.bytes == Self.expected())
        #expect(body.withUnsafeReadableBytes { $0.baseAddress! } == address - PackedBody.headroom)
        #expect(Array(try PackedBody.messages(in: body, expectedCount: 1)).map(\.bytes) == [Self.message])
    }

    @Test func copiesWithoutHeadroom() {
        let buffer = ByteBuffer(bytes: Self.message)
        #expect(PackedBody.loneRecord(buffer).bytes == Self.expected())
        #expect(buffer.bytes == Self.message)
    }

    @Test func neverWritesIntoSharedStorage() {
        let buffer = Self.withHeadroom()
        var whole = buffer
        whole.moveReaderIndex(to: 0)
        let before = whole.bytes
        let body = PackedBody.loneRecord(buffer)
        #expect(body.bytes == Self.expected())
        #expect(whole.bytes == before, "the other holder of the storage saw the length written")
        #expect(buffer.bytes == Self.message)
    }
}
