import ChorusSchema
import ChorusWire
import DequeModule
import NIOCore

/// What the order layer asks the engine to do, in order.
public enum SiteOrderAction: Sendable {
    /// Put this wide-area message into the site's ring with this service.
    case submit(Service, ByteBuffer)
    /// Hand this message to the group layer: it is at its place in the global order (`position`
    /// nil: an unreliable message, outside the order). `ordinal`: the causal, agreed and safe
    /// messages delivered in this configuration so far, this one included (the same at every
    /// daemon of the configuration; view ids are made from it).
    case deliver(RingDelivery, WideAreaPosition?, ordinal: UInt64 = 0)
    /// Send this body to these sites (empty: every other site; representative only).
    case originate(ByteBuffer, to: [SiteID])
    case setTimer(Instant)
    /// This daemon starts (true) or stops representing its site in the wide area.
    case representative(Bool)
    /// A configuration of sites begins: a transitional one (the sites that move together from
    /// the last), then the regular one.
    case configuration(SiteConfigurationChange)
    /// This daemon got the order's state part way through `change` (started or restarted), with
    /// every site's daemons as last delivered, the configuration's ordinal and the group layer's
    /// exchange of sessions at that point, and its site's messages numbered so far (a list of
    /// the site's daemons numbered later that names this daemon means it, not an earlier
    /// incarnation with its id).
    case joinedLate(
        SiteConfigurationChange, siteDaemons: [SiteID: [NodeID]], ordinal: UInt64, exchange: WideAreaMembershipState.ViewsExchange,
        siteSeq: UInt64)
    /// Put this snapshot into the ring, with the group layer's exchange of sessions as it stands.
    case answer(WideAreaSnapshot)
}

/// A configuration of sites as delivered to the layer above, in the order's stream.
public struct SiteConfigurationChange: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable { case transitional, regular }
    public var kind: Kind
    /// The configuration being installed (a transitional one carries the id of the regular one it leads to).
    public var id: SiteConfigurationID
    public var sites: [SiteID]
    /// Set where a daemon gets the order's state and begins delivering part way through the
    /// configuration (a daemon started or restarted): it was not there when it began.
    public var joinedLate: Bool
    public init(kind: Kind, id: SiteConfigurationID, sites: [SiteID], joinedLate: Bool = false) {
        self.kind = kind
        self.id = id
        self.sites = sites
        self.joinedLate = joinedLate
    }
    public var description: String { "\(kind) \(id){\(sites.map(\.description).joined(separator: ","))}" }
}

/// One daemon's share of the order across sites, as a deterministic state machine between its
/// ring and its group layer. Every daemon of a site runs it on the same ring stream, so all
/// compute the same timestamps and the same order; the representative (the lowest id of the
/// regular ring) also moves messages between the ring and the other sites.
///
/// - A client message of this site gets, where the ring delivers it, the next `seq` of the
///   site and a Lamport timestamp one above the site's clock.
/// - Messages of other sites come into the ring (brought in by the representative, in each
///   origin's seq order, as agreed, or safe when they are safe); each raises the clock to its
///   timestamp. So do heartbeats, which promise that an origin's later messages have higher
///   timestamps; the representative's clock tick raises the clock to its real-time stamp.
/// - Causal, agreed and safe messages go to the group layer in `(lamport, origin, seq)` order,
///   each once every other site has promised past its timestamp; safe ones also once every
///   site reports holding it. Unreliable, reliable and fifo ones go at once, behind only the
///   earlier messages of their own origin site.
/// - Every daemon keeps its site's messages until every other site reports them taken; a new
///   representative sends them all again, and the representative resends what stays unanswered.
/// - The sites that reach each other form a configuration (`SiteOrder+Membership`): a site
///   starts alone, merges with the sites it reaches, and leaves behind those it no longer reaches,
///   with extended virtual synchrony across the change.
public struct SiteOrder: Sendable {
    public let me: NodeID
    public let site: SiteID
    /// Every configured site, ascending (this one included).
    public let sites: [SiteID]
    public let options: SiteOrderOptions
    /// The other sites of the current configuration.
    var remote: [SiteID] = []

