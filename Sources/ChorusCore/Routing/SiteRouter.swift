import ChorusWire
import NIOCore

/// One site's representative in the wide area, as a sans-IO state machine: a hop link to each
/// configured neighbour site, link state flooded between representatives, and messages routed
/// along the shortest-path tree of their origin site (pruned to the sites that need them).
///
/// - Link state: the router reports which of its links are up (`LinkStateReport`, a new
///   version on every change) and floods every report it takes to its other up neighbours; a
///   neighbour whose link comes up gets the whole database. Every router with the same reports
///   builds the same topology and trees.
/// - Routing: `originate` sends a message to the children of this site in its own tree; a
///   router that receives one delivers it (when its site is interested, or every site is) and
///   forwards it to its children in the origin's tree whose subtrees hold an interested site.
///   A message seen before (routes changed while it travelled) is dropped.
/// - Losses are repaired on each link (`HopLink`); a message queued on a link that goes down
///   waits for it to come back, and one held for a neighbour that restarted is lost here
///   (counted): end-to-end repair belongs to the order layer above (issue 10, not built yet).
public struct SiteRouter: Sendable {
    public let site: SiteID
    public private(set) var links: [SiteID: HopLink] = [:]
    public private(set) var database: LinkStateDatabase
    public private(set) var counters = SiteRouterCounters()
    let costs: [SiteID: UInt32]
    var trees: [SiteID: RoutingTree] = [:]
    var reportVersion: UInt64
    var nextSeq: UInt64
    /// Per origin, per representative incarnation (the two most recently heard): the routed seqs
    /// seen, and when each incarnation was last heard (a count of routed messages taken).
    var seen: [SiteID: [UInt64: (filter: RecentSeqs, heard: UInt64)]] = [:]
    var routedHeard: UInt64 = 0
    let incarnation: UInt64

    /// `incarnation`: this representative's, never 0, larger after every restart (from the
    /// clock); it also starts its link-state versions, so a restarted router's reports are newer
    /// than its predecessor's. Routed messages carry it, so their seqs start at 1 whatever it is.
    public init(
        site: SiteID, sites: [SiteID], neighbours: [(site: SiteID, cost: UInt32, rate: UInt64)], incarnation: UInt64,
        options: HopLinkOptions = HopLinkOptions(), now: Instant
    ) {
        self.site = site
        database = LinkStateDatabase(sites: sites)
        var costs: [SiteID: UInt32] = [:]
        for neighbour in neighbours where neighbour.site != site {
            var linkOptions = options
            linkOptions.rate = neighbour.rate
            links[neighbour.site] = HopLink(local: site, peer: neighbour.site, incarnation: incarnation, options: linkOptions, now: now)
            costs[neighbour.site] = max(1, neighbour.cost)
        }
        self.costs = costs
        reportVersion = incarnation
        self.incarnation = incarnation
        nextSeq = 1
    }

    /// The topology this router routes by.
    public var topology: SiteTopology { database.topology }

    /// Says hello on every link and reports this site's (so far empty) link state.
    public mutating func start(now: Instant, into actions: inout [SiteRouterAction]) {
        for neighbour in links.keys.sorted() {
            drive(neighbour, now: now, into: &actions) { link, linkActions in link.start(now: now, into: &linkActions) }
        }
        reportLinks(now: now, into: &actions)
    }

    /// Handles a hop packet from the network. Returns whether its link took it as from the
    /// peer's current incarnation (the driver may then send to where it came from).
    @discardableResult
    public mutating func receive(_ packet: HopPacket, now: Instant, into actions: inout [SiteRouterAction]) -> Bool {
        let from = packet.header.from
        guard packet.header.to == site, let before = links[from]?.counters else {
            counters.foreign += 1
            return false
        }
        drive(from, now: now, into: &actions) { link, linkActions in
            link.receive(packet, now: now, into: &linkActions)
        }
        guard let link = links[from] else { return false }
        let after = link.counters
        return after.stale == before.stale && after.foreign == before.foreign && after.implausible == before.implausible
            && link.peerIncarnation == packet.header.senderIncarnation
    }

