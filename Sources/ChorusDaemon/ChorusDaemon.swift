import ChorusCore
import ChorusWire
import ChorusProtocol
import ChorusSeal
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// One running `chorusd`: the engine on a single event loop, its UDP ring sockets and its client
/// listeners (TCP and a Unix socket).
///
/// ```swift
/// let daemon = try ChorusDaemon(config: .singleDaemon(), name: "local", logger: logger)
/// try await daemon.run()        // until shutdown() (or a signal, through ChorusDaemonService)
/// ```
public final class ChorusDaemon: Sendable {
    public let config: DaemonConfig
    public let peer: DaemonConfig.Peer
    private let group: MultiThreadedEventLoopGroup
    private let core: DaemonCore

    /// Prepares the daemon named `name` in `config`. Nothing is bound until `run`.
    public init(config: DaemonConfig, name: String, logger: Logger) throws(ConfigError) {
        guard let peer = config.peer(named: name) else {
            throw ConfigError(
                file: "configuration", line: 0, key: "daemon.name",
                message: "no daemon named '\(name)'; expected one of \(config.daemons.map(\.name).joined(separator: ", "))")
        }
        // Datagrams as large as every route to the peers takes (unless the file set a size).
        let (resolved, receiveLimit) = config.resolvingDatagramSize(for: name)
        self.config = resolved
        self.peer = peer
        self.receiveDatagramLimit = receiveLimit
        // One thread: the engine is a single state machine and the loop owns it without locks.
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = logger
        logger[metadataKey: "daemon"] = "\(name)"
        self.core = DaemonCore(eventLoop: group.next(), config: resolved, peer: peer, logger: logger)
    }

    /// The largest ring datagram a peer may send this daemon (its receive slots hold it).
    private let receiveDatagramLimit: Int

    /// Binds the sockets, joins the ring and serves clients until `shutdown()`.
    public func run() async throws {
        let loop = core.eventLoop
        do {
            try await bind(on: loop)
        } catch {
            await shutdownAfterFailure(loop)
            throw error
        }
        try await core.stopped.futureResult.get()
        try? await Task.sleep(for: .milliseconds(20))
        try await group.shutdownGracefully()
    }

    /// Leaves the ring gracefully (the other daemons reconfigure at once), ends every session and
    /// makes `run` return.
    public func shutdown() {
        core.eventLoop.execute { [core] in core.beginShutdown() }
    }

    private func shutdownAfterFailure(_ loop: any EventLoop) async {
        try? await loop.submit { [core] in core.beginShutdown() }.get()
        try? await group.shutdownGracefully()
    }

