import ChorusProtocol
import NIOCore

/// One client connection's pipeline: bytes in, cut into frames here (no handler per frame and
/// no boxing of each frame), handed to the daemon core.
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let core: DaemonCore
    var session: ClientSession?
    private var frames: NIOSingleStepByteToMessageProcessor<FrameDecoder>

    init(core: DaemonCore, maxFrameLength: Int) {
        self.core = core
        self.frames = NIOSingleStepByteToMessageProcessor(FrameDecoder(maxFrameLength: maxFrameLength))
    }

    func channelActive(context: ChannelHandlerContext) {
        session = core.clientConnected(context.channel)
        context.fireChannelActive()
    }

    /// Before a session is connected its first frame must be a small connect frame; a larger
    /// declared length is refused before anything is buffered for it.
    static let maxConnectFrame: UInt32 = 1024
    private var checkedFirstFrame = false
    /// The first bytes, kept until the first frame's length can be read.
    private var prefix: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A session that is ending (after its queued requests) reads nothing more.
        guard let session, !session.isClosed, session.endAfterQueue == nil else { return }
        var buffer = unwrapInboundIn(data)
        if !checkedFirstFrame {
            if var kept = prefix.take() {
                kept.writeBuffer(&buffer)
                buffer = kept
            }
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
                prefix = buffer
                return
            }
            checkedFirstFrame = true
            if length > Self.maxConnectFrame {
                core.protocolError(session, ProtocolError(.frameTooLarge, "first frame of \(length) bytes; a connect frame is at most \(Self.maxConnectFrame)"))
                return
            }
        }
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
        core.logger.debug("session \(session.id?.privateGroup ?? "?") connection error: \(error)")
        core.clientClosed(session)
        context.close(promise: nil)
        core.endOfInput()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let session { core.clientClosed(session) }
        core.endOfInput()
    }
}

extension Optional {
    fileprivate mutating func take() -> Wrapped? {
        var value: Wrapped? = nil
        swap(&self, &value)
        return value
    }
}
