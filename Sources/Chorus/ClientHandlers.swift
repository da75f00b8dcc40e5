import ChorusProtocol
import NIOCore

/// Cuts the daemon's bytes into frames and decodes them; the first event answers the connect.
/// The events of one socket read travel on as one batch, so the async consumer pays its
/// hand-off once per read, not once per message.
final class DaemonEventHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = [DaemonEvent]
    private var welcome: EventLoopPromise<Welcome>?
    private var batch: [DaemonEvent] = []
    private var frames = NIOSingleStepByteToMessageProcessor(FrameDecoder())
    private var failed = false

    init(welcome: EventLoopPromise<Welcome>) { self.welcome = welcome }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        do {
            try frames.process(buffer: unwrapInboundIn(data)) { frame in
                let event = try DaemonEvent.decode(frame)
                if let promise = welcome.take() {
                    switch event {
                    case .welcome(let welcome): promise.succeed(welcome)
                    case .error(let code, let text): promise.fail(ChorusClientError(.refused(code), text))
                    default: promise.fail(ChorusClientError(.protocolViolation, "expected a welcome frame first"))
                    }
                    return
                }
                batch.append(event)
                if batch.count >= 1024 { flushBatch(context) }
            }
        } catch {
            failed = true
            let violation = ChorusClientError(.protocolViolation, "\(error)")
            flushBatch(context)
            fail(violation)
            context.fireErrorCaught(violation)
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushBatch(context)
        context.fireChannelReadComplete()
    }

    private func flushBatch(_ context: ChannelHandlerContext) {
        guard !batch.isEmpty else { return }
        let events = batch
        batch = []
        batch.reserveCapacity(events.count)
        context.fireChannelRead(wrapInboundOut(events))
    }

    func channelInactive(context: ChannelHandlerContext) {
        flushBatch(context)
        fail(ChorusClientError(.closed, "the daemon closed the connection before welcoming the session"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(ChorusClientError(.closed, "\(error)"))
        context.fireErrorCaught(error)
    }

    private func fail(_ error: ChorusClientError) {
        welcome.take()?.fail(error)
    }
}

extension Optional {
    fileprivate mutating func take() -> Wrapped? {
        var value: Wrapped? = nil
        swap(&self, &value)
        return value
    }
}
