import ChorusWire
import NIOCore

/// How a daemon gets the order's state. A daemon starts without it and asks for it in every
/// regular ring (`stateRequest`), keeping what the ring delivers for the order meanwhile. The
/// lowest member not known to lack the state answers each request with a snapshot taken where
/// the request sits in the ring's order; the requester applies it and replays what came after.
/// When every member lacks it and they are a majority of the site's configured daemons, all
/// start afresh where the last request sits (the site starting up): a minority without the
/// state waits, so a daemon started alone does not start an order of its own.
extension SiteOrder {
    mutating func stateRequested(by requester: NodeID, stamp: UInt64, now: Instant, into actions: inout [SiteOrderAction]) {
        guard members.contains(requester) else { return }
        requesters.insert(requester)
        requestStamp = max(requestStamp, stamp)
        if !isReady {
            requestIndex[requester] = buffered.count
            if members.allSatisfy(requesters.contains), members.count * 2 > siteSize {
                // A majority of the site, none with the state: the order starts here, the same
                // way at each of them; what came before in this ring is taken in order.
                isReady = true
                requesters = []
                // Proposals and the clock start from the wall clock: a restarted site's proposals
                // are newer than those its earlier incarnation made, which the other sites may
                // remember, and its messages' timestamps (so their positions) are new too.
                attempt = requestStamp
                clock = max(clock, requestStamp)
                readyMembers = Set(members)
                pending = []
                siteDaemons = [:]
                ordinal = 0
                actions.append(
                    .joinedLate(
                        SiteConfigurationChange(kind: .regular, id: configuration.id, sites: configuration.sites, joinedLate: true),
                        siteDaemons: siteDaemons, ordinal: ordinal, exchange: .init(), siteSeq: localSeq))
                announceDaemons(now: now, into: &actions)
                replay(from: 0, now: now, into: &actions)
            }
        } else {
            answerRequests(takenAt: requester, now: now, into: &actions)
        }
        updateRepresentative(now: now, into: &actions)
    }

    /// The lowest member not known to lack the state answers every request not yet answered,
    /// with the state as of here (the request just delivered: its requester is named `takenAt`).
    private mutating func answerRequests(takenAt: NodeID, now: Instant, into actions: inout [SiteOrderAction]) {
        guard members.filter({ !requesters.contains($0) }).min() == me else { return }
        for requester in requesters.sorted() where !answered.contains(requester) {
            answered.insert(requester)
            actions.append(.answer(snapshot(for: requester, takenAt: takenAt)))
        }
    }

    mutating func stateArrived(_ snapshot: WideAreaSnapshot, now: Instant, into actions: inout [SiteOrderAction]) {
        defer { updateRepresentative(now: now, into: &actions) }
        guard !isReady, snapshot.requester == me else {
            requesters.remove(snapshot.requester)
            if isReady { becameReady(snapshot.requester, now: now, into: &actions) }
            return
        }
        // The snapshot was taken where the latest request it answers sat: what this daemon
        // kept after that point is replayed on top of it.
        guard let start = requestIndex[snapshot.takenAt] else { return }
        apply(snapshot)
        budget.sitesChanged(remote, now: now)
        isReady = true
        actions.append(
            .joinedLate(
                SiteConfigurationChange(kind: .regular, id: configuration.id, sites: configuration.sites, joinedLate: true),
                siteDaemons: siteDaemons, ordinal: ordinal, exchange: snapshot.membership.exchange, siteSeq: localSeq))
        requesters.remove(me)
        replay(from: start, now: now, into: &actions)
        readyAfterReplay = true
    }

    /// `member` got the state here: once no member waits, the site's daemons go into its stream.
    private mutating func becameReady(_ member: NodeID, now: Instant, into actions: inout [SiteOrderAction]) {
        guard pending.remove(member) != nil else { return }
        readyMembers.insert(member)
        if pending.isEmpty {
            announceDaemons(now: now, into: &actions)
            release(now: now, into: &actions)
        }
    }

    /// Takes again what the ring delivered after `start` (kept until the state arrived), one
    /// delivery per `replayNext`: the engine hands each one's deliveries to the group layer before
    /// the next, as every other daemon did when the ring delivered them (what is numbered depends
    /// on the group layer: `groupsSettled`).
    private mutating func replay(from start: Int, now: Instant, into actions: inout [SiteOrderAction]) {
        let kept = buffered
        buffered = []
        requestIndex = [:]
        replaying.append(contentsOf: kept[min(start, kept.count)...])
        finishingReplay = true
    }

    /// Whether deliveries kept before the state arrived wait to be taken again, or the step
    /// after them (`replayNext`).
    public var isReplaying: Bool { !replaying.isEmpty || finishingReplay }

    /// Takes the next delivery kept before the state arrived; once all are taken (a call of its
    /// own, so the group layer has followed the last), this daemon is ready where the state
    /// arrived, and may represent its site.
    public mutating func replayNext(now: Instant, into actions: inout [SiteOrderAction]) {
        if let next = replaying.popFirst() {
            ringDelivered(next, now: now, into: &actions)
            return
        }
        finishingReplay = false
        if readyAfterReplay {
            readyAfterReplay = false
            becameReady(me, now: now, into: &actions)
        }
        updateRepresentative(now: now, into: &actions)
    }

