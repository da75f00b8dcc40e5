import ChorusWire
import NIOCore

/// What the engine asks its driver (the daemon shell or the simulator) to do, in order.
public enum EngineAction: Sendable {
    case send(Packet, to: Destination)
    case setTimer(RingTimer, deadline: Instant)
    /// A daemon-level configuration change (extended virtual synchrony).
    case configuration(RingConfiguration)
    /// A client message at its place in the order; `recipients` are the local sessions that get it.
    case deliver(GroupDelivery)
    /// A group membership event; `recipients` are the local members.
    case view(GroupView)
    /// A delivered payload that was not a valid group message (dropped and counted).
    case decodeError(String)
    /// For the wide area (more than one site): see `WideAreaAction`.
    case wideArea(WideAreaAction)
}

/// What the order layer asks of the driver's wide-area side.
public enum WideAreaAction: Sendable {
    /// Route this body to these sites (empty: every other site; only while this daemon represents its site).
    case originate(ByteBuffer, to: [SiteID])
    /// Start (true) or stop running the site's router: this daemon now represents its site, or no longer does.
    case representative(Bool)
    /// A configuration of sites begins at this point of the delivered stream (transitional, then regular).
    case configuration(SiteConfigurationChange)
}

/// One daemon's whole protocol stack as a single deterministic state machine: the ring below,
/// the group layer above. The driver feeds it inputs with the current time and performs the
/// actions it returns; it never blocks, reads a clock or does I/O.
public struct Engine: Sendable {
    public private(set) var ring: Ring
    public private(set) var groups: GroupLayer
    /// The order across sites, with more than one site (nil: the ring's order is the order).
    public private(set) var order: SiteOrder?
    private var orderActions: [SiteOrderAction] = []
    /// What the representative sends other sites, waiting until every member of its ring holds
    /// the ring packets that caused it (`upTo`): sent at once, a body or a promise could reach
    /// other sites while no survivor of this daemon's crash ever delivers its cause (a packet
    /// only this daemon held). Released in order as the ring's stability passes `upTo`, at a safe
    /// delivery (everything before it is held by all), and at a configuration change (the
    /// survivors deliver everything this daemon delivered in the configuration that ends).
    private var heldOriginates: [(upTo: UInt64, body: ByteBuffer, sites: [SiteID])] = []
    /// While a safe delivery is handed to the order layer: what it causes goes out at once.
    private var inSafeDelivery = false
    private var ringActions: [RingAction] = []
    private var groupActions: [GroupAction] = []
    // Spare buffers swapped with the two above while a batch runs, so no batch allocates.
    private var ringBatch: [RingAction] = []
    private var groupBatch: [GroupAction] = []

    public init(
        me: NodeID, site: [NodeID], ringOptions: RingOptions = RingOptions(), groupLimits: GroupLimits = .default,
        ringSeqFloor: UInt64 = 0, wideArea: SiteOrder? = nil, firstSession: UInt64 = 1
    ) {
        var ringOptions = ringOptions
        // The order layer numbers the ring's stream: it must be the same at every member.
        if wideArea != nil { ringOptions.earlyDelivery = false }
        self.ring = Ring(me: me, site: site, options: ringOptions, ringSeqFloor: ringSeqFloor)
        self.order = wideArea
        // A message the group layer accepts must fit the ring whole, envelope included, so the
        // ring never refuses (and so never loses) an accepted message.
        var limits = groupLimits
        let envelope = limits.maxGroupsPerMessage * (limits.maxGroupNameLength + 2) + 64 + (wideArea.map { 2 + 4 * $0.sites.count } ?? 0)
        limits.maxPayloadBytes = min(limits.maxPayloadBytes, max(0, ringOptions.maxMessageSize - envelope))
        limits.maxAnnouncementBytes = max(1024, min(ringOptions.maxMessageSize, 1 << 20))
        self.groups = GroupLayer(me: me, limits: limits, spansSites: wideArea != nil)
        self.groups.brokenRules = ringOptions.brokenRules
        self.groups.firstSession = firstSession
        self.groups.brokenRules.viewsIgnoreOtherSites = wideArea?.options.brokenRules.viewsIgnoreOtherSites ?? false
        self.groups.brokenRules.sessionsOfEarlierIncarnations =
            wideArea?.options.brokenRules.sessionsOfEarlierIncarnations ?? false
        ringActions.reserveCapacity(64)
        groupActions.reserveCapacity(64)
    }

