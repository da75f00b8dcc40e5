import ChorusProtocol
import NIOCore

/// A session's pipeline: cuts the daemon's bytes into frames, decodes them, and hands the events
/// of each read to the session's inbox at once. The first frame answers the connect.
///
/// It also keeps the connection's write side: writes from the session are flushed once per turn
/// of the event loop (a task that multicasts many messages in a row sends them in one system
/// call), and senders wait here while the socket cannot take more.
final class SessionChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let inbox: SessionInbox
    private var welcome: EventLoopPromise<Welcome>?
    private var frames = NIOSingleStepByteToMessageProcessor(FrameDecoder())
    private var names = MessageNameCache()
    private var batch: [ChorusEvent] = []
    private var batchBytes = 0
    private var failed = false
    private var context: ChannelHandlerContext?
    private var flushScheduled = false
    private var writabilityWaiters: [EventLoopPromise<Void>] = []
    /// Set once the connection is unusable for writing: why.
    private(set) var writeError: ChorusClientError?

    /// The executor of the session's tasks when they run on this loop, told of every read.
    private let executor: EventLoopTaskExecutor?

    init(inbox: SessionInbox, welcome: EventLoopPromise<Welcome>, executor: EventLoopTaskExecutor?) {
        self.inbox = inbox
        self.welcome = welcome
        self.executor = executor
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        do {
            try frames.process(buffer: unwrapInboundIn(data)) { frame in
                guard welcome == nil else { return try answerConnect(frame) }
                if frame.type == FrameType.message.rawValue {
                    let message = try DaemonEvent.decodeMessage(frame.body, names: &names)
                    batchBytes += message.payload.readableBytes
                    batch.append(.message(ChorusMessage(
                        sender: message.sender, groups: message.groups, service: message.service,
                        messageType: message.messageType, payload: message.payload)))
                } else {
                    switch try DaemonEvent.decode(frame) {
                    case .message: preconditionFailure("message frames are decoded above")
                    case .membership(let membership): batch.append(.membership(ChorusMembership(membership)))
                    case .statusReply(let json):
                        batchBytes += json.utf8.count
                        batch.append(.status(json))
                    case .error(let code, let text): end(ChorusClientError(.refused(code), text), context: context)
                    case .refused(let refusal): batch.append(.refused(ChorusRefusal(refusal)))
                    case .welcome: throw ChorusClientError(.protocolViolation, "a second welcome frame")
                    }
                }
            }
        } catch let error as ChorusClientError {
            end(error, context: context)
        } catch {
            end(ChorusClientError(.protocolViolation, "\(error)"), context: context)
        }
    }

    private func answerConnect(_ frame: RawFrame) throws {
        let promise = welcome!
        welcome = nil
        switch try DaemonEvent.decode(frame) {
        case .welcome(let accepted): promise.succeed(accepted)
        case .error(let code, let text): promise.fail(ChorusClientError(.refused(code), text))
        default: promise.fail(ChorusClientError(.protocolViolation, "expected a welcome frame first"))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        executor?.sawInput()
        handOver(context)
        context.fireChannelReadComplete()
    }

    private func handOver(_ context: ChannelHandlerContext) {
        guard !batch.isEmpty else { return }
        let bytes = batchBytes
        batchBytes = 0
        if !inbox.deliver(&batch, bytes: bytes) {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    /// The session ends with `error`: what was read before it still reaches the reader.
    private func end(_ error: ChorusClientError, context: ChannelHandlerContext) {
        guard !failed else { return }
        failed = true
        handOver(context)
        welcome.take()?.fail(error)
        inbox.finish(error)
        failWriters(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handOver(context)
        let closed = ChorusClientError(.closed, "the daemon closed the connection")
        welcome.take()?.fail(ChorusClientError(.closed, "the daemon closed the connection before welcoming the session"))
        inbox.finish(nil)
        failWriters(closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(ChorusClientError(.closed, "\(error)"), context: context)
    }

    // MARK: Writing (on the event loop only)

    /// Queues `buffer` for the daemon; it leaves with the next flush, at the end of this turn of
    /// the event loop. Returns nil, or a future that completes once the socket can take more.
    func write(_ buffer: ByteBuffer) throws(ChorusClientError) -> EventLoopFuture<Void>? {
        guard let context, writeError == nil else {
            throw writeError ?? ChorusClientError(.closed, "the connection is closed")
        }
        context.write(NIOAny(buffer), promise: nil)
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolatedUnsafeUnchecked().execute { [self] in
                flushScheduled = false
                self.context?.flush()
            }
        }
        guard !context.channel.isWritable else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        writabilityWaiters.append(promise)
        return promise.futureResult
    }

    /// Flushes what was written and shuts the write side down once it is out.
    func finishWriting() {
        guard let context, writeError == nil else { return }
        context.flush()
        context.close(mode: .output, promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let waiters = writabilityWaiters
            writabilityWaiters.removeAll()
            for waiter in waiters { waiter.succeed() }
        }
        context.fireChannelWritabilityChanged()
    }

    private func failWriters(_ error: ChorusClientError) {
        if writeError == nil { writeError = inbox.failure ?? error }
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.fail(writeError!) }
    }
}

extension Optional {
    fileprivate mutating func take() -> Wrapped? {
        var value: Wrapped? = nil
        swap(&self, &value)
        return value
    }
}
