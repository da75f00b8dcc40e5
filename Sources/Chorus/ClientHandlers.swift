import ChorusProtocol
import NIOCore

/// Encodes requests into frames (a multicast payload is copied once, into its frame).
struct ClientRequestEncoder: MessageToByteEncoder {
    typealias OutboundIn = ClientRequest
    func encode(data: ClientRequest, out: inout ByteBuffer) throws {
        data.encode(into: &out)
    }
}

/// Turns raw frames into `DaemonEvent`s; the first one answers the connect. The events of one
/// socket read travel on as one batch, so the async consumer pays its hand-off once per read,
/// not once per message.
final class HandshakeHandler: ChannelInboundHandler {
    typealias InboundIn = RawFrame
    typealias InboundOut = [DaemonEvent]
    private var welcome: EventLoopPromise<Welcome>?
    private var batch: [DaemonEvent] = []

    init(welcome: EventLoopPromise<Welcome>) { self.welcome = welcome }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let event: DaemonEvent
        do {
            event = try DaemonEvent.decode(unwrapInboundIn(data))
        } catch {
            fail(ChorusClientError(.protocolViolation, "\(error)"))
            context.fireErrorCaught(ChorusClientError(.protocolViolation, "\(error)"))
            context.close(promise: nil)
            return
        }
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
