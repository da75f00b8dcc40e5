import ChorusCore
import ChorusSeal
import ChorusWire
import Logging
import NIOCore

/// The ring's UDP sockets: one for data packets, one for the token (and commit token), so a
/// token never waits behind a burst of data in the same receive queue.
///
/// Data packets are encoded once and written to every destination without flushing; `flush`
/// hands them to the kernel at the end of an input batch (NIO uses sendmmsg for a run of
/// datagrams). With `segmentation`, the datagrams to each destination are first gathered into
/// runs the kernel splits again (see `SegmentBatcher`). A token flushes the data written before
/// it, then leaves at once.
///
/// Its mutable properties are `@exclusivity(unchecked)` for the reason `DaemonCore` gives (a
/// write's callback that runs during a drain touches only `segmentationRefused`).
final class RingTransport: @unchecked Sendable {  // confined to the daemon's event loop
    let data: any Channel
    let token: any Channel
    private let me: NodeID
    private let dataAddresses: [NodeID: SocketAddress]
    private let tokenAddresses: [NodeID: SocketAddress]
    private let others: [NodeID]
    private let siteDataAddresses: [SocketAddress]
    /// The last member list data went to, and its addresses (the ring's others, nearly always).
    @exclusivity(unchecked) private var othersInOrder: [NodeID] = []
    @exclusivity(unchecked) private var othersDataAddresses: [SocketAddress] = []
    /// With IP multicast, data packets for the ring or the site go to this group once.
    private let multicastGroup: SocketAddress?
    @exclusivity(unchecked) private var dataPending = false
    private let allocator: ByteBufferAllocator
    /// Runs of datagrams per destination, when UDP segmentation offload is on.
    @exclusivity(unchecked) private var batcher: SegmentBatcher?
    /// Set when the kernel refused a run. A write's callback may run while the batcher is being
    /// drained, so it only sets this; the next write or flush drops the batcher.
    @exclusivity(unchecked) private var segmentationRefused = false
    /// Once refused, segmentation stays off (later failures of runs already written are ignored).
    @exclusivity(unchecked) private var segmentationStopped = false
    private let logger: Logger
    /// Seals every datagram when the configuration names a key file.
    var sealing: DatagramSealing?

    init(
        data: any Channel, token: any Channel, me: NodeID, peers: [DaemonConfig.Peer],
        multicast: DaemonConfig.MulticastGroup?, segmentation: Bool = false, logger: Logger = Logger(label: "chorus.ring")
    ) throws {
        self.logger = logger
        self.multicastGroup = try multicast.map { try SocketAddress(ipAddress: $0.address, port: $0.port) }
        self.data = data
        self.token = token
        self.me = me
        self.allocator = data.allocator
        var dataAddresses: [NodeID: SocketAddress] = [:]
        var tokenAddresses: [NodeID: SocketAddress] = [:]
        for peer in peers {
            dataAddresses[NodeID(peer.id)] = try SocketAddress(ipAddress: peer.address, port: peer.port)
            tokenAddresses[NodeID(peer.id)] = try SocketAddress(ipAddress: peer.address, port: peer.tokenPort)
        }
        self.dataAddresses = dataAddresses
        self.tokenAddresses = tokenAddresses
        self.others = peers.map { NodeID($0.id) }.filter { $0 != me }.sorted()
        self.siteDataAddresses = others.compactMap { dataAddresses[$0] }
        self.batcher = segmentation ? SegmentBatcher(allocator: data.allocator) : nil
    }

    func send(_ packet: Packet, to destination: Destination) {
        let isToken: Bool
        switch packet {
        case .token, .commit: isToken = true
        default: isToken = false
        }
        if !isToken, multicastGroup == nil, batcher != nil {
            // Encoded once, straight into the run that goes to every destination.
            if segmentationRefused { stopSegmenting() }
            let addresses = dataAddresses(destination)
            guard !addresses.isEmpty else { return }
            if let sealing {
                batcher!.add(size: PacketCodec.encodedSize(packet) + SealFormat.overhead, to: addresses, emit: { emit($0) }) {
                    sealing.seal(channel: .ring, into: &$0) { PacketCodec.encode(packet, into: &$0) }
                }
            } else {
                batcher!.add(size: PacketCodec.encodedSize(packet), to: addresses, emit: { emit($0) }) {
                    PacketCodec.encode(packet, into: &$0)
                }
            }
            dataPending = true
            return
        }
        var buffer = allocator.buffer(capacity: PacketCodec.encodedSize(packet))
        PacketCodec.encode(packet, into: &buffer)
        if let sealing { buffer = sealing.seal(buffer, channel: .ring) }
        if let multicastGroup, case .data = packet {
            switch destination {
            case .members, .site:
                // One datagram; every daemon of the site gets it (those of other rings drop it).
                data.write(AddressedEnvelope(remoteAddress: multicastGroup, data: buffer), promise: nil)
                dataPending = true
                return
            case .node: break
            }
        }
        switch destination {
        case .node(let node): write(buffer, to: node, isToken: isToken)
        case .members(let members):
            for node in members where node != me { write(buffer, to: node, isToken: isToken) }
        case .site:
            for node in others { write(buffer, to: node, isToken: isToken) }
        }
    }

