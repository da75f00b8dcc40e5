import ChorusProtocol
import NIOCore
import NIOSSL
import NIOTLS

/// One client connection's pipeline: bytes in, cut into frames here (no handler per frame and
/// no boxing of each frame), handed to the daemon core.
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let core: DaemonCore
    var session: ClientSession?
    private var frames: NIOSingleStepByteToMessageProcessor<FrameDecoder>
    /// Behind a TLS handler: the session's identity says so, and names the client certificate.
    let tls: Bool

    init(core: DaemonCore, maxFrameLength: Int, tls: Bool = false) {
        self.core = core
        self.tls = tls
        // Until the connect frame is in, only a small frame is buffered for an unknown client.
        self.frames = NIOSingleStepByteToMessageProcessor(
            FrameDecoder(maxFrameLength: maxFrameLength, maxFirstFrameLength: ClientProtocol.maxConnectFrameLength))
    }

    func channelActive(context: ChannelHandlerContext) {
        session = core.clientConnected(context.channel)
        if tls { session?.identity.tls = true }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Frames come only after the handshake, so the certificate is known before the connect.
        if case TLSUserEvent.handshakeCompleted = event, let session,
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        {
            session.identity.certificate = TLSSetup.commonName(handler.peerCertificate)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A session that is ending (after its queued requests) reads nothing more.
        guard let session, !session.isClosed, session.backpressure.ending == nil else { return }
        let buffer = unwrapInboundIn(data)
        do {
            try frames.process(buffer: buffer) { frame in
                core.clientFrame(session, frame)
            }
        } catch let error as ProtocolError {
            core.protocolError(session, error)
        } catch {
            core.close(session, error: nil, reason: "connection error: \(error)")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.endOfInput()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let session { core.writabilityChanged(session, isWritable: context.channel.isWritable) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let session else { return context.close(promise: nil) }
        // A reset or read error ends the connection like an end of stream: what was read
        // before it (queued while paused) still runs.
        core.logger.debug("session \(session.id.map(core.privateGroupName) ?? "?") connection error: \(error)")
        core.clientClosed(session)
        context.close(promise: nil)
        core.endOfInput()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let session { core.clientClosed(session) }
        core.endOfInput()
    }
}