    /// The configuration of sites whose messages this daemon delivers now.
    public internal(set) var configuration: SiteConfiguration
    /// This site's proposals so far (where each sits in the ring's order).
    var attempt: UInt64 = 0
    var phase: MembershipPhase = .operational
    /// Every site's latest proposal (this one's included).
    var proposals: [SiteID: SiteProposal] = [:]
    /// Per site: the highest attempt of it an install has used (older proposals are answered).
    var consumed: [SiteID: UInt64] = [:]
    /// This site's client messages held, not numbered, while a configuration is agreed.
    var frozen: [WideAreaMembershipState.FrozenMessage] = []
    /// Per other site: its messages taken, kept until every other site of the configuration has
    /// them (if it departs, a site that has them supplies those that lack them).
    var relay: [SiteID: Deque<WideAreaData>] = [:]
    /// The last install applied, and the sites of it still finishing their old configuration
    /// (supplied from `relay` until they are heard in the new one).
    var lastInstall: SiteInstall?
    var finishing: Set<SiteID> = []
    /// When relayed messages were last pruned (`pruneRelay`).
    var lastRelayPrune: Instant = 0
    /// The installs this site decided lately, as coordinator, newest last: one a member never got
    /// (it keeps sending the proposal it used) is sent to it again.
    var decided: [SiteInstall] = []
    /// The highest configuration seq decided or applied here: a coordinator's next is above it.
    var highestSeq: UInt64 = 0
    /// The last ordered message delivered in this configuration (nil: none yet).
    var lastDelivered: WideAreaPosition?
    /// The payload bytes of `frozen` (they count against the bound on what waits for other sites).
    public internal(set) var frozenBytes = 0

    /// Members of the current ring known to have the state, and those still waiting for it. The
    /// site's daemons go into its stream (`GroupMessage.siteDaemons`) where its ring changes
    /// (those with the state) and again once none waits, so group views everywhere follow them.
    var readyMembers: Set<NodeID> = []
    var pending: Set<NodeID> = []
    /// Per site of the configuration: its daemons as last delivered here (none yet: absent).
    public internal(set) var siteDaemons: [SiteID: [NodeID]] = [:]
    /// Causal, agreed and safe messages delivered in this configuration.
    public internal(set) var ordinal: UInt64 = 0

