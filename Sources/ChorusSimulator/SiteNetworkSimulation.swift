import ChorusCore
import ChorusWire
import NIOCore

/// Site representatives (`SiteRouter`) joined by simulated wide-area channels, in virtual time:
/// link state, routing trees and forwarding under delay, loss and cuts. Reproducible from `seed`.
public struct SiteNetworkSimulation {
    public private(set) var routers: [SiteID: SiteRouter] = [:]
    /// The channel carrying what `from` sends to `to`.
    public var channels: [SiteLink: [SiteID: WideAreaChannel]] = [:]
    public private(set) var now: Instant = 0
    /// Per site: the routed messages it delivered, by (origin, seq), with the time.
    public private(set) var delivered: [SiteID: [(origin: SiteID, seq: UInt64, at: Instant)]] = [:]
    public private(set) var decodeErrors = 0
    /// Ticks after which a router's next deadline was still due (a real driver would spin).
    public private(set) var sameInstantDeadlines = 0

    private let sites: [SiteID]
    private let configuredLinks: [(SiteID, SiteID, UInt32)]
    private let options: HopLinkOptions
    private var random: SimRandom
    private var queue = EventQueue<Event>()
    private var scheduledTick: [SiteID: Instant] = [:]

    private enum Event {
        case arrive(SiteID, ByteBuffer)
        case tick(SiteID)
    }

    /// `links`: the configured links (two sites, a cost); every direction gets `impairment`.
    public init(
        sites: [SiteID], links: [(SiteID, SiteID, UInt32)], impairment: WideAreaImpairment,
        options: HopLinkOptions = HopLinkOptions(), seed: UInt64
    ) {
        random = SimRandom(seed: seed)
        self.sites = sites
        configuredLinks = links
        self.options = options
        for site in sites {
            routers[site] = Self.router(site, sites: sites, links: links, options: options, incarnation: 1_000_000, now: 0)
        }
        for (a, b, _) in links { channels[SiteLink(a, b)] = [a: WideAreaChannel(impairment), b: WideAreaChannel(impairment)] }
        for site in sites.sorted() { act(site) { router, actions, now in router.start(now: now, into: &actions) } }
    }

    /// Replaces `site`'s router by a new one with `incarnation` (a new representative, whose
    /// clock may be behind its predecessor's).
    public mutating func restart(_ site: SiteID, incarnation: UInt64) {
        routers[site] = Self.router(site, sites: sites, links: configuredLinks, options: options, incarnation: incarnation, now: now)
        act(site) { router, actions, now in router.start(now: now, into: &actions) }
    }

    static func router(
        _ site: SiteID, sites: [SiteID], links: [(SiteID, SiteID, UInt32)], options: HopLinkOptions, incarnation: UInt64,
        now: Instant
    ) -> SiteRouter {
        let neighbours = links.compactMap { a, b, cost -> (site: SiteID, cost: UInt32, rate: UInt64)? in
            a == site ? (b, cost, options.rate) : b == site ? (a, cost, options.rate) : nil
        }
        return SiteRouter(site: site, sites: sites, neighbours: neighbours, incarnation: incarnation, options: options, now: now)
    }

    /// Cuts (or heals) the link between `a` and `b`, both ways.
    public mutating func setCut(_ a: SiteID, _ b: SiteID, _ cut: Bool) {
        let link = SiteLink(a, b)
        for end in [a, b] { channels[link]?[end]?.isCut = cut }
    }

    /// Sends `body` from `origin` to `interested` (every site if empty) at the current time.
    @discardableResult
    public mutating func originate(from origin: SiteID, interested: [SiteID] = [], size: Int = 200) -> UInt64 {
        var seq: UInt64 = 0
        let body = ByteBuffer(repeating: 0x42, count: size)
        act(origin) { router, actions, now in seq = router.originate(body, interested: interested, now: now, into: &actions) }
        return seq
    }

    public mutating func run(until time: Instant) {
        while let next = queue.nextTime, next <= time, let (at, event) = queue.pop() {
            now = at
            switch event {
            case .arrive(let site, let bytes):
                guard let packet = try? HopPacketCodec.decode(bytes) else {
                    decodeErrors += 1
                    continue
                }
                act(site) { router, actions, now in router.receive(packet, now: now, into: &actions) }
            case .tick(let site):
                guard scheduledTick[site] == at else { continue }
                scheduledTick[site] = nil
                act(site, ticking: true) { router, actions, now in router.tick(now: now, into: &actions) }
            }
        }
        now = max(now, time)
    }

    private mutating func act(
        _ site: SiteID, ticking: Bool = false, _ body: (inout SiteRouter, inout [SiteRouterAction], Instant) -> Void
    ) {
        var actions: [SiteRouterAction] = []
        body(&routers[site]!, &actions, now)
        for action in actions {
            switch action {
            case .send(let packet, let to):
                let bytes = HopPacketCodec.encode(packet)
                let arrivals = channels.transit(from: site, to: to, size: bytes.readableBytes + 28, now: now, random: &random)
                for arrival in arrivals { queue.push(.arrive(to, bytes), at: arrival) }
            case .deliver(let message):
                delivered[site, default: []].append((message.origin, message.seq, now))
            case .topologyChanged, .linkUp, .linkDown:
                break
            }
        }
        // A deadline a tick left due would spin a real driver: count it (the tests expect none).
        if ticking, routers[site]!.nextDeadline <= now { sameInstantDeadlines += 1 }
        let deadline = max(routers[site]!.nextDeadline, now + 1_000)
        if scheduledTick[site].map({ deadline < $0 }) ?? true {
            scheduledTick[site] = deadline
            queue.push(.tick(site), at: deadline)
        }
    }
}
