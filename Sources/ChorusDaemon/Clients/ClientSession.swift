import ChorusCore
import ChorusProtocol
import ChorusSpread
import ChorusWire
import NIOCore

/// One client connection, owned by the daemon's event loop.
///
/// Frames for the client are appended to `batch` while the engine runs and written with one
/// write and one flush per input batch. `outstanding` counts bytes handed to the channel that the
/// socket has not taken yet, which bounds the memory a client that stops reading can cost.
///
/// Its mutable properties are `@exclusivity(unchecked)` for the reason `DaemonCore` gives.
final class ClientSession: @unchecked Sendable {  // confined to the daemon's event loop
    let channel: any Channel
    let local: UInt64
    /// Set once the connect frame is accepted.
    @exclusivity(unchecked) var id: SessionID?
    var name = ""
    var membershipNotices = true
    /// The groups the client asked to be in (for status).
    var groups: Set<String> = []
    /// Who the client is (transport, Unix credentials, token).
    var identity: ClientIdentity
    /// The access rules' answers so far, per action and group.
    var accessDecisions: [AccessAction: [String: Bool]] = [:]
    @exclusivity(unchecked) var isClosed = false
    /// A session of the Spread-compatible listener: the byte order its messages go out in (its
    /// own); nil for a session of the Chorus protocol.
    @exclusivity(unchecked) var spreadOrder: SpreadByteOrder?

    /// Requests waiting while the daemon cannot take them (the session is paused).
    @exclusivity(unchecked) var backpressure = SenderBackpressure()
    var isPaused: Bool { backpressure.isPaused }
    /// When the connection was accepted (a session must send connect within a bound).
    var acceptedAt: Instant = 0

    @exclusivity(unchecked) var batch: ByteBuffer?
    /// The group list of the last multicast read, reused by the next one to the same groups.
    @exclusivity(unchecked) var groupNames = GroupListCache()
    @exclusivity(unchecked) var isDirty = false
    @exclusivity(unchecked) var outstanding = 0
    @exclusivity(unchecked) var unwritableSince: Instant?

    @exclusivity(unchecked) var messagesSent = 0
    @exclusivity(unchecked) var messagesReceived = 0

    /// Payloads at least this large are written as their own buffer instead of being copied.
    static let copyLimit = 16 << 10

    init(channel: any Channel, local: UInt64, identity: ClientIdentity) {
        self.channel = channel
        self.local = local
        self.identity = identity
    }


    func withBatch(_ minimumCapacity: Int, _ body: (inout ByteBuffer) -> Void) {
        if batch == nil { batch = channel.allocator.buffer(capacity: max(8192, minimumCapacity)) }
        body(&batch!)
    }

    func append(_ event: DaemonEvent) {
        withBatch(256) { event.encode(into: &$0) }
    }

    /// Appends a message frame: `header` (see `DeliveryCache`) and the payload, copied into the
    /// batch unless it is large enough to be written as a buffer of its own.
    func appendMessage(header: MessageFrameHeader, payload: ByteBuffer) {
        messagesReceived += 1
        let length = payload.readableBytes
        if length < Self.copyLimit {
            withBatch(length + header.bytes.count + 4) { header.writeFrame(payload: payload, into: &$0) }
            return
        }
        withBatch(header.bytes.count + 4) { buffer in
            buffer.writeInteger(UInt32(header.bytes.count + length))
            buffer.writeBytes(header.bytes)
        }
        writeBatch()
        outstanding += length
        channel.write(payload, promise: nil)
    }

    /// Hands the batch to the channel (without flushing).
    func writeBatch() {
        guard let buffer = batch.take() else { return }
        outstanding += buffer.readableBytes
        channel.write(buffer, promise: nil)
    }

    /// Writes and flushes what was appended since the last flush. `written` runs once the socket
    /// has taken all of it, with the byte count.
    func flush(written: @escaping @Sendable (Int) -> Void) {
        writeBatch()
        let bytes = outstanding - accounted
        accounted = outstanding
        let messages = queuedMessages - accountedMessages
        accountedMessages = queuedMessages
        guard bytes > 0 else { return }
        // An empty write completes after every earlier write: one promise per flush, not per message.
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in
            self.queuedMessages -= messages
            self.accountedMessages -= messages
            written(bytes)
        }
        channel.write(channel.allocator.buffer(capacity: 0), promise: promise)
        channel.flush()
    }

    /// Messages and membership messages appended and not yet taken by the socket (counted for
    /// Spread-protocol sessions, which are cut off above `spreadMaxSessionMessages` as Spread does).
    @exclusivity(unchecked) var queuedMessages = 0
    @exclusivity(unchecked) private var accountedMessages = 0

    /// Part of `outstanding` that a pending flush promise will subtract.
    @exclusivity(unchecked) private var accounted = 0

    /// The socket took `bytes` more.
    func taken(_ bytes: Int) {
        outstanding -= bytes
        accounted -= bytes
    }
}

extension Optional {
    /// Moves the value out, leaving nil.
    mutating func take() -> Wrapped? {
        var value: Wrapped? = nil
        swap(&self, &value)
        return value
    }
}