    /// The site's Lamport clock: every later message of this site gets a higher timestamp.
    public internal(set) var clock: UInt64 = 0
    /// The highest timestamp this site has promised the others (a heartbeat's, a proposal's, one
    /// of its messages'; every daemon of the site follows it from the ring's stream): a change of
    /// its daemons is numbered above it plus `daemonChangeLease`. Below the clock, which also
    /// follows other sites' timestamps: leases from this alone do not pile up when several
    /// sites change their daemons at once.
    var promisedBySite: UInt64 = 0
    /// This site's messages so far.
    public internal(set) var localSeq: UInt64 = 0
    /// Per other site: its messages taken in order from the ring.
    var received: [SiteID: UInt64] = [:]
    /// Per site: its messages every daemon of this site holds (as of the last safe delivery).
    var held: [SiteID: UInt64] = [:]
    /// Per other site: its later messages all have timestamps above this.
    var promised: [SiteID: UInt64] = [:]
    /// What each other site last reported, per origin.
    var reports: [SiteID: [SiteID: SiteProgress]] = [:]
    /// Per origin: messages taken, not yet handed to the group layer, in seq order.
    var waiting: [SiteID: Deque<WideAreaData>] = [:]
    /// Per site of the configuration: the seq its stream in this configuration starts after (its
    /// cut in the install that began it; none: 0). Its lease counts only once something of it in
    /// this configuration is taken here, so its first item needs none.
    var streamStarts: [SiteID: UInt64] = [:]
    /// Per origin: where its daemon changes (`isDaemonChange`) among `waiting` lie, in seq order
    /// (kept with `waiting`: `queue`, `deliverHead`, the cut where a configuration ends).
    var daemonChanges: [SiteID: Deque<DaemonChange>] = [:]
    /// This site's messages that some other site has not reported taking.
    var outbox = Deque<OutboxEntry>()
    /// Per site of the configuration (this one included): the groups its sessions may be members
    /// of (`SiteOrder+Pruning`; none: not known, every body goes there).
    var interests: [SiteID: Set<String>] = [:]
    /// Per site of the configuration: its joins of groups new to it numbered in this
    /// configuration (each took its lease); the sites interested in every group until it ends
    /// (more than `maxInterestLeases` of them, or overflowed); and those whose sessions joined
    /// more than `maxInterestGroups` groups, for as long as they run.
    var interestLeases: [SiteID: Int] = [:]
    var interestedInAll: Set<SiteID> = []
    var interestsOverflowed: Set<SiteID> = []
    /// Per site: the groups it dropped in this configuration (reliable and fifo messages, which
    /// may be delivered ahead of the leaves before them, are not pruned for them).
    var droppedInterests: [SiteID: Set<String>] = [:]
    /// Per site: its messages this daemon holds only as stand-ins though not pruned for them
    /// (taken so where it departs and no member moving on held the body; `SiteProposal.standIns`).
    var standInsHeld: [SiteID: Set<UInt64>] = [:]
    /// This site's sessions and the groups each may be in, as its own stream has numbered them
    /// (joins and announcements add, leaves, disconnects and lists of its daemons take away), and
    /// per group how many: where one drops to none the site numbers `interestsDropped`.
    var ownMembers: [SessionID: Set<String>] = [:]
    var ownGroupCounts: [String: Int] = [:]
    /// The group names of the client message decoded last for pruning.
    var groupNames = GroupNameCache()
    /// Whether the group layer, as of this daemon's last delivery, runs no state exchange (set
    /// by the engine after each delivery; false from a new configuration on). Messages an
    /// exchange holds go out with the members it ends with, who may have joined after them in
    /// the order, so nothing is pruned meanwhile. The same at every daemon of the site.
    public var groupsSettled = false
    var ringID: RingID?
    /// Whether this daemon has the order's state: a daemon starts without it, and gets it when a
    /// majority of its site's daemons, all without it, start the order afresh, or from a member
    /// that has it (`SiteOrder+StateTransfer`).
    public internal(set) var isReady = false
    /// The site's configured daemons.
    let siteSize: Int
    /// The current regular ring's members.
    var members: [NodeID] = []
    /// Members known to lack the state in this ring (their request delivered, no answer yet).
    var requesters: Set<NodeID> = []
    /// Requests already answered by this daemon in this ring.
    var answered: Set<NodeID> = []
    /// Until ready: what the ring delivered in this ring that the order must see, and where each
    /// request sits in it (a snapshot is taken where a request sits).
    var buffered: [RingDelivery] = []
    var requestIndex: [NodeID: Int] = [:]
    /// The highest stamp among this ring's state requests.
    var requestStamp: UInt64 = 0
    /// What the ring delivered before this daemon had the state, taken again one at a time
    /// (`replayNext`), and whether it becomes ready (`becameReady`) once they are.
    var replaying = Deque<RingDelivery>()
    var readyAfterReplay = false
    var finishingReplay = false
    /// Set while this daemon represents its site.
    var representative: RepresentativeState?
    public internal(set) var counters = SiteOrderCounters()
    /// The id the representative gave its site's last unreliable message (from the clock, so a
    /// successor's are new too), and per origin the ids of the unreliable messages seen lately.
    var unreliableID: UInt64 = 0
    var unreliableSeen: [SiteID: RecentIDs] = [:]

    struct DaemonChange: Sendable {
        var seq: UInt64
        var lamport: UInt64
    }

    struct OutboxEntry: Sendable {
        var data: WideAreaData
        /// When the representative last sent it (nil: not by the current one).
        var sentAt: Instant?
        /// When this daemon took it (nil: before it had the order's state), and whether the
        /// outbox was short then (its acknowledgement then measures the links, not a queue).
        var takenAt: Instant? = nil
        var clean = false
        /// The stand-in sent where `data` is pruned.
        var standIn: ByteBuffer? = nil
        var bytes: Int { data.payload.readableBytes }
    }

    /// `sites`: every site of the configuration (this one included); `siteSize`: the daemons
    /// configured for this site.
    public init(me: NodeID, site: SiteID, sites: [SiteID], siteSize: Int, options: SiteOrderOptions = SiteOrderOptions()) {
        precondition(sites.contains(site), "\(site) is not among the sites")
        self.me = me
        self.siteSize = max(1, siteSize)
        self.site = site
        self.sites = Array(Set(sites)).sorted()
        self.options = options
        budget = OutboxBudget(
            floor: options.minUnacknowledgedBytes, ceiling: options.maxUnacknowledgedBytes, linkRate: options.slowestLinkBytesPerSecond)
        configuration = .alone(site)
        for any in self.sites { held[any] = 0 }
        waiting[site] = []
        interests[site] = []
    }

