import NIOCore

/// Cuts a byte stream into `RawFrame`s. A length above `maxFrameLength` (or zero) is an error:
/// the stream cannot be resynchronised, so the connection must end.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RawFrame
    public let maxFrameLength: Int
    /// A lower limit for the stream's first frame (a daemon's connect frame), or nil.
    public let maxFirstFrameLength: Int?
    private var sawFirstFrame = false

    public init(maxFrameLength: Int = ClientProtocol.maxFrameLength, maxFirstFrameLength: Int? = nil) {
        self.maxFrameLength = maxFrameLength
        self.maxFirstFrameLength = maxFirstFrameLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RawFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= 1 else { throw ProtocolError(.malformedFrame, "frame length 0 (a frame holds at least its type byte)") }
        let limit = sawFirstFrame ? maxFrameLength : min(maxFrameLength, maxFirstFrameLength ?? .max)
        guard length <= limit else {
            let which = sawFirstFrame ? "frame" : "first frame"
            throw ProtocolError(.frameTooLarge, "\(which) length \(length) exceeds \(limit)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let type: UInt8 = buffer.readInteger()!
        let body = buffer.readSlice(length: Int(length) - 1)!
        sawFirstFrame = true
        return RawFrame(type: type, body: body)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RawFrame? {
        try decode(buffer: &buffer)
    }
}
