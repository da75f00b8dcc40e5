import ChorusSpread
import NIOCore

/// One connection of the Spread-compatible listener: Spread 4's handshake (connect, NULL
/// authentication, accept or a refusal code), then its requests, run as the Chorus protocol's.
/// Bytes are gathered until a whole part is in (a handshake part may come in pieces); a header
/// is checked before its body is waited for, so a client cannot make the daemon hold more than
/// one message of Spread's maximum size.
final class SpreadChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let core: DaemonCore
    private var session: ClientSession?
    private var reader: SpreadSessionReader
    private var pending: ByteBuffer?
    private var connect: SpreadConnect?

    init(core: DaemonCore, maxPayload: Int) {
        self.core = core
        self.reader = SpreadSessionReader(maxData: maxPayload)
    }

    func channelActive(context: ChannelHandlerContext) {
        let session = core.clientConnected(context.channel)
        session.spreadOrder = .little
        self.session = session
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session, !session.isClosed, session.backpressure.ending == nil else { return }
        var input = unwrapInboundIn(data)
        if pending != nil {
            pending!.writeBuffer(&input)
        } else {
            pending = input
        }
        do {
            while var buffer = pending.take() {
                defer { pending = buffer.readableBytes > 0 ? buffer : nil }
                guard let event = try reader.next(&buffer) else { break }
                handle(event, session: session, context: context)
                if session.isClosed { pending = nil; return }
            }
        } catch {
            refused(error, session: session, context: context)
        }
        // Keep what is pending compact: a client sending one byte at a time must not grow it.
        if pending != nil, pending!.readerIndex > 65_536 { pending!.discardReadBytes() }
    }

    private func handle(_ event: SpreadSessionReader.Event, session: ClientSession, context: ChannelHandlerContext) {
        switch event {
        case .connect(let connect):
            self.connect = connect
            var offer = context.channel.allocator.buffer(capacity: 8)
            SpreadMessageWriter.writeAuthenticationMethods(into: &offer)
            context.writeAndFlush(NIOAny(offer), promise: nil)
        case .authentication(let methods):
            guard let connect else { return }
            guard methods.allSatisfy({ $0 == "NULL" }) else {
                return refused(SpreadRefusal(.rejectAuth, "authentication methods \(methods) asked; this listener offers NULL only"), session: session, context: context)
            }
            switch core.spreadConnect(session, connect) {
            case .success(let privateGroup):
                reader.accepted(privateGroup: privateGroup)
                var accept = context.channel.allocator.buffer(capacity: 40)
                SpreadMessageWriter.writeAccept(privateGroup: privateGroup, for: connect, into: &accept)
                context.writeAndFlush(NIOAny(accept), promise: nil)
            case .failure(let refusal):
                refused(refusal, session: session, context: context)
            }
        case .request(let request):
            session.spreadOrder = reader.byteOrder
            core.spreadRequest(session, request)
        }
    }

    /// Before the accept, a refusal is the code as one byte, then the connection closes; after
    /// it, the session closes without a word, as Spread's daemon does.
    private func refused(_ refusal: SpreadRefusal, session: ClientSession, context: ChannelHandlerContext) {
        pending = nil
        guard session.id == nil else { return core.spreadProtocolError(session, refusal) }
        core.counters.clientProtocolErrors += 1
        core.logger.info("refused a Spread session from \(session.identity): \(refusal)")
        var reply = context.channel.allocator.buffer(capacity: 1)
        SpreadMessageWriter.writeRefusal(refusal.code, into: &reply)
        let channel = context.channel
        context.writeAndFlush(NIOAny(reply)).whenComplete { _ in channel.close(promise: nil) }
        core.close(session, error: nil, reason: "Spread handshake refused: \(refusal)")
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.endOfInput()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let session { core.writabilityChanged(session, isWritable: context.channel.isWritable) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let session else { return context.close(promise: nil) }
        core.clientClosed(session)
        context.close(promise: nil)
        core.endOfInput()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let session { core.clientClosed(session) }
        core.endOfInput()
    }
}