    public var isRepresentative: Bool { representative != nil }

    /// Messages of `origin` this daemon has taken in order.
    public func received(from origin: SiteID) -> UInt64 { origin == site ? localSeq : received[origin] ?? 0 }

    /// Whether this site is agreeing on a new configuration (its new messages wait meanwhile).
    public var isReconfiguring: Bool {
        if case .operational = phase { return false }
        return true
    }

    /// Messages of `origin` every daemon of this site holds, as of the last safe ring delivery here.
    public func held(of origin: SiteID) -> UInt64 { held[origin] ?? 0 }

    /// Per site: messages taken in order (this site: numbered), the promise (this site: the
    /// clock), and held by every daemon of this site.
    public var progress: [(site: SiteID, received: UInt64, promised: UInt64, held: UInt64)] {
        sites.map { other in
            (other, received(from: other), other == site ? clock : promised[other] ?? 0, held[other] ?? 0)
        }
    }

    /// Messages taken but not yet handed to the group layer.
    public var waitingCount: Int { waiting.values.reduce(0) { $0 + $1.count } }
    /// Messages of other sites kept for a site that may need them from this one (`relay`).
    public var relayed: Int { relay.values.reduce(0) { $0 + $1.count } }
    /// This site's messages kept until every other site has them (or held, not yet numbered,
    /// while a configuration is agreed), and their payload bytes.
    public var unacknowledged: Int { outbox.count + frozen.count }
    public internal(set) var unacknowledgedBytes = 0
    /// Follows the links' bandwidth-delay product (`SiteOrderOptions.paceByBandwidthDelay`).
    var budget: OutboxBudget
    /// The payload bytes clients may have waiting for other sites now.
    public var unacknowledgedBytesLimit: Int {
        options.paceByBandwidthDelay ? budget.limit : options.maxUnacknowledgedBytes
    }
    /// Whether this site's clients must wait: too much of its traffic is not yet taken by every
    /// other site (read at every send, so inlined: a call would copy the whole order state).
    var isBacklogged: Bool {
        @inline(__always) get {
            unacknowledged >= options.maxUnacknowledged || unacknowledgedBytes + frozenBytes >= unacknowledgedBytesLimit
        }
    }
    /// The budget's inputs, for status: the shortest acknowledgement delay and the rate.
    public var outboxDelay: Duration64? { budget.minDelay }
    public var outboxRate: Int { budget.bytesPerSecond }

    /// Timestamps above this are refused by every daemon alike (they could only be forged, and
    /// `clock += 1` must never overflow).
    static let maxLamport = UInt64.max / 4

    // MARK: The ring's stream