    public var me: NodeID { ring.me }
    /// Client messages waiting for the token at this daemon.
    public var pendingMessages: Int { ring.pendingMessages }

    // MARK: Network and timers

    public mutating func start(now: Instant, into actions: inout [EngineAction]) {
        ring.start(now: now, into: &ringActions)
        drain(now: now, into: &actions)
    }

    public mutating func receive(_ packet: Packet, now: Instant, into actions: inout [EngineAction]) {
        ring.receive(packet, now: now, into: &ringActions)
        drain(now: now, into: &actions)
    }

    public mutating func timerFired(_ timer: RingTimer, now: Instant, into actions: inout [EngineAction]) {
        if timer == .wideArea {
            order?.timerFired(now: now, into: &orderActions)
            applyOrderActions(now: now, into: &actions)
        } else {
            ring.timerFired(timer, now: now, into: &ringActions)
        }
        drain(now: now, into: &actions)
    }

    // MARK: The wide area

    /// A routed body from another site reached this daemon's router.
    public mutating func wideAreaReceived(_ body: ByteBuffer, now: Instant, into actions: inout [EngineAction]) {
        order?.routed(body, now: now, into: &orderActions)
        applyOrderActions(now: now, into: &actions)
        drain(now: now, into: &actions)
    }

    /// The router's topology changed or a link came up: what is not yet acknowledged goes again,
    /// and the configuration of sites follows `reached` (the sites the router reaches, this one included).
    public mutating func wideAreaTopologyChanged(reached: [SiteID], now: Instant, into actions: inout [EngineAction]) {
        order?.topologyChanged(now: now, into: &orderActions)
        order?.reachabilityChanged(reached, now: now, into: &orderActions)
        applyOrderActions(now: now, into: &actions)
        drain(now: now, into: &actions)
    }

    /// Leaves the site gracefully (the others reconfigure at once).
    public mutating func leave(now: Instant, into actions: inout [EngineAction]) {
        ring.leave(now: now, into: &ringActions)
        drain(now: now, into: &actions)
    }

    // MARK: Sessions

    /// This daemon's name in its sessions' private groups (`#alice#<daemonName>`).
    public var daemonName: String {
        get { groups.daemonName }
        set { groups.daemonName = newValue }
    }

    /// Opens a client session (see `GroupLayer.openSession(local:name:)`).
    public mutating func openSession(local: UInt64, name: String = "") -> SessionID {
        groups.openSession(local: local, name: name)
    }

    public mutating func join(
        session: SessionID, group: String, now: Instant, into actions: inout [EngineAction]
    ) throws(GroupError) {
        try checkQueue()
        try groups.join(session: session, group: group, into: &groupActions)
        drain(now: now, into: &actions)
    }

    public mutating func leave(
        session: SessionID, group: String, now: Instant, into actions: inout [EngineAction]
    ) throws(GroupError) {
        try checkQueue()
        try groups.leave(session: session, group: group, into: &groupActions)
        drain(now: now, into: &actions)
    }

    /// Multicasts a message; returns its per-session sequence number.
    @discardableResult
    public mutating func send(
        session: SessionID, service: Service, groups targets: [String], messageType: UInt16 = 0,
        selfDiscard: Bool = false, payload: ByteBuffer, now: Instant, into actions: inout [EngineAction]
    ) throws(GroupError) -> UInt64 {
        try checkQueue()
        let seq = try groups.send(
            session: session, service: service, groups: targets, messageType: messageType, selfDiscard: selfDiscard,
            payload: payload, into: &groupActions)
        drain(now: now, into: &actions)
        return seq
    }