    /// Runs every link's timers that are due.
    public mutating func tick(now: Instant, into actions: inout [SiteRouterAction]) {
        for neighbour in links.keys.sorted() where links[neighbour]!.nextDeadline <= now {
            drive(neighbour, now: now, into: &actions) { link, linkActions in link.tick(now: now, into: &linkActions) }
        }
    }

    /// When `tick` should run next.
    public var nextDeadline: Instant { links.values.map(\.nextDeadline).min() ?? .max }

    /// Sends `body` from this site to the sites in `interested` (every site if empty), along this
    /// site's tree. Returns the message's seq.
    @discardableResult
    public mutating func originate(
        _ body: ByteBuffer, interested: [SiteID] = [], now: Instant, into actions: inout [SiteRouterAction]
    ) -> UInt64 {
        let message = RoutedMessage(
            origin: site, incarnation: incarnation, seq: nextSeq, interested: Array(Set(interested)).sorted(), body: body)
        nextSeq += 1
        counters.originated += 1
        forward(message, now: now, into: &actions)
        return message.seq
    }

    // MARK: Internals

    /// Runs `body` on the link to `neighbour` and handles what it asks for.
    mutating func drive(
        _ neighbour: SiteID, now: Instant, into actions: inout [SiteRouterAction],
        _ body: (inout HopLink, inout [HopLinkAction]) -> Void
    ) {
        var linkActions: [HopLinkAction] = []
        body(&links[neighbour]!, &linkActions)
        for action in linkActions {
            switch action {
            case .send(let packet): actions.append(.send(packet, to: neighbour))
            case .deliver(_, let payload): arrived(payload, from: neighbour, now: now, into: &actions)
            case .up:
                actions.append(.linkUp(neighbour))
                // The neighbour may know nothing yet: it gets every other report held, and this
                // site's new one with the flood.
                for report in database.reports.values.sorted(by: { $0.site < $1.site }) where report.site != site {
                    send(.linkState(report), to: neighbour, now: now, into: &actions)
                }
                reportLinks(now: now, into: &actions)
            case .down:
                actions.append(.linkDown(neighbour))
                reportLinks(now: now, into: &actions)
            case .peerRestarted(let unacknowledged): counters.lostToRestarts += unacknowledged.count
            }
        }
    }

    mutating func arrived(_ payload: ByteBuffer, from neighbour: SiteID, now: Instant, into actions: inout [SiteRouterAction]) {
        guard let message = try? HopMessageCodec.decode(payload) else {
            counters.malformed += 1
            return
        }
        switch message {
        case .linkState(let report):
            guard report.site != site else {
                // Our own, back from a neighbour. One newer than ours (a predecessor's, whose
                // clock was ahead, or a forgery) would outrank every report we send: jump past it.
                if report.version >= reportVersion, report != database.reports[site] {
                    counters.ownReportsSuperseded += 1
                    reportVersion = report.version
                    reportLinks(now: now, into: &actions)
                }
                return
            }
            let refusedBefore = database.refused
            guard database.accept(report) else {
                if database.refused > refusedBefore { counters.malformed += 1 }
                return
            }
            topologyChanged(into: &actions)
            flood(report, except: neighbour, now: now, into: &actions)
        case .routed(let routed):
            guard database.sites.contains(routed.origin) else {
                counters.malformed += 1  // no such site: it would only grow the filters
                return
            }
            guard routed.origin != site, links[neighbour] != nil, firstSighting(routed) else {
                counters.duplicates += 1
                return
            }
            if routed.interested.isEmpty || routed.interested.contains(site) {
                counters.delivered += 1
                actions.append(.deliver(routed))
            }
            forward(routed, now: now, into: &actions)
        }
    }

