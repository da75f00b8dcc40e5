import ChorusSpread
import ChorusWire
import NIOCore

/// What a session of the Spread-compatible listener is sent, in Spread's layout and the
/// client's byte order (`spreadOrder`).
extension ClientSession {
    /// Appends a data message: Spread's header and group names, then the payload, copied into
    /// the batch unless it is large enough to be written as a buffer of its own.
    func appendSpreadMessage(service: Service, selfDiscard: Bool, sender: String, groups: [String], messageType: UInt16, payload: ByteBuffer) {
        guard let order = spreadOrder else { return }
        messagesReceived += 1
        queuedMessages += 1
        let length = payload.readableBytes
        let headerSize = SpreadMessageWriter.dataHeaderSize(groupCount: groups.count)
        withBatch(headerSize + (length < Self.copyLimit ? length : 0)) { buffer in
            SpreadMessageWriter.writeDataHeader(
                service: service.rawValue, selfDiscard: selfDiscard, sender: sender, groups: groups, messageType: messageType, payloadLength: length,
                order: order, into: &buffer)
            if length < Self.copyLimit { buffer.writeImmutableBuffer(payload) }
        }
        guard length >= Self.copyLimit else { return }
        writeBatch()
        outstanding += length
        channel.write(payload, promise: nil)
    }

    /// Appends whatever `write` writes in the session's byte order (membership messages, rejects).
    func appendSpread(_ write: (SpreadByteOrder, inout ByteBuffer) -> Void) {
        guard let order = spreadOrder else { return }
        queuedMessages += 1
        withBatch(256) { write(order, &$0) }
    }
}