    /// The ring delivered `delivery`: take it into the order (or pass a membership message on).
    public mutating func ringDelivered(_ delivery: RingDelivery, now: Instant, into actions: inout [SiteOrderAction]) {
        ringID = delivery.ringID
        if WideAreaMessageCodec.isWideArea(delivery.payload) {
            guard let message = try? WideAreaMessageCodec.decode(delivery.payload) else {
                counters.malformed += 1
                return
            }
            switch message {
            case .stateRequest(let requester, let stamp):
                stateRequested(by: requester, stamp: stamp, now: now, into: &actions)
                return
            case .state(let snapshot):
                // Another member's state, before this daemon has its own: replayed on top of the
                // snapshot this daemon gets (it marks where that member became ready).
                if !isReady, snapshot.requester != me { buffered.append(delivery) }
                stateArrived(snapshot, now: now, into: &actions)
                return
            case _ where !isReady:
                // Kept until the state arrives (`SiteOrder+StateTransfer`).
                buffered.append(delivery)
                return
            case .tick(let stamp):
                clock = max(clock, min(stamp, Self.maxLamport))
                promisedBySite = clock  // the representative's heartbeat promises it
                if delivery.service == .safe { snapshotHeld() }  // (every member holds what came before)
                if isRepresentative { sendHeartbeat(now: now, into: &actions) }
                // Every heartbeat interval, also while clients wait and no other site is heard:
                // a silence must show, and a drain begin or end, without traffic.
                budget.update(now: now)
            case .propose(let wanted):
                proposeDelivered(wanted, now: now, into: &actions)
            case .proposal(let proposal):
                proposalDelivered(proposal, now: now, into: &actions)
            case .install(let install):
                installDelivered(install, now: now, into: &actions)
            case .data(let data) where data.service == .unreliable:
                // Outside the order, as in the ring: delivered where it arrives (client data only).
                guard data.origin != site, received[data.origin] != nil, GroupMessageCodec.isClientData(data.payload) else {
                    counters.notClientData += 1
                    return
                }
                guard unreliableSeen[data.origin, default: RecentIDs()].insert(data.lamport) else {
                    counters.duplicates += 1  // a copy routed twice across a representative change
                    return
                }
                actions.append(
                    .deliver(RingDelivery(ringID: delivery.ringID, sender: data.sender, service: .unreliable, payload: data.payload), nil))
                return
            case .data(let data): takeRemote(data, safe: delivery.service == .safe)
            case .heartbeat(let beat): takeHeartbeat(beat, now: now)
            }
        } else if GroupMessageCodec.isClientData(delivery.payload), delivery.service == .unreliable {
            // The ring sends unreliable messages unsequenced (not every member sees them, nor in one
            // order), so they take no place in the order: delivered here, and sent on by the
            // representative if it sees them.
            actions.append(.deliver(delivery, nil))
            if representative != nil {
                let stamp = now.addingReportingOverflow(options.stampOffset)
                unreliableID = max(unreliableID &+ 1, stamp.overflow ? 0 : stamp.partialValue)
                originate(
                    .data(
                        WideAreaData(
                            origin: site, seq: 0, lamport: unreliableID, configuration: configuration.id, service: .unreliable,
                            sender: delivery.sender, payload: delivery.payload)),
                    into: &actions)
            }
            return
        } else {
            // Client messages, and joins, leaves and state announcements: numbered here, delivered
            // everywhere at their place in the global order.
            guard isReady else {
                buffered.append(delivery)
                return
            }
            takeLocalOrFreeze(delivery, now: now, into: &actions)
        }
        release(now: now, into: &actions)
    }

    /// Numbers `delivery` in this site's stream, or, while a configuration is agreed, holds it
    /// to be numbered once the next one is installed, in it. A safe one held: every daemon holds
    /// everything the ring delivered so far (numbering it later must not claim more).
    mutating func takeLocalOrFreeze(_ delivery: RingDelivery, now: Instant, into actions: inout [SiteOrderAction]) {
        guard case .operational = phase else {
            frozen.append(.init(service: delivery.service, sender: delivery.sender, payload: delivery.payload))
            frozenBytes += delivery.payload.readableBytes
            if delivery.service == .safe { snapshotHeld() }
            return
        }
        takeLocal(delivery, now: now, into: &actions)
    }

    /// Puts the site's daemons with the state into its stream (see `readyMembers`).
    mutating func announceDaemons(now: Instant, into actions: inout [SiteOrderAction]) {
        guard isReady, let ringID, let lowest = members.min() else { return }
        let daemons = members.filter { !pending.contains($0) }.sorted()
        let payload = GroupMessageCodec.encode(.siteDaemons(site: site, daemons: daemons))
        takeLocalOrFreeze(RingDelivery(ringID: ringID, sender: lowest, service: .agreed, payload: payload), now: now, into: &actions)
    }

    /// The ring installed `configuration`: the lowest member of a regular ring represents the site.
    public mutating func ringConfiguration(
        _ configuration: RingConfiguration, now: Instant, into actions: inout [SiteOrderAction]
    ) {
        guard configuration.kind == .regular else {
            // Members that move on with the state; any other (a daemon restarted meanwhile) waits for it anew.
            readyMembers.formIntersection(configuration.members)
            return
        }
        ringID = configuration.ringID
        members = configuration.members
        readyMembers.formIntersection(members)
        pending = Set(members).subtracting(readyMembers)
        requesters = []
        answered = []
        buffered = []
        requestIndex = [:]
        requestStamp = 0
        if !isReady {
            let stamp = now.addingReportingOverflow(options.stampOffset)
            let request = WideAreaMessage.stateRequest(requester: me, stamp: stamp.overflow ? 0 : min(stamp.partialValue, Self.maxLamport))
            actions.append(.submit(.agreed, WideAreaMessageCodec.encode(request)))
        }
        updateRepresentative(now: now, into: &actions)
        if isReady {
            announceDaemons(now: now, into: &actions)
            release(now: now, into: &actions)
        }
    }