    /// Whether `routed` is new here. Filters are kept for an origin's two most recently heard
    /// incarnations, whatever their clocks say (a late packet of an older one may then pass
    /// again: the order layer above drops it).
    mutating func firstSighting(_ routed: RoutedMessage) -> Bool {
        routedHeard += 1
        // Mutated in place: a copy would copy the filter's bitmap on every message.
        if seen[routed.origin] == nil { seen[routed.origin] = [:] }
        if seen[routed.origin]![routed.incarnation] == nil {
            if seen[routed.origin]!.count >= 2,
                let stalest = seen[routed.origin]!.min(by: { $0.value.heard < $1.value.heard })?.key
            {
                seen[routed.origin]![stalest] = nil
            }
            seen[routed.origin]![routed.incarnation] = (RecentSeqs(), routedHeard)
        }
        seen[routed.origin]![routed.incarnation]!.heard = routedHeard
        return seen[routed.origin]![routed.incarnation]!.filter.firstSighting(routed.seq)
    }

    /// Sends `message` on to this site's children in its origin's tree that need it.
    mutating func forward(_ message: RoutedMessage, now: Instant, into actions: inout [SiteRouterAction]) {
        let tree = tree(from: message.origin)
        let interested = message.interested.isEmpty ? database.sites : Set(message.interested)
        for child in tree.forwarding(at: site, interested: interested, standIns: false).bodies {
            counters.forwarded += 1
            send(.routed(message), to: child, now: now, into: &actions)
        }
    }

    mutating func send(_ message: HopMessage, to neighbour: SiteID, now: Instant, into actions: inout [SiteRouterAction]) {
        guard links[neighbour] != nil else { return }
        let payload = HopMessageCodec.encode(message)
        var taken = true
        drive(neighbour, now: now, into: &actions) { link, linkActions in
            taken = link.send(payload, now: now, into: &linkActions)
        }
        if !taken { counters.refused += 1 }
    }

    /// This site's links changed (or the router started): a new report, taken and flooded.
    mutating func reportLinks(now: Instant, into actions: inout [SiteRouterAction]) {
        guard reportVersion < .max else { return }  // only a forged report gets here
        reportVersion += 1
        let up = links.filter { $0.value.isUp }.keys.sorted()
        let report = LinkStateReport(
            site: site, version: reportVersion, links: up.map { SiteLinkState(neighbour: $0, cost: costs[$0]!) })
        guard database.accept(report) else { return }
        topologyChanged(into: &actions)
        flood(report, except: nil, now: now, into: &actions)
    }

    mutating func flood(_ report: LinkStateReport, except source: SiteID?, now: Instant, into actions: inout [SiteRouterAction]) {
        for neighbour in links.keys.sorted() where neighbour != source && links[neighbour]!.isUp {
            send(.linkState(report), to: neighbour, now: now, into: &actions)
        }
    }

    mutating func topologyChanged(into actions: inout [SiteRouterAction]) {
        trees.removeAll()
        actions.append(.topologyChanged)
    }

    mutating func tree(from origin: SiteID) -> RoutingTree {
        if let tree = trees[origin] { return tree }
        let tree = RoutingTree(source: origin, topology: database.topology)
        trees[origin] = tree
        return tree
    }
}

/// What a site router asks its driver to do.
public enum SiteRouterAction: Sendable, Equatable {
    /// Send this hop packet to `to`'s representative.
    case send(HopPacket, to: SiteID)
    /// A message from another site arrived for this site, for the first time.
    case deliver(RoutedMessage)
    /// The topology (so the routes) changed.
    case topologyChanged
    /// The hop link to this neighbour came up (the driver may now send to where it heard it).
    case linkUp(SiteID)
    /// The hop link to this neighbour went down (its representative may have moved).
    case linkDown(SiteID)
}

/// What a site router counts.
public struct SiteRouterCounters: Sendable, Equatable {
    public var originated = 0
    public var delivered = 0
    public var forwarded = 0
    public var duplicates = 0
    /// Hop payloads that did not decode, or link-state reports no honest representative writes.
    public var malformed = 0
    public var foreign = 0
    /// Payloads the links gave back because a neighbour restarted (not resent here).
    public var lostToRestarts = 0
    /// Messages a link refused (its queue was full).
    public var refused = 0
    /// Times a report of this site came back newer than this router's own (it then jumped past).
    public var ownReportsSuperseded = 0
    public init() {}
}