    func snapshot(for requester: NodeID, takenAt: NodeID) -> WideAreaSnapshot {
        let siteStates = sites.map { other in
            other == site
                ? WideAreaSnapshot.SiteState(site: other, received: localSeq, promised: promisedBySite, held: held[other] ?? 0)
                : WideAreaSnapshot.SiteState(
                    site: other, received: received[other] ?? 0, promised: promised[other] ?? 0, held: held[other] ?? 0)
        }
        let reportList = reports.keys.sorted().map { reporter in
            WideAreaSnapshot.SiteReport(reporter: reporter, progress: reports[reporter]!.values.sorted { $0.site < $1.site })
        }
        var snapshot = WideAreaSnapshot(
            requester: requester, takenAt: takenAt, clock: clock, localSeq: localSeq, sites: siteStates, reports: reportList,
            waiting: sites.flatMap { Array(waiting[$0] ?? []) }, outbox: outbox.map(\.data), membership: membershipState)
        snapshot.interests = interestList
        snapshot.standIns = standInsList
        snapshot.ownMembers = ownMemberList
        return snapshot
    }

    var membershipState: WideAreaMembershipState {
        var phaseByte: UInt8 = 0
        var proposing: [SiteID] = []
        var confirmed: [SiteID] = []
        switch phase {
        case .operational: break
        case .proposing(let proposed):
            phaseByte = 1
            proposing = proposed
        case .closing(let closing):
            phaseByte = 2
            confirmed = closing.confirmed.sorted()
        }
        return WideAreaMembershipState(
            configuration: configuration, attempt: attempt, phase: phaseByte, proposing: proposing, lastInstall: lastInstall,
            proposals: proposals.keys.sorted().map { proposals[$0]! },
            consumed: consumed.keys.sorted().map { SiteProgress.Received(site: $0, received: consumed[$0]!) }, frozen: frozen,
            relay: relay.keys.sorted().flatMap { Array(relay[$0]!) }, finishing: finishing.sorted(), confirmed: confirmed,
            delivered: lastDelivered, highestSeq: highestSeq, pending: pending.sorted(),
            siteDaemons: siteDaemons.keys.sorted().map { .init(site: $0, daemons: siteDaemons[$0]!) }, ordinal: ordinal,
            unreliableSeen: unreliableSeen.keys.sorted().map { .init(site: $0, ids: unreliableSeen[$0]!.inOrder) })
    }

    private mutating func apply(_ snapshot: WideAreaSnapshot) {
        clock = snapshot.clock
        // This site's own entry carries what it promised (`promisedBySite`).
        promisedBySite = min(snapshot.sites.first { $0.site == site }?.promised ?? clock, clock)
        localSeq = snapshot.localSeq
        let membership = snapshot.membership
        configuration = SiteConfiguration(
            id: membership.configuration.id, sites: membership.configuration.sites.filter(sites.contains))
        remote = configuration.sites.filter { $0 != site }
        attempt = membership.attempt
        proposals = Dictionary(membership.proposals.filter { sites.contains($0.origin) }.map { ($0.origin, $0) }, uniquingKeysWith: { $1 })
        consumed = Dictionary(membership.consumed.map { ($0.site, $0.received) }, uniquingKeysWith: { $1 })
        frozen = membership.frozen
        frozenBytes = frozen.reduce(0) { $0 + $1.payload.readableBytes }
        lastDelivered = membership.delivered
        highestSeq = membership.highestSeq
        pending = Set(membership.pending).intersection(members)
        readyMembers = Set(members).subtracting(pending)
        siteDaemons = Dictionary(
            membership.siteDaemons.filter { configuration.sites.contains($0.site) }.map { ($0.site, $0.daemons) },
            uniquingKeysWith: { $1 })
        ordinal = membership.ordinal
        unreliableSeen = Dictionary(membership.unreliableSeen.map { ($0.site, RecentIDs($0.ids)) }, uniquingKeysWith: { $1 })
        relay = [:]
        for data in membership.relay { relay[data.origin, default: []].append(data) }
        finishing = Set(membership.finishing)
        lastInstall = membership.lastInstall
        switch membership.phase {
        case 1: phase = .proposing(membership.proposing)
        case 2 where lastInstall?.proposal(of: site) != nil:  // (an install without this site: a forged snapshot)
            var closing = closingPlan(lastInstall!)
            closing.confirmed.formUnion(membership.confirmed)
            phase = .closing(closing)
        default: phase = .operational
        }
        // Operational, the last install began the configuration; otherwise `enter` sets them
        // before they are read (nothing is numbered or goes ahead of the order meanwhile).
        if case .operational = phase { streamStarts = lastInstall.map(Self.streamStarts) ?? [:] } else { streamStarts = [:] }
        received = [:]
        promised = [:]
        waiting = [site: []]
        for entry in snapshot.sites {
            guard held[entry.site] != nil else { continue }
            held[entry.site] = entry.held
            if entry.site != site, configuration.sites.contains(entry.site) {
                received[entry.site] = entry.received
                promised[entry.site] = entry.promised
                waiting[entry.site] = []
            }
        }
        reports = [:]
        for report in snapshot.reports where received[report.reporter] != nil {
            reports[report.reporter] = Dictionary(
                report.progress.filter { held[$0.site] != nil }.map { ($0.site, $0) }, uniquingKeysWith: { $1 })
        }
        for origin in waiting.keys { waiting[origin] = [] }
        daemonChanges = [:]
        for data in snapshot.waiting where waiting[data.origin] != nil { queue(data) }
        outbox = .init(snapshot.outbox.map { OutboxEntry(data: $0, sentAt: nil, standIn: standIn(for: $0)) })
        applyInterests(snapshot.interests)
        standInsHeld = Dictionary(snapshot.standIns.map { ($0.site, Set($0.seqs)) }, uniquingKeysWith: { $1 })
        applyOwnMembers(snapshot.ownMembers)
        unacknowledgedBytes = outbox.reduce(0) { $0 + $1.bytes }
    }
}
