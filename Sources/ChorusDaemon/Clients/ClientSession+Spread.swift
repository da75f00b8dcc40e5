import ChorusSpread
import ChorusWire
import NIOCore

/// What a session of the Spread-compatible listener is sent, in Spread's layout and the
/// client's byte order (`spreadOrder`).
extension ClientSession {
    /// Appends a data message: Spread's header and group names (`header`, built for the stream in
    /// this session's byte order), then the payload, copied into the batch unless it is large
    /// enough to be written as a buffer of its own.
    func appendSpreadMessage(header: SpreadDataHeader, payload: ByteBuffer) {
        messagesReceived += 1
        queuedMessages += 1
        let length = payload.readableBytes
        withBatch(header.bytes.count + (length < Self.copyLimit ? length : 0)) { buffer in
            header.write(payloadLength: length, into: &buffer)
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