    public mutating func closeSession(_ session: SessionID, now: Instant, into actions: inout [EngineAction]) {
        groups.closeSession(session, into: &groupActions)
        drain(now: now, into: &actions)
    }

    /// Client requests (messages, joins, leaves) wait once `maxPendingMessages` are queued;
    /// the group layer's own messages are queued regardless, so none is ever lost.
    /// (`mutating` so that the engine is passed by reference: Swift hands a method that is not
    /// `mutating` a copy of the whole engine, 2.5 KB, made at every send.)
    private mutating func checkQueue() throws(GroupError) {
        if order?.isBacklogged == true {
            throw GroupError(.busy, "\(order!.unacknowledged) messages (\(order!.unacknowledgedBytes) bytes) wait for other sites to take them")
        }
        guard ring.pendingMessages < ring.options.maxPendingMessages else {
            throw GroupError(.busy, "\(ring.pendingMessages) messages wait for the token")
        }
        guard ring.pendingMessages == 0 || ring.pendingBytes < ring.options.maxPendingBytes else {
            throw GroupError(.busy, "\(ring.pendingBytes) bytes wait for the token")
        }
    }

    // MARK: Plumbing

    /// Runs ring and group actions to completion: ring deliveries feed the group layer, whose
    /// submissions feed the ring, until both are quiet.
    private mutating func drain(now: Instant, into actions: inout [EngineAction]) {
        while !ringActions.isEmpty || !groupActions.isEmpty {
            if !groupActions.isEmpty { drainGroupsInline(now: now, into: &actions) }
            if !ringActions.isEmpty {
                // A local batch, so the loop may change `self`; `ringBatch` keeps the spare
                // buffer between drains, so neither array is allocated again.
                var batch: [RingAction] = []
                swap(&batch, &ringBatch)
                swap(&batch, &ringActions)
                batch.drain(leaving: .filler) { action in
                    switch action {
                    case .send(let packet, let destination): actions.append(.send(packet, to: destination))
                    case .setTimer(let timer, let deadline): actions.append(.setTimer(timer, deadline: deadline))
                    case .deliver(let delivery):
                        if order == nil {
                            groups.ringDelivered(delivery, deliveries: &actions, into: &groupActions)
                        } else {
                            if delivery.service == .safe {
                                releaseOriginates(all: true, into: &actions)
                                inSafeDelivery = true
                            }
                            order!.ringDelivered(delivery, now: now, into: &orderActions)
                            applyOrderActions(now: now, into: &actions)
                            inSafeDelivery = false
                            // A daemon that just got the state takes what it kept again, one at a
                            // time, the group layer following each (as at the other daemons).
                            while order!.isReplaying {
                                order!.replayNext(now: now, into: &orderActions)
                                applyOrderActions(now: now, into: &actions)
                            }
                        }
                    case .configuration(let configuration):
                        // What the group layer still owes the ending configuration comes before it ends.
                        // (Across sites the group layer follows the site's stream instead: no-ops.)
                        releaseOriginates(all: true, into: &actions)
                        groups.ringConfigurationWillChange(configuration, into: &groupActions)
                        if !groupActions.isEmpty { drainGroupsInline(now: now, into: &actions) }
                        actions.append(.configuration(configuration))
                        groups.ringConfiguration(configuration, into: &groupActions)
                        if order != nil {
                            order!.ringConfiguration(configuration, now: now, into: &orderActions)
                            applyOrderActions(now: now, into: &actions)
                        }
                    }
                    // Keep the order: group actions caused by this ring action come right after it.
                    if !groupActions.isEmpty { drainGroupsInline(now: now, into: &actions) }
                }
                swap(&batch, &ringBatch)
            }
        }
        if !heldOriginates.isEmpty { releaseOriginates(all: false, into: &actions) }
    }