    /// The lowest member with the state represents the site.
    mutating func updateRepresentative(now: Instant, into actions: inout [SiteOrderAction]) {
        guard !isReplaying else { return }  // decided once the replay is done (`replayNext`)
        let represent = isReady && sites.count > 1 && members.filter { !requesters.contains($0) }.min() == me
        if represent, representative == nil {
            becomeRepresentative(now: now, into: &actions)
        } else if !represent, representative != nil {
            representative = nil
            actions.append(.representative(false))
        }
    }

    mutating func takeLocal(
        _ delivery: RingDelivery, wasFrozen: Bool = false, now: Instant, into actions: inout [SiteOrderAction]
    ) {
        let isDaemonChange = isDaemonChange(delivery.payload, of: site)
        let item = Self.membershipItem(delivery.payload)
        let interested = newInterests(item, of: site)
        let daemonLease = isDaemonChange && !options.brokenRules.fifoAheadOfDaemonChanges && localSeq != streamStarts[site] ?? 0
        let interestLease = !interested.isEmpty && !options.brokenRules.interestsWithoutLease
        if daemonLease || interestLease, !remote.isEmpty {
            // Above every lease this site gave: a promise p tells the others no change of its
            // daemons, and no join of a group new to it, comes below p + lease. (Not for a daemon
            // list that is the first item of a configuration: no lease of it counts before. Not a
            // list equal to the last: it changes no view, and leases would pile up.)
            clock = max(clock, min(promisedBySite, Self.maxLamport) + options.daemonChangeLease)
        }
        if !interested.isEmpty { noteInterests(interested, of: site) }
        dropInterests(item, of: site)
        let emptied = followOwnMembers(item)
        localSeq += 1
        clock += 1
        promisedBySite = clock
        var data = WideAreaData(
            origin: site, seq: localSeq, lamport: clock, configuration: configuration.id, service: delivery.service,
            sender: delivery.sender, payload: delivery.payload)
        var standIn: ByteBuffer?
        if !remote.isEmpty, GroupMessageCodec.isClientData(delivery.payload) {
            (data.pruned, standIn) = pruning(delivery.payload, service: delivery.service)
        }
        if delivery.service == .safe {
            // Held where the ring delivered it; one held back while agreeing holds only itself more.
            if wasFrozen { held[site] = localSeq } else { snapshotHeld() }
        }
        if !remote.isEmpty {
            outbox.append(
                OutboxEntry(
                    data: data, sentAt: representative != nil ? now : nil, takenAt: now,
                    clean: budget.isClean(outboxBytes: unacknowledgedBytes), standIn: standIn))
            unacknowledgedBytes += data.payload.readableBytes
            if representative != nil { originateData(data, standIn: standIn, to: remote, into: &actions) }
        }
        queue(data, isDaemonChange: isDaemonChange)
        if !emptied.isEmpty { numberInterestsDropped(emptied, now: now, into: &actions) }
    }

    /// Queues `data` for delivery, noting where a daemon change lies (nil: decided here).
    mutating func queue(_ data: WideAreaData, isDaemonChange: Bool? = nil) {
        let change = isDaemonChange ?? self.isDaemonChange(data.payload, of: data.origin)
        waiting[data.origin]!.append(data)
        if change { daemonChanges[data.origin, default: []].append(DaemonChange(seq: data.seq, lamport: data.lamport)) }
    }

    /// Whether `payload`, about to be queued from `origin`, is a change of its daemons: a
    /// `siteDaemons` that `listsOtherDaemons`.
    func isDaemonChange(_ payload: ByteBuffer, of origin: SiteID) -> Bool {
        GroupMessageCodec.isSiteDaemons(payload) && listsOtherDaemons(of: origin, payload)
    }

    /// Whether `payload` (a `siteDaemons` of `origin`, about to be queued) lists other daemons
    /// than the origin's last list in this configuration: the last one queued and still
    /// waiting, else the last delivered (`siteDaemons` starts empty in each configuration, so a
    /// first list always does). Only such a list is a daemon change: an equal one changes no
    /// view, takes no lease and holds back no reliable or fifo message (were it to, a message
    /// would fall before it at one daemon, which went ahead before taking it, and after it at
    /// another, and where a configuration ends on different sides of the transitional one).
    /// Every daemon computes the same from the stream and the state it takes.
    func listsOtherDaemons(of origin: SiteID, _ payload: ByteBuffer) -> Bool {
        guard case .siteDaemons(_, let listed)? = try? GroupMessageCodec.decode(payload) else { return true }
        var last = siteDaemons[origin]
        if let numbered = waiting[origin]?.last(where: { GroupMessageCodec.isSiteDaemons($0.payload) }),
            case .siteDaemons(_, let daemons)? = try? GroupMessageCodec.decode(numbered.payload)
        {
            last = daemons
        }
        return last != listed
    }