    private func write(_ buffer: ByteBuffer, to node: NodeID, isToken: Bool) {
        if isToken {
            guard let address = tokenAddresses[node] else { return }
            // Accelerated passing: the engine emits the first few new packets, then the token,
            // then the rest. The token leaves now, behind those few only, so the next daemon
            // starts its visit while this one is still sending.
            flush()
            token.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
        } else {
            guard let address = dataAddresses[node] else { return }
            data.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
            dataPending = true
        }
    }

    /// The data addresses of `destination`, this daemon left out.
    private func dataAddresses(_ destination: Destination) -> [SocketAddress] {
        switch destination {
        case .node(let node): return node == me ? [] : dataAddresses[node].map { [$0] } ?? []
        case .members(let members):
            if members != othersInOrder {
                othersInOrder = members
                othersDataAddresses = members.filter { $0 != me }.compactMap { dataAddresses[$0] }
            }
            return othersDataAddresses
        case .site: return siteDataAddresses
        }
    }

    /// Sends every other daemon of the site a sealed empty datagram: it carries this daemon's key
    /// ids. (Ring traffic reaches each member only from its neighbours while the ring is idle, so
    /// without these a daemon would not learn that a member far round the ring holds a new key.)
    func announceKeys() {
        guard let sealing, !siteDataAddresses.isEmpty else { return }
        let sealed = sealing.seal(allocator.buffer(capacity: 0), channel: .ring)
        for address in siteDataAddresses { data.write(AddressedEnvelope(remoteAddress: address, data: sealed), promise: nil) }
        data.flush()
    }

    /// Hands the written data packets to the kernel (tokens leave at once, see `write`).
    func flush() {
        if segmentationRefused { stopSegmenting() }
        if batcher?.isEmpty == false { batcher!.drain { emit($0) } }
        if dataPending {
            dataPending = false
            data.flush()
        }
    }

    /// Writes one envelope; a run the kernel refuses turns segmentation off for good (the run's
    /// packets count as lost, and the ring's retransmission recovers them).
    private func emit(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard envelope.metadata?.segmentSize != nil else { return data.write(envelope, promise: nil) }
        let promise = data.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenFailure { [self] error in
            // Only flags here: reading `batcher` could overlap the drain that wrote this run.
            guard !segmentationRefused, !segmentationStopped else { return }
            segmentationRefused = true
            logger.warning("UDP segmentation offload refused (\(error)); sending plain datagrams from now on")
        }
        data.write(envelope, promise: promise)
    }

    /// Drops the batcher; its open runs leave as plain datagrams.
    private func stopSegmenting() {
        if var pending = batcher.take() {
            pending.drain(segmented: false) { data.write($0, promise: nil) }
        }
        segmentationRefused = false
        segmentationStopped = true
    }

    func close() {
        data.close(promise: nil)
        token.close(promise: nil)
    }
}

/// Feeds datagrams from either ring socket to the daemon.
final class RingDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let core: DaemonCore
    /// The socket has `UDP_GRO` on: a read may hold a run of datagrams (see `SegmentSplitter`).
    let receiveOffload: Bool
    /// Each datagram is copied into a buffer of its own (the read's buffer is large).
    let copyDatagrams: Bool

    init(core: DaemonCore, receiveOffload: Bool = false, copyDatagrams: Bool = false) {
        self.core = core
        self.receiveOffload = receiveOffload
        self.copyDatagrams = copyDatagrams
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if receiveOffload {
            SegmentSplitter.split(envelope, allocator: context.channel.allocator) { core.datagram($0) }
        } else if copyDatagrams {
            var own = context.channel.allocator.buffer(capacity: envelope.data.readableBytes)
            own.writeImmutableBuffer(envelope.data)
            core.datagram(own)
        } else {
            core.datagram(envelope.data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.endOfInput()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors for a daemon that is down, and the like: the ring's timeouts handle them.
        core.logger.trace("ring socket error: \(error)")
    }
}
