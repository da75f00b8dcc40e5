import ChorusSchema
import ChorusCore
import ChorusWire
import Foundation
import Logging
import NIOCore

/// The daemon's part in the wide area: while it is its site's representative (the lowest id of
/// its current regular ring), it runs the site's `SiteRouter` over its hop UDP socket. Until a
/// neighbour site's representative is heard, packets for that site go to the hop port of every
/// daemon of the site (only its representative answers); then to the address it was heard from,
/// until the link goes down (the representative may have moved).
///
/// The engine's order layer (`SiteOrder`) says when this daemon represents its site, hands it
/// bodies to route to the other sites, and takes what the router delivers (`onRouted`).
///
/// Confined to the daemon's event loop, like `DaemonCore` (hence `@unchecked Sendable`).
final class WideAreaService: @unchecked Sendable {
    let eventLoop: any EventLoop
    let config: DaemonConfig
    let peer: DaemonConfig.Peer
    let site: SiteID
    var logger: Logger
    var channel: (any Channel)?
    /// Seals every hop datagram when the configuration names a key file.
    var sealing: DatagramSealing?
    private(set) var router: SiteRouter?
    /// Every daemon's hop address, by site: where packets go until a representative is heard.
    private let candidates: [SiteID: [SocketAddress]]
    /// Where each neighbour site's representative was last heard from.
    private var heardFrom: [SiteID: SocketAddress] = [:]
    private var timer: Scheduled<Void>?
    private var timerDeadline: Instant = .max
    private(set) var counters = WideAreaCounters()
    /// The topology last logged.
    private var lastTopology: SiteTopology?
    /// Takes a routed body the router delivered to this site (the order layer's input).
    var onRouted: (ByteBuffer) -> Void = { _ in }
    /// Told when routes change or a link comes up, with the sites the router reaches (the order
    /// layer resends what is unanswered, and its configuration of sites follows them).
    var onTopologyChanged: ([SiteID]) -> Void = { _ in }

    init(eventLoop: any EventLoop, config: DaemonConfig, peer: DaemonConfig.Peer, logger: Logger) {
        self.eventLoop = eventLoop
        self.config = config
        self.peer = peer
        self.site = SiteID(peer.site)
        self.logger = logger
        var candidates: [SiteID: [SocketAddress]] = [:]
        let family = (try? SocketAddress(ipAddress: peer.address, port: 0))?.protocol
        for other in config.daemons where other.site != peer.site {
            // The hop socket speaks its own address family; a send to the other fails and would
            // close it.
            if let address = try? SocketAddress(ipAddress: other.address, port: other.hopPort), address.protocol == family {
                candidates[SiteID(other.site), default: []].append(address)
            }
        }
        self.candidates = candidates
        if let impairment = config.hopImpairment {
            self.logger.warning("TEST IMPAIRMENT: hop datagrams delayed \(impairment.delay / 1_000_000) ms (+ up to \(impairment.jitter / 1_000_000) ms), \(impairment.lossPercent) % dropped ([wide_area] test_*); not for production")
        }
    }

    /// Whether the configuration has a wide area for this daemon (more than one site, and a link
    /// from its own).
    static func isNeeded(_ config: DaemonConfig, for peer: DaemonConfig.Peer) -> Bool {
        config.sites.count > 1 && config.links.contains { $0.sites.0 == peer.site || $0.sites.1 == peer.site }
    }

    var now: Instant { NIODeadline.now().uptimeNanoseconds }

    /// The order layer made this daemon its site's representative (the lowest id of its regular
    /// ring) or took it back. A new representative starts a router with a new incarnation (from
    /// the clock, so it is newer than its predecessor's); one that is no longer it stops.
    func setRepresentative(_ isRepresentative: Bool) {
        if isRepresentative, router == nil {
            let incarnation = UInt64(max(1, Date().timeIntervalSince1970 * 1_000_000))
            let neighbours = config.links.compactMap { link -> (site: SiteID, cost: UInt32, rate: UInt64)? in
                if link.sites.0 == peer.site { return (SiteID(link.sites.1), link.cost, link.rate) }
                if link.sites.1 == peer.site { return (SiteID(link.sites.0), link.cost, link.rate) }
                return nil
            }
            router = SiteRouter(
                site: site, sites: config.sites.map { SiteID($0.id) }, neighbours: neighbours, incarnation: incarnation,
                now: now)
            logger.notice("representative of site \(siteName(site)) for the wide area: \(neighbours.count) link(s)")
            run { router, actions, now in router.start(now: now, into: &actions) }
        } else if !isRepresentative, router != nil {
            router = nil
            heardFrom.removeAll()
            timer?.cancel()
            timer = nil
            timerDeadline = .max
            logger.notice("no longer the representative of site \(siteName(site))")
        }
    }

    /// Routes `body` (from the order layer) to `sites` (empty: every other site).
    func originate(_ body: ByteBuffer, to sites: [SiteID]) {
        guard router != nil else { return }
        run { router, actions, now in _ = router.originate(body, interested: sites, now: now, into: &actions) }
    }