    private mutating func takeRemote(_ data: WideAreaData, safe: Bool) {
        var data = data
        guard let taken = received[data.origin] else {
            counters.foreign += 1
            return
        }
        guard data.configuration == configuration.id else {
            counters.otherConfiguration += 1
            return
        }
        guard data.seq == taken + 1 else {
            if data.seq <= taken {
                counters.duplicates += 1
            } else {
                counters.gaps += 1
                representativeDropped(data.origin)
            }
            return
        }
        if case .closing(let closing) = phase, data.seq > closing.cuts[data.origin] ?? 0 {
            counters.beyondCut += 1  // past where its stream ends in this configuration
            representativeDropped(data.origin)
            return
        }
        var standInForBody = false
        guard prunedFormAgreed(&data, standInForBody: &standInForBody) else {
            representativeDropped(data.origin)
            return
        }
        guard data.lamport > promised[data.origin]!, data.lamport <= Self.maxLamport else {
            counters.staleTimestamps += 1
            return
        }
        received[data.origin] = data.seq
        promised[data.origin] = data.lamport
        clock = max(clock, data.lamport)
        let item = Self.membershipItem(data.payload)
        let interested = newInterests(item, of: data.origin)
        if !interested.isEmpty { noteInterests(interested, of: data.origin) }
        dropInterests(item, of: data.origin)
        if standInForBody { standInsHeld[data.origin, default: []].insert(data.seq) }  // (the next proposals say so)
        if data.pruned.contains(site) { counters.standInsTaken += 1 }
        if safe { snapshotHeld() }
        // What an earlier representative put into the ring counts as brought in.
        if representative != nil { representativeTook(data.origin, data.seq) }
        // Kept for the others of the configuration, should the origin depart before they have it.
        if remote.count > 1 { relay[data.origin, default: []].append(data) }
        queue(data)
    }

    private mutating func takeHeartbeat(_ beat: WideAreaHeartbeat, now: Instant) {
        guard let taken = received[beat.origin] else {
            counters.foreign += 1
            return
        }
        closingHeard(beat)
        guard beat.configuration == configuration.id else {
            counters.otherConfiguration += 1
            return
        }
        guard beat.lastSeq <= taken else {
            counters.earlyHeartbeats += 1
            return
        }
        guard beat.lamport <= Self.maxLamport else {
            counters.implausibleTimestamps += 1
            return
        }
        promised[beat.origin] = max(promised[beat.origin]!, beat.lamport)
        clock = max(clock, beat.lamport)
        var report = reports.removeValue(forKey: beat.origin) ?? [:]  // updated in place, not through the outer table
        for entry in beat.progress where held[entry.site] != nil {
            let before = report[entry.site]
            report[entry.site] = SiteProgress(
                site: entry.site, received: max(entry.received, before?.received ?? 0),
                held: max(entry.held, before?.held ?? 0))
        }
        reports[beat.origin] = report
        budget.heard(from: beat.origin, now: now)
        pruneOutbox(now: now)
        pruneRelay(heard: beat.origin, now: now)
    }

    /// A safe delivery: every daemon of the site holds everything the ring delivered so far.
    private mutating func snapshotHeld() {
        for (origin, count) in received { held[origin] = count }
        held[site] = localSeq
    }

    /// Drops what every other site reported taking. `measured`: they are acknowledgements (a
    /// new configuration of sites drops what departed sites owed; that measures no link).
    mutating func pruneOutbox(now: Instant, measured: Bool = true) {
        var everywhere = UInt64.max
        for other in remote { everywhere = min(everywhere, reports[other]?[site]?.received ?? 0) }
        while let first = outbox.first, first.data.seq <= everywhere {
            unacknowledgedBytes -= first.bytes
            if measured { budget.acknowledged(bytes: first.bytes, takenAt: first.takenAt, clean: first.clean, now: now) }
            outbox.removeFirst()
        }
        budget.update(now: now)
    }

    // MARK: The global order

