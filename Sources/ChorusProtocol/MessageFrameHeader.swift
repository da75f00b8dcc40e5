import ChorusSchema
import NIOCore

/// The bytes of a message frame between its length field and its payload: the type byte, the
/// service, the message type, the sender and the groups. A daemon builds them once for a stream
/// of messages from one sender to one group list and writes them before every payload.
public struct MessageFrameHeader: Sendable {
    /// `type u8 | service u8 | message type u16 | sender str8 | group count u8 | groups str8…`
    public let bytes: [UInt8]

    public init(service: Service, messageType: UInt16, sender: String, groups: [String]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(6 + sender.utf8.count + groups.reduce(0) { $0 + 1 + $1.utf8.count })
        bytes.append(FrameType.message.rawValue)
        bytes.append(service.rawValue)
        bytes.append(UInt8(truncatingIfNeeded: messageType >> 8))
        bytes.append(UInt8(truncatingIfNeeded: messageType))
        Self.appendShortString(sender, to: &bytes)
        bytes.append(UInt8(truncatingIfNeeded: groups.count))
        for group in groups { Self.appendShortString(group, to: &bytes) }
        self.bytes = bytes
    }

    /// A `u8` length and the UTF-8 bytes (the caller keeps it within 255 bytes).
    private static func appendShortString(_ string: String, to bytes: inout [UInt8]) {
        let utf8 = string.utf8
        bytes.append(UInt8(truncatingIfNeeded: utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends a whole message frame, `length | header | payload`, to `buffer` in one write.
    public func writeFrame(payload: ByteBuffer, into buffer: inout ByteBuffer) {
        FrameWriting.write(header: bytes, payload: payload, into: &buffer)
    }
}