    /// One datagram on the hop socket.
    func datagram(_ buffer: ByteBuffer, from source: SocketAddress) {
        counters.datagramsReceived += 1
        var buffer = buffer
        if let sealing {
            guard let opened = sealing.open(buffer, channel: .hop, now: now) else { return }
            buffer = opened
        }
        let packet: HopPacket
        do {
            packet = try HopPacketCodec.decode(buffer)
        } catch {
            counters.badDatagrams += 1
            if counters.badDatagrams & (counters.badDatagrams - 1) == 0 {  // 1st, 2nd, 4th… only
                logger.warning("dropped a bad hop datagram (\(counters.badDatagrams) so far): \(error)")
            }
            return
        }
        guard router != nil else {
            counters.notRepresentative += 1
            return
        }
        // Only a packet its link took from the peer's current incarnation says where the peer's
        // representative is (a forged or stale one must not redirect the traffic).
        var taken = false
        run { router, actions, now in taken = router.receive(packet, now: now, into: &actions) }
        if taken, heardFrom[packet.header.from] != source { heardFrom[packet.header.from] = source }
    }

    func stop() {
        timer?.cancel()
        timer = nil
        timerDeadline = .max
        router = nil
        heardFrom.removeAll()
        channel?.close(promise: nil)
        channel = nil
    }

    /// The hop socket closed while the daemon runs (NIO closes a datagram socket on a send error
    /// it cannot recover from): the site loses the wide area through this daemon, loudly.
    func socketClosed() {
        guard channel != nil else { return }
        channel = nil
        logger.critical("hop socket closed unexpectedly; this daemon no longer links its site to the wide area")
    }

    /// Runs `body` on the router and performs what it asks.
    private func run(_ body: (inout SiteRouter, inout [SiteRouterAction], Instant) -> Void) {
        guard router != nil else { return }
        var actions: [SiteRouterAction] = []
        body(&router!, &actions, now)
        for action in actions {
            switch action {
            case .send(let packet, let to):
                send(packet, to: to)
            case .deliver(let message):
                counters.messagesDelivered += 1
                onRouted(message.body)
            case .topologyChanged:
                let topology = router!.topology
                guard topology != lastTopology else { break }
                lastTopology = topology
                onTopologyChanged(topology.component(of: site))
                let links = topology.links.keys.sorted().map { "\(siteName($0.low))-\(siteName($0.high))" }
                let reached = topology.component(of: site).map(siteName)
                logger.notice("wide area: \(reached.count) of \(config.sites.count) sites reachable [\(reached.joined(separator: ", "))], links up [\(links.joined(separator: ", "))]")
            case .linkUp(let neighbour):
                // Its other end may be a new representative that lost what was in flight.
                onTopologyChanged(router!.topology.component(of: site))
                logger.notice("hop link to site \(siteName(neighbour)) up")
            case .linkDown(let neighbour):
                heardFrom[neighbour] = nil
                logger.notice("hop link to site \(siteName(neighbour)) down")
            }
        }
        schedule()
    }

    private func send(_ packet: HopPacket, to neighbour: SiteID) {
        guard let channel else { return }
        var buffer = HopPacketCodec.encode(packet, allocator: channel.allocator)
        if let sealing { buffer = sealing.seal(buffer, channel: .hop) }
        let destinations = heardFrom[neighbour].map { [$0] } ?? candidates[neighbour] ?? []
        if let impairment = config.hopImpairment {
            sendImpaired(buffer, to: destinations, on: channel, impairment)
            return
        }
        for destination in destinations {
            counters.datagramsSent += 1
            channel.write(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
        }
        channel.flush()
    }

    /// Tests only: each datagram is dropped with the configured chance, or sent after the delay
    /// plus up to the jitter (so datagrams can overtake each other).
    private func sendImpaired(
        _ buffer: ByteBuffer, to destinations: [SocketAddress], on channel: any Channel, _ impairment: DaemonConfig.HopImpairment
    ) {
        for destination in destinations {
            counters.datagramsSent += 1
            guard Int.random(in: 0..<100) >= impairment.lossPercent else { continue }
            let delay = impairment.delay + (impairment.jitter > 0 ? UInt64.random(in: 0...impairment.jitter) : 0)
            eventLoop.scheduleTask(in: .nanoseconds(Int64(delay))) {
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
            }
        }
    }

    private func schedule() {
        guard let router else { return }
        let deadline = router.nextDeadline
        guard deadline < timerDeadline || timer == nil else { return }
        timer?.cancel()
        timerDeadline = deadline
        // One reading of the clock: read twice, it could pass the deadline in between (a trap).
        let current = now
        let delay = deadline > current ? deadline - current : 0
        timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(min(delay, 10_000_000_000)))) { [self] in
            timer = nil
            timerDeadline = .max
            run { router, actions, now in router.tick(now: now, into: &actions) }
        }
    }

    func status() -> DaemonStatus.WideArea {
        let links = (router?.links ?? [:]).sorted { $0.key < $1.key }.map { neighbour, link in
            let c = link.counters
            return DaemonStatus.WideArea.Link(
                site: siteName(neighbour), up: link.isUp,
                roundTripMs: link.roundTrip.samples > 0 ? Double(link.roundTrip.smoothed) / 1e6 : nil,
                rateBytesPerSecond: link.options.rate, unacknowledged: link.unacknowledged, queued: link.queued,
                dataSent: c.dataSent, retransmissions: c.retransmissions, duplicates: c.duplicates,
                refused: c.implausible + c.stale + c.foreign + c.outOfWindow)
        }
        let reachable = router.map { $0.topology.component(of: site).map(siteName) } ?? []
        return DaemonStatus.WideArea(
            site: siteName(site), representative: router != nil, reachable: reachable, links: links, counters: counters)
    }

    func siteName(_ id: SiteID) -> String { config.sites.first { $0.id == id.rawValue }?.name ?? "\(id)" }
}

/// Reads the hop socket into the service.
final class HopDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let service: WideAreaService

    init(service: WideAreaService) {
        self.service = service
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        service.datagram(envelope.data, from: envelope.remoteAddress)
    }
}
