import ChorusProtocol
import NIOCore

/// One client connection's pipeline end: frames in, to the daemon core.
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = RawFrame
    let core: DaemonCore
    var session: ClientSession?

    init(core: DaemonCore) { self.core = core }

    func channelActive(context: ChannelHandlerContext) {
        session = core.clientConnected(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session else { return }
        core.clientFrame(session, unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.endOfInput()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let session { core.writabilityChanged(session, isWritable: context.channel.isWritable) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let session else { return context.close(promise: nil) }
        if let error = error as? ProtocolError {
            core.protocolError(session, error)
        } else {
            core.close(session, error: nil, reason: "connection error: \(error)")
        }
        core.endOfInput()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let session { core.clientClosed(session) }
        core.endOfInput()
    }
}