    /// Hands the group layer everything whose turn has come; when a configuration's messages are
    /// all in, the rest of them, the change, and what waited for it.
    mutating func release(now: Instant, into actions: inout [SiteOrderAction]) {
        deliverReady(into: &actions)
        if case .closing(let closing) = phase, closing.isConfirmed, streamsComplete(closing) {
            finishClosing(closing, now: now, into: &actions)
            deliverReady(into: &actions)
        }
    }

    /// While a configuration is agreed nothing is delivered: where the old one ends is not known
    /// yet (a message taken meanwhile may lie past a departed site's cut).
    private mutating func deliverReady(into actions: inout [SiteOrderAction]) {
        guard ringID != nil, case .operational = phase else { return }
        while let (next, ahead) = nextHead(), ahead || isDeliverable(next) { deliverHead(next, into: &actions) }
    }

    /// The message whose turn is next: a reliable or fifo head that may go ahead of the order
    /// (`mayGoAhead`: only its origin's earlier messages come first), else the lowest position
    /// among the heads. `ahead`: the first kind. `closing`: the configuration's streams are
    /// complete (no other site's lease matters).
    func nextHead(closing: Bool = false) -> (head: WideAreaData, ahead: Bool)? {
        var next: WideAreaData?
        for origin in configuration.sites {
            guard let head = waiting[origin]?.first else { continue }
            if head.service < .causal, mayGoAhead(head, underLeases: !closing) { return (head, true) }
            if next.map({ head.position < $0.position }) ?? true { next = head }
        }
        return next.map { ($0, false) }
    }

    /// A reliable or fifo message goes ahead of the order where it falls on the same side of
    /// every daemon change (a `siteDaemons` item, which group views follow) at every daemon:
    /// every other site's lease (`daemonChangeLease` past its promise) covers its timestamp, so
    /// no change not yet taken here comes below it, and no change taken here below it waits.
    /// Otherwise it waits for its place in the order. Where a configuration ends every stream of
    /// it is complete (`underLeases` false): only the changes taken below it hold it back, so
    /// every daemon delivers it before the transitional configuration where any did before.
    func mayGoAhead(_ data: WideAreaData, underLeases: Bool) -> Bool {
        if options.brokenRules.fifoAheadOfDaemonChanges { return true }
        if underLeases {
            // (`lamport - lease`, not `promised + lease`: a promise may be up to maxLamport.)
            let leased = data.lamport > options.daemonChangeLease ? data.lamport - options.daemonChangeLease : 0
            for other in remote where other != data.origin {
                // A lease counts from the site's first item in this configuration on.
                if received[other] ?? 0 <= streamStarts[other] ?? 0 || promised[other] ?? 0 < leased { return false }
            }
        }
        for changes in daemonChanges.values where changes.first.map({ $0.lamport < data.lamport }) ?? false { return false }
        return true
    }

    mutating func deliverHead(_ next: WideAreaData, into actions: inout [SiteOrderAction]) {
        guard let ringID else { return }
        waiting[next.origin]!.removeFirst()
        if daemonChanges[next.origin]?.first?.seq == next.seq {
            daemonChanges[next.origin]!.removeFirst()
            if daemonChanges[next.origin]!.isEmpty { daemonChanges[next.origin] = nil }
        }
        if next.service >= .causal {
            lastDelivered = next.position
            ordinal += 1
        }
        if GroupMessageCodec.isSiteDaemons(next.payload),
            case .siteDaemons(let origin, let daemons)? = try? GroupMessageCodec.decode(next.payload), origin == next.origin
        {
            siteDaemons[origin] = daemons
        }
        let delivery = RingDelivery(ringID: ringID, sender: next.sender, service: next.service, payload: next.payload)
        actions.append(.deliver(delivery, next.position, ordinal: ordinal))
    }

    /// Every other site has promised past `data`'s timestamp, and (safe) every site reports
    /// holding it. (Where a configuration ends, what is left goes out once every stream is
    /// complete and confirmed: `finishClosing`. Relying on a cut any earlier would break the order
    /// if the agreement were begun again with other cuts.)
    func isDeliverable(_ data: WideAreaData) -> Bool {
        if !options.brokenRules.promises {
            for other in remote where other != data.origin && promised[other]! < data.lamport { return false }
        }
        if data.service == .safe, !options.brokenRules.stability {
            for other in remote where (reports[other]?[data.origin]?.held ?? 0) < data.seq { return false }
        }
        return true
    }
}