    private func bind(on loop: any EventLoop) async throws {
        let core = self.core
        let peer = self.peer
        // A receive slot holds the largest data datagram and the largest token, commit token or
        // join, which grow with the retransmission list and the site (a truncated one is lost).
        let slotSize = max(
            config.datagramSize, receiveDatagramLimit,
            PacketCodec.largestControlPacket(
                members: config.siteDaemons(of: peer).count, retransmitRequests: config.ring.maxRetransmitRequests)) + 64
        // UDP segmentation and receive offload for data: runs of datagrams cross the network
        // stack once (see SegmentBatcher), where the system has it and every peer's route takes
        // a whole datagram unfragmented. A slot then holds up to 64 KiB.
        let peerAddresses = config.siteDaemons(of: peer).filter { $0.id != peer.id }.compactMap {
            try? SocketAddress(ipAddress: $0.address, port: $0.port)
        }
        let offload = config.udpOffload && System.supportsUDPSegmentationOffload && System.supportsUDPReceiveOffload
            && PathMTU.fits(config.datagramSize, toward: peerAddresses)
        if config.udpOffload, !offload {
            core.logger.info("UDP offload off: not supported here, or a peer's route MTU is below datagram_size plus headers")
        }
        // Large slots are read into one large buffer: datagrams are then copied out, or the ring
        // keeping one packet would keep the whole read's buffer alive.
        // Sealed datagrams open into buffers of their own: no copy needed then.
        let copyDatagrams = slotSize > 4096 && config.keyFile == nil
        @Sendable func udp(_ port: Int, host: String? = nil, receiveOffload: Bool = false) async throws -> any Channel {
            // With offload a slot can hold a run of ~44 datagrams: one read per wake-up keeps the
            // token socket from waiting behind more than a few hundred of them.
            let slots = receiveOffload ? 8 : 32
            let slot = receiveOffload ? 1 << 16 : slotSize
            var bootstrap = DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
                // recvmmsg: several datagrams per system call; the buffer is split into that many slots.
                .channelOption(.datagramVectorReadMessageCount, value: slots)
                // Few reads per wake-up: the token socket must not wait behind thousands of data packets.
                .channelOption(.maxMessagesPerRead, value: UInt(receiveOffload ? 1 : 2))
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: slot * slots))
            if receiveOffload {
                bootstrap = bootstrap
                    .channelOption(.datagramReceiveOffload, value: true)
                    .channelOption(.datagramReceiveSegmentSize, value: true)
            }
            return try await bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            RingDatagramHandler(core: core, receiveOffload: receiveOffload, copyDatagrams: copyDatagrams))
                    }
                }
                .bind(host: host ?? peer.address, port: port).get()
        }
        // Keys before any socket: the hop socket reads from the moment it is bound, and a peer's
        // sealed datagram read before then would be decoded as it came, and counted as bad.
        let sealing = try makeSealing()
        let data = try await udp(peer.port, receiveOffload: offload)
        let token = try await udp(peer.tokenPort)
        // NIO closes a datagram channel on a send error it cannot recover from; a daemon that can
        // no longer send ring data must leave rather than linger until the others fail it.
        for (channel, name) in [(data, "data"), (token, "token")] {
            channel.closeFuture.whenComplete { [core] _ in
                core.eventLoop.execute {
                    guard core.isRunning else { return }
                    core.logger.critical("ring \(name) socket closed unexpectedly; leaving the ring")
                    core.beginShutdown()
                }
            }
        }
        var multicastReceiver: (any Channel)?
        if let group = config.multicast {
            multicastReceiver = try await joinMulticast(group, udp: { try await udp($0, host: $1) }, sender: data)
        }
        var wideArea: WideAreaService?
        if WideAreaService.isNeeded(config, for: peer) {
            let service = WideAreaService(eventLoop: loop, config: config, peer: peer, logger: core.logger)
            service.sealing = sealing  // no channel yet, so nothing reads it concurrently
            let channel = try await DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 1 << 16))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HopDatagramHandler(service: service))
                    }
                }
                .bind(host: peer.address, port: peer.hopPort).get()
            try await loop.submit {
                service.channel = channel
                service.onRouted = { [unowned core] body in core.wideAreaReceived(body) }
                service.onTopologyChanged = { [unowned core] reached in core.wideAreaTopologyChanged(reached: reached) }
            }.get()
            channel.closeFuture.whenComplete { _ in loop.execute { service.socketClosed() } }
            wideArea = service
        }
        let transport = try RingTransport(
            data: data, token: token, me: NodeID(peer.id), peers: config.siteDaemons(of: peer), multicast: config.multicast,
            segmentation: offload, logger: core.logger)
        transport.sealing = sealing
        // Started before the client listeners are bound: a client that connects as soon as it can
        // must find a running daemon (it was refused as "shutting down" before).
        try await loop.submit { [wideArea] in
            core.transport = transport
            core.wideArea = wideArea
            core.sealing = sealing
            core.start()
        }.get()

        let maxFrame = min(ClientProtocol.maxFrameLength, config.ring.maxMessageSize + (1 << 16))
        @Sendable func initialize(_ channel: any Channel) -> EventLoopFuture<Void> {
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ClientChannelHandler(core: core, maxFrameLength: maxFrame))
            }
        }
        // TLS on the TCP listener only (the Unix socket has the kernel's credentials instead).
        let tlsContext = try config.tls.map { try NIOSSLContext(configuration: TLSSetup.serverConfiguration($0)) }
        @Sendable func initializeTCP(_ channel: any Channel) -> EventLoopFuture<Void> {
            guard let tlsContext else { return initialize(channel) }
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                try channel.pipeline.syncOperations.addHandler(ClientChannelHandler(core: core, maxFrameLength: maxFrame, tls: true))
            }
        }
        if let files = config.tls {
            core.logger.notice("TLS on the TCP client listener\(files.clientCA != nil ? ", client certificates required (CA \(files.clientCA!))" : "")")
        }
        let watermark = ChannelOptions.Types.WriteBufferWaterMark(low: 256 << 10, high: 1 << 20)
        /// A client listener on TCP (`port`) or a Unix socket (`path`), its connections set up by `initializer`.
        func listen(
            port: Int? = nil, path: String? = nil, _ initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
        ) async throws -> any Channel {
            var bootstrap = ServerBootstrap(group: loop).serverChannelOption(.backlog, value: 256)
            if port != nil {
                bootstrap = bootstrap
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            }
            bootstrap = bootstrap
                // A small receive buffer keeps what a flat-out sender has queued (its latency) short;
                // the daemon stops reading when its send queue is full, so this is where senders wait.
                .childChannelOption(.socketOption(.so_rcvbuf), value: 256 << 10)
                .childChannelOption(.writeBufferWaterMark, value: watermark)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer(initializer)
            if let port { return try await bootstrap.bind(host: peer.clientAddress, port: port).get() }
            return try await bootstrap.bind(unixDomainSocketPath: path!, cleanupExistingSocketFile: true).get()
        }
        var listeners: [any Channel] = []
        if peer.clientPort != 0 { listeners.append(try await listen(port: peer.clientPort, initializeTCP)) }
        if !peer.unixSocket.isEmpty { listeners.append(try await listen(path: peer.unixSocket, initialize)) }
        // The Spread-compatible listener: the same sessions, Spread's protocol.
        let maxPayload = core.engine.groups.limits.maxPayloadBytes
        @Sendable func initializeSpread(_ channel: any Channel) -> EventLoopFuture<Void> {
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(SpreadChannelHandler(core: core, maxPayload: maxPayload))
            }
        }
        if peer.spreadPort != 0 { listeners.append(try await listen(port: peer.spreadPort, initializeSpread)) }
        if !peer.spreadSocket.isEmpty { listeners.append(try await listen(path: peer.spreadSocket, initializeSpread)) }
        if peer.spreadPort != 0 || !peer.spreadSocket.isEmpty {
            core.logger.notice("Spread 4 client protocol on \(peer.spreadPort != 0 ? "TCP \(peer.clientAddress):\(peer.spreadPort)" : "")\(peer.spreadPort != 0 && !peer.spreadSocket.isEmpty ? " and " : "")\(peer.spreadSocket)")
        }
        let unixSocket = peer.unixSocket
        let spreadSocket = peer.spreadSocket
        let allListeners = listeners
        let multicastChannel = multicastReceiver
        try await loop.submit {
            core.onStop.append {
                for listener in allListeners { listener.close(promise: nil) }
                transport.close()
                multicastChannel?.close(promise: nil)
                if !unixSocket.isEmpty { unlink(unixSocket) }
                if !spreadSocket.isEmpty { unlink(spreadSocket) }
            }
        }.get()
    }
}