    /// Sends what the representative addressed to other sites, now (`inSafeDelivery`, or nothing
    /// waits and every member holds what this daemon delivered) or once it does.
    private mutating func originate(_ body: ByteBuffer, to sites: [SiteID], into actions: inout [EngineAction]) {
        let causesHeld = heldOriginates.isEmpty && (ring.heldByEveryMember ?? 0) >= (ring.deliveredUpTo ?? .max)
        if inSafeDelivery || causesHeld || order?.options.brokenRules.actOnUnstableDeliveries == true {
            actions.append(.wideArea(.originate(body, to: sites)))
        } else {
            heldOriginates.append((ring.deliveredUpTo ?? .max, body, sites))
        }
    }

    /// Sends the waiting bodies whose causes every member holds (`all`: every one).
    private mutating func releaseOriginates(all: Bool, into actions: inout [EngineAction]) {
        guard !heldOriginates.isEmpty else { return }
        let held = all ? UInt64.max : ring.heldByEveryMember ?? 0
        let ready = heldOriginates.prefix { $0.upTo <= held }.count
        guard ready > 0 else { return }
        for entry in heldOriginates[..<ready] { actions.append(.wideArea(.originate(entry.body, to: entry.sites))) }
        heldOriginates.removeFirst(ready)
    }

    /// Performs what the order layer asked, in order; a delivery's group actions come right after it.
    private mutating func applyOrderActions(now: Instant, into actions: inout [EngineAction]) {
        guard !orderActions.isEmpty else { return }
        var batch: [SiteOrderAction] = []
        swap(&batch, &orderActions)
        for action in batch {
            switch action {
            case .submit(let service, let payload):
                ring.submit(service: service, payload: payload, now: now, into: &ringActions)
            case .answer(var snapshot):
                // Taken where the request sits: the group layer has applied everything delivered before it.
                snapshot.membership.exchange = groups.sitesExchange
                ring.submit(service: .agreed, payload: WideAreaMessageCodec.encode(.state(snapshot)), now: now, into: &ringActions)
            case .deliver(let delivery, let position, let ordinal):
                groups.ringDelivered(delivery, position: position, ordinal: ordinal, deliveries: &actions, into: &groupActions)
                if !groupActions.isEmpty { drainGroupsInline(now: now, into: &actions) }
            case .originate(let body, let sites): originate(body, to: sites, into: &actions)
            case .setTimer(let deadline): actions.append(.setTimer(.wideArea, deadline: deadline))
            case .representative(let represent): actions.append(.wideArea(.representative(represent)))
            case .configuration(let change):
                groups.siteConfiguration(change, into: &groupActions)
                if !groupActions.isEmpty { drainGroupsInline(now: now, into: &actions) }
            case .joinedLate(let change, let siteDaemons, let ordinal, let exchange, let siteSeq):
                groups.sitesJoinedLate(
                    change, siteDaemons: siteDaemons, ordinal: ordinal, exchange: exchange, siteSeq: siteSeq, into: &groupActions)
                if !groupActions.isEmpty { drainGroupsInline(now: now, into: &actions) }
            }
        }
        batch.removeAll(keepingCapacity: true)
        if orderActions.isEmpty { swap(&batch, &orderActions) }
        if order != nil { order!.groupsSettled = groups.isSettled }
    }

    private mutating func drainGroupsInline(now: Instant, into actions: inout [EngineAction]) {
        var batch: [GroupAction] = []
        swap(&batch, &groupBatch)
        swap(&batch, &groupActions)
        batch.drain(leaving: .filler) { action in
            switch action {
            case .submit(let service, let payload, let barrier, let first):
                ring.submit(service: service, payload: payload, barrier: barrier, first: first, now: now, into: &ringActions)
            case .deliver(let delivery): actions.append(.deliver(delivery))
            case .view(let view): actions.append(.view(view))
            case .decodeError(let text): actions.append(.decodeError(text))
            case .siteConfiguration(let change): actions.append(.wideArea(.configuration(change)))
            }
        }
        swap(&batch, &groupBatch)
    }
}
