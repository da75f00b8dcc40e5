import NIOCore

/// A data message's header and group names, built once for a stream of messages from one sender
/// with one service and type to one group list, in one byte order; each message then costs one
/// copy of these bytes and its length.
public struct SpreadDataHeader: Sendable {
    public let bytes: [UInt8]
    let order: SpreadByteOrder

    public init(service: UInt8, selfDiscard: Bool, sender: String, groups: [String], messageType: UInt16, order: SpreadByteOrder) {
        var buffer = ByteBufferAllocator().buffer(capacity: SpreadMessageWriter.dataHeaderSize(groupCount: groups.count))
        SpreadMessageWriter.writeDataHeader(
            service: service, selfDiscard: selfDiscard, sender: sender, groups: groups, messageType: messageType, payloadLength: 0,
            order: order, into: &buffer)
        bytes = Array(buffer.readableBytesView)
        self.order = order
    }

    /// Appends the header with `payloadLength` as its data length (the payload follows it).
    public func write(payloadLength: Int, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeBytes(bytes)
        // The data length is the header's last field, before the group names.
        buffer.setInteger(UInt32(payloadLength), at: start + Spread.headerSize - 4, endianness: order.endianness)
    }
}