extension ChorusDaemon {
    /// The sealing of daemon traffic the configuration asks for; nil (said loudly) in plain mode.
    fileprivate func makeSealing() throws -> DatagramSealing? {
        guard let keyFile = config.keyFile else {
            core.logger.warning(
                "PLAIN MODE: ring and hop datagrams are neither authenticated nor encrypted; anyone who can reach this daemon's UDP ports can read them and disturb the ring. Set [security] key_file (see 'chorus keygen') unless the network is trusted.")
            return nil
        }
        let keys: SealKeys
        do {
            keys = try KeyFile.load(path: keyFile)
        } catch {
            throw ConfigError(file: keyFile, line: error.line, key: "security.key_file", message: error.message)
        }
        return DatagramSealing(
            keyFile: keyFile, keys: keys, me: peer.id, members: Set(config.daemons.map(\.id)), logger: core.logger)
    }

    /// Reads the key file again (what `chorusd` does on SIGHUP): daemons move to a new key by
    /// themselves once every peer holds it. Fails when the daemon runs in plain mode or the file
    /// does not load (the keys then stay as they were).
    public func reloadKeys() async throws -> [UInt16] {
        let core = self.core
        let result: Result<[UInt16], KeyFileError>? = try await core.eventLoop.submit {
            core.sealing?.reload(now: core.now)
        }.get()
        guard let result else {
            throw KeyFileError(file: "configuration", line: 0, message: "plain mode: no [security] key_file to reload")
        }
        return try result.get()
    }

    /// Binds a socket to the multicast group and joins it on the interface of this daemon's
    /// address; the data socket sends to the group from that interface, looped back to this
    /// host's other daemons, one hop only.
    fileprivate func joinMulticast(
        _ group: DaemonConfig.MulticastGroup, udp: @Sendable (Int, String?) async throws -> any Channel, sender: any Channel
    ) async throws -> any Channel {
        let receiver = try await udp(group.port, group.address)
        guard let membership = receiver as? SocketOptionProvider, let options = sender as? SocketOptionProvider else {
            throw ConfigError(file: "configuration", line: 0, key: "ring.multicast", message: "this platform's UDP channels do not take socket options")
        }
        // IP_ADD_MEMBERSHIP by interface address (NIO's joinGroup wants a device flagged for
        // multicast, which loopback is not, though the kernel serves it).
        var request = ip_mreq()
        inet_pton(AF_INET, group.address, &request.imr_multiaddr)
        inet_pton(AF_INET, peer.address, &request.imr_interface)
        try await membership.unsafeSetSocketOption(level: .ip, name: .ip_add_membership, value: request).get()
        var interface = in_addr()
        inet_pton(AF_INET, peer.address, &interface)
        try await options.setIPMulticastIF(interface).get()
        try await options.setIPMulticastLoop(1).get()
        try await options.setIPMulticastTTL(1).get()
        return receiver
    }
}

/// Runs a `ChorusDaemon` under swift-service-lifecycle: on SIGTERM or SIGINT it leaves the ring
/// gracefully.
public struct ChorusDaemonService: ServiceLifecycle.Service {
    public let daemon: ChorusDaemon
    public init(daemon: ChorusDaemon) { self.daemon = daemon }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await daemon.run()
        } onGracefulShutdown: {
            daemon.shutdown()
        }
    }
}
