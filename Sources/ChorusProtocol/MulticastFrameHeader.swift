import ChorusSchema
import NIOCore

/// The bytes of a multicast frame between its length field and its payload: the type byte, the
/// service, the flags, the message type and the groups. A client builds them once for a stream
/// of messages with the same service and groups and writes them before every payload.
public struct MulticastFrameHeader: Sendable {
    /// `type u8 | service u8 | flags u8 | message type u16 | group count u8 | groups str8…`
    public let bytes: [UInt8]
    public let service: Service
    public let selfDiscard: Bool
    public let messageType: UInt16
    public let groups: [String]

    public init(service: Service, selfDiscard: Bool, messageType: UInt16, groups: [String]) {
        self.service = service
        self.selfDiscard = selfDiscard
        self.messageType = messageType
        self.groups = groups
        var bytes: [UInt8] = []
        bytes.reserveCapacity(6 + groups.reduce(0) { $0 + 1 + $1.utf8.count })
        bytes.append(FrameType.multicast.rawValue)
        bytes.append(service.rawValue)
        bytes.append(selfDiscard ? 1 : 0)
        bytes.append(UInt8(truncatingIfNeeded: messageType >> 8))
        bytes.append(UInt8(truncatingIfNeeded: messageType))
        bytes.append(UInt8(truncatingIfNeeded: groups.count))
        for group in groups {
            bytes.append(UInt8(truncatingIfNeeded: group.utf8.count))
            bytes.append(contentsOf: group.utf8)
        }
        self.bytes = bytes
    }

    /// Whether this header is the one for `request`'s service, flags, type and groups.
    public func matches(_ request: MulticastRequest) -> Bool {
        service == request.service && selfDiscard == request.selfDiscard && messageType == request.messageType
            && groups == request.groups
    }

    /// Appends a whole multicast frame, `length | header | payload`, to `buffer` in one write.
    public func writeFrame(payload: ByteBuffer, into buffer: inout ByteBuffer) {
        FrameWriting.write(header: bytes, payload: payload, into: &buffer)
    }
}

/// Writes `length | header | payload` frames with one capacity check and two copies.
enum FrameWriting {
    static func write(header: [UInt8], payload: ByteBuffer, into buffer: inout ByteBuffer) {
        let payloadLength = payload.readableBytes
        let total = 4 + header.count + payloadLength
        header.withUnsafeBytes { head in
            payload.withUnsafeReadableBytes { body in
                _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
                    out.storeBytes(of: UInt32(head.count + payloadLength).bigEndian, toByteOffset: 0, as: UInt32.self)
                    out.baseAddress!.advanced(by: 4).copyMemory(from: head.baseAddress!, byteCount: head.count)
                    if payloadLength > 0 {
                        out.baseAddress!.advanced(by: 4 + head.count).copyMemory(from: body.baseAddress!, byteCount: payloadLength)
                    }
                    return total
                }
            }
        }
    }
}
