import ChorusWire
import DequeModule
import NIOCore

/// Where a site is in changing its configuration of sites.
enum MembershipPhase: Sendable {
    case operational
    /// The site proposed these sites; its new messages wait.
    case proposing([SiteID])
    /// An install applies here: the old configuration's messages are delivered up to the cuts,
    /// then the transitional and the regular configuration.
    case closing(Closing)
}

/// What an install means for one site, computed alike by every daemon of every site that
/// comes from the same configuration.
struct Closing: Sendable {
    var install: SiteInstall
    /// Per site of the old configuration: its last message delivered in it (a member that moves
    /// on: its own cut; one left behind: the most any member moving on had taken of it).
    var cuts: [SiteID: UInt64]
    /// The members of the install that come from the same configuration (this site included):
    /// the transitional configuration.
    var transitional: [SiteID]
    /// Members of `transitional` known to have every message up to the cuts (from their
    /// heartbeats, of the old configuration or already of the new one).
    var confirmed: Set<SiteID> = []

    /// Every member of the transitional configuration has what this site delivers in it.
    var isConfirmed: Bool { transitional.allSatisfy(confirmed.contains) }
}

/// Configurations of sites (extended virtual synchrony across sites).
///
/// - Every site starts alone. The representative knows which sites its router reaches; when that
///   differs from the configuration (or another site proposes), it puts `propose(reached)` into
///   its ring. Where that sits in the ring's order, every daemon of the site makes the same
///   proposal: the configuration it comes from, its messages so far (`cutSeq`: it numbers no more
///   until a configuration is installed), its clock, and what it took of every site of its
///   configuration. The representative routes it to the sites it names.
/// - The coordinator (the lowest site proposed) decides once its ring holds, from every site it
///   proposed, a proposal of the same sites not yet used: the install lists those proposals, and
///   they fix everything. A site applies an install that uses its latest proposal.
/// - Applying it, a site finishes its old configuration: each member that moves on with it ends
///   at its cut; a site left behind ends at the most any of them took of it, and the lowest that
///   has that much sends what the others lack (from `relay`). Once every stream is complete, the
///   rest of the old messages go out in order (safe ones not known held everywhere after the
///   transitional configuration), then the regular configuration, then the held messages,
///   numbered in it. Data and heartbeats carry their configuration, so nothing crosses over.
/// - A site that has not installed within `agreementTimeout` proposes again (a site that had the
///   messages left, or the coordinator went away): a site may then install a configuration that
///   another member never does, as extended virtual synchrony allows.
extension SiteOrder {
    // MARK: The representative's view

    /// The sites this daemon's router reaches changed (the representative only).
    public mutating func reachabilityChanged(_ reached: [SiteID], now: Instant, into actions: inout [SiteOrderAction]) {
        guard representative != nil else { return }
        representative!.reached = Set(reached).intersection(sites).union([site]).sorted()
        for other in sites where other != site {
            if representative!.reached.contains(other) {
                representative!.unreachableSince[other] = nil
            } else if representative!.unreachableSince[other] == nil {
                representative!.unreachableSince[other] = now
            }
        }
        considerProposing(now: now, into: &actions)
    }

    /// Proposes the sites the router reaches when they are not the configuration (or the
    /// proposal under way), when a site reached proposes and this one is not agreeing, or when an
    /// agreement takes too long.
    mutating func considerProposing(now: Instant, into actions: inout [SiteOrderAction]) {
        guard isReady, let state = representative, sites.count > 1 else { return }
        // Members lost only lately are kept a while (`departureGrace`).
        let members: [SiteID]
        switch phase {
        case .operational: members = configuration.sites
        case .proposing(let proposed): members = proposed
        case .closing(let closing): members = closing.install.configuration.sites
        }
        let lately = members.filter { member in
            state.unreachableSince[member].map { now - min(now, $0) < options.departureGrace } ?? false
        }
        let reached = Set(state.reached).union(lately).sorted()
        let settled = now >= state.settledAt
        let overdue = now - min(now, state.phaseSince) >= options.agreementTimeout
        var propose = false
        switch phase {
        case .operational:
            if reached != configuration.sites {
                propose = settled || Set(reached).isSuperset(of: configuration.sites)
            } else {
                // Another site wants a change: answer with what this one reaches.
                propose = reached.contains { other in
                    guard other != site, let proposal = proposals[other] else { return false }
                    return proposal.attempt > consumed[other] ?? 0 && proposal.sites.contains(site)
                }
            }
        case .proposing(let proposed):
            propose = (reached != proposed && (settled || Set(reached).isSuperset(of: proposed))) || overdue
        case .closing(let closing):
            propose = (reached != closing.install.configuration.sites && settled) || overdue || isAbandoned(closing)
        }
        guard propose else { return }
        if let requested = state.requested, requested.sites == reached, now - min(now, requested.at) < options.agreementTimeout {
            return  // already on its way through the ring
        }
        if overdue { counters.abandonedAgreements += 1 }
        representative!.requested = (reached, now)
        representative!.phaseSince = now
        actions.append(.submit(.agreed, WideAreaMessageCodec.encode(.propose(sites: reached))))
    }

    // MARK: Where the ring delivers (every daemon)

    mutating func proposeDelivered(_ wanted: [SiteID], now: Instant, into actions: inout [SiteOrderAction]) {
        let proposed = Set(wanted).intersection(sites).union([site]).sorted()
        attempt += 1
        phase = .proposing(proposed)
        promisedBySite = clock  // the proposal's clock is a promise (`enter`)
        var proposal = SiteProposal(
            origin: site, attempt: attempt, configuration: configuration.id, cutSeq: localSeq, clock: clock,
            delivered: lastDelivered, sites: proposed,
            received: configuration.sites.map { SiteProgress.Received(site: $0, received: received(from: $0)) })
        proposeInterests(&proposal)
        proposals[site] = proposal
        if representative != nil {
            representative!.requested = nil
            representative!.phaseSince = now
            sendProposal(now: now, into: &actions)
        }
        decideIfCoordinator(now: now, into: &actions)
    }

    mutating func proposalDelivered(_ proposal: SiteProposal, now: Instant, into actions: inout [SiteOrderAction]) {
        guard proposal.origin != site, sites.contains(proposal.origin) else {
            counters.foreign += 1
            return
        }
        if let known = proposals[proposal.origin], known.attempt >= proposal.attempt {
            // A copy: the coordinator answers it with the install that used it (which was lost).
            // A representative that got this site's state part way (restarted after the decision)
            // has no `decided`, but its snapshot carries this site's last install.
            if representative != nil, let install = installUsing(proposal) {
                actions.append(.originate(WideAreaMessageCodec.encode(.install(install)), to: [proposal.origin]))
            }
            return
        }
        proposals[proposal.origin] = proposal
        decideIfCoordinator(now: now, into: &actions)
        considerProposing(now: now, into: &actions)
    }

    /// The install this site decided that used `proposal`, if any.
    private func installUsing(_ proposal: SiteProposal) -> SiteInstall? {
        if let install = decided.last(where: { $0.proposal(of: proposal.origin) == proposal }) { return install }
        guard let last = lastInstall, last.id.coordinator == site, last.proposal(of: proposal.origin) == proposal else { return nil }
        return last
    }

    /// The coordinator decides once every site it proposed has proposed the same sites.
    private mutating func decideIfCoordinator(now: Instant, into actions: inout [SiteOrderAction]) {
        guard case .proposing(let proposed) = phase, proposed.first == site else { return }
        var members: [SiteProposal] = []
        for other in proposed {
            guard let proposal = proposals[other], proposal.sites == proposed, proposal.attempt > consumed[other] ?? 0 else { return }
            members.append(proposal)
        }
        // Above every configuration the members come from, and above this coordinator's last
        // install (one it applied but gave up before finishing may be another's configuration).
        let seq = max(members.map(\.configuration.seq).max()!, highestSeq) + 1
        let install = SiteInstall(id: SiteConfigurationID(seq: seq, coordinator: site), proposals: members)
        decided.append(install)
        if decided.count > 16 { decided.removeFirst() }
        if representative != nil, proposed.count > 1 {
            actions.append(.originate(WideAreaMessageCodec.encode(.install(install)), to: proposed.filter { $0 != site }))
        }
        installDelivered(install, now: now, into: &actions)
    }

    mutating func installDelivered(_ install: SiteInstall, now: Instant, into actions: inout [SiteOrderAction]) {
        guard case .proposing = phase, let mine = install.proposal(of: site), mine == proposals[site] else {
            counters.staleInstalls += 1
            return
        }
        for proposal in install.proposals { consumed[proposal.origin] = max(consumed[proposal.origin] ?? 0, proposal.attempt) }
        highestSeq = max(highestSeq, install.id.seq)
        let closing = closingPlan(install)
        phase = .closing(closing)
        lastInstall = install
        finishing = Set(closing.transitional).subtracting([site])
        if representative != nil {
            representative!.phaseSince = now
            supply(now: now, into: &actions)
            representative!.resendFrom = outbox.first?.data.seq  // members moving on may lack this site's too
        }
    }

    /// What `install` means here (this site's proposal in it names the configuration it comes from).
    func closingPlan(_ install: SiteInstall) -> Closing {
        let mine = install.proposal(of: site)!
        let transitional = install.proposals.filter { $0.configuration == mine.configuration }
        var cuts: [SiteID: UInt64] = [:]
        for entry in mine.received {
            if let member = transitional.first(where: { $0.origin == entry.site }) {
                cuts[entry.site] = member.cutSeq
            } else {
                let taken = transitional.compactMap { $0.received(of: entry.site) }
                cuts[entry.site] = (options.brokenRules.cutAtMinimum ? taken.min() : taken.max()) ?? entry.received
            }
        }
        return Closing(install: install, cuts: cuts, transitional: transitional.map(\.origin), confirmed: [site])
    }

    /// A heartbeat of a member moving on with this site, while closing: it confirms the member has
    /// every message up to the cuts when it reports so, or when it is already of the new configuration.
    mutating func closingHeard(_ beat: WideAreaHeartbeat) {
        guard case .closing(var closing) = phase, closing.transitional.contains(beat.origin) else { return }
        let complete =
            beat.configuration == closing.install.id
            || (beat.configuration == configuration.id
                && closing.cuts.allSatisfy { cut in beat.progress.contains { $0.site == cut.key && $0.received >= cut.value } })
        guard complete, closing.confirmed.insert(beat.origin).inserted else { return }
        phase = .closing(closing)
    }

    /// A member moving on with this site proposed again instead of applying the install: it will
    /// neither confirm nor supply, so the install cannot finish here.
    func isAbandoned(_ closing: Closing) -> Bool {
        closing.transitional.contains { member in
            guard member != site, let latest = proposals[member], let used = closing.install.proposal(of: member) else { return false }
            return latest.attempt > used.attempt && latest.configuration != closing.install.id
        }
    }

    func streamsComplete(_ closing: Closing) -> Bool {
        configuration.sites.allSatisfy { $0 == site || received(from: $0) >= closing.cuts[$0] ?? 0 }
    }

    /// Every message of the old configuration is in here and at every member moving on: the rest
    /// of them go out (a safe one not known held by every site of it after the transitional
    /// configuration), then the new configuration begins, and this site's held messages are
    /// numbered in it.
    mutating func finishClosing(_ closing: Closing, now: Instant, into actions: inout [SiteOrderAction]) {
        let next = closing.install.configuration
        let transitional = SiteConfigurationChange(kind: .transitional, id: next.id, sites: closing.transitional)
        var transitionalDelivered = false
        // Delivered in the regular configuration by some member moving on: so here too (for a
        // safe one, every site held it). Every member computes the same from the install.
        let boundary = closing.transitional.compactMap { closing.install.proposal(of: $0)?.delivered }.max()
        for origin in configuration.sites where origin != site {
            // Taken while agreeing, past where the origin's stream ends in this configuration.
            while let last = waiting[origin]?.last, last.seq > closing.cuts[origin] ?? 0 {
                waiting[origin]!.removeLast()
                if daemonChanges[origin]?.last?.seq == last.seq { daemonChanges[origin]!.removeLast() }
                counters.beyondCut += 1
            }
        }
        while let (head, _) = nextHead(closing: true) {
            if !transitionalDelivered, head.service >= .causal, !(boundary.map { head.position <= $0 } ?? false) {
                actions.append(.configuration(transitional))
                transitionalDelivered = true
            }
            deliverHead(head, into: &actions)
        }
        if !transitionalDelivered { actions.append(.configuration(transitional)) }
        enter(closing, now: now)
        counters.configurations += 1
        actions.append(.configuration(SiteConfigurationChange(kind: .regular, id: next.id, sites: next.sites)))
        if representative != nil { representativeEntered(closing, now: now, into: &actions) }
        let held = frozen
        frozen = []
        frozenBytes = 0
        guard let ringID else { return }
        // Every site's daemons first: the group views of the new configuration are built on them.
        announceDaemons(now: now, into: &actions)
        // A list held meanwhile is stale: the announcement above gives the site's daemons now (each
        // stale one would change the views and take a lease for nothing).
        for message in held where !GroupMessageCodec.isSiteDaemons(message.payload) {
            takeLocal(
                RingDelivery(ringID: ringID, sender: message.sender, service: message.service, payload: message.payload),
                wasFrozen: true, now: now, into: &actions)
        }
    }

    /// The state of the new configuration: members that move on keep theirs; new ones start at
    /// their cut with their clock as promise; departed ones are forgotten (but for what this site
    /// still supplies).
    private mutating func enter(_ closing: Closing, now: Instant) {
        let next = closing.install.configuration
        for departed in configuration.sites where departed != site && !next.sites.contains(departed) {
            received[departed] = nil
            promised[departed] = nil
            waiting[departed] = nil
            reports[departed] = nil
        }
        standInsHeld = [:]  // (only proposals of the configuration that ends read it)
        // Every member's groups as of its cut: it numbered nothing after proposing.
        enterInterests(closing.install)
        for member in next.sites where member != site {
            let proposal = closing.install.proposal(of: member)!
            if closing.transitional.contains(member) {
                promised[member] = max(promised[member] ?? 0, proposal.clock)
                continue
            }
            received[member] = proposal.cutSeq
            promised[member] = proposal.clock
            held[member] = proposal.cutSeq
            waiting[member] = []
            relay[member] = nil
            for reporter in reports.keys { reports[reporter]![member] = nil }
            // What this site sent before the new member joined was never for it.
            reports[member] = [site: SiteProgress(site: site, received: localSeq, held: localSeq)]
        }
        configuration = next
        groupsSettled = false  // every daemon announces its sessions now
        remote = next.sites.filter { $0 != site }
        budget.sitesChanged(remote, now: now)
        phase = .operational
        lastDelivered = nil
        ordinal = 0
        siteDaemons = [:]
        daemonChanges = [:]  // every queue was emptied where the last configuration ended
        streamStarts = Self.streamStarts(closing.install)
        if finishing.isEmpty { relay = relay.filter { next.sites.contains($0.key) } }
        pruneOutbox(now: now, measured: false)
    }

    /// Per site of `install`: the seq its stream in the configuration it begins starts after.
    static func streamStarts(_ install: SiteInstall) -> [SiteID: UInt64] {
        Dictionary(install.proposals.map { ($0.origin, $0.cutSeq) }, uniquingKeysWith: { max($0, $1) })
    }

    // MARK: Supplying what a departed site left

    /// Sends the members moving on what they lack of a departed site's messages, where this site
    /// is the lowest that had them all (representative only).
    mutating func supply(now: Instant, into actions: inout [SiteOrderAction]) {
        guard let install = lastInstall else { return }
        representative!.lastSupply = now
        let closing = closingPlan(install)
        for (departed, cut) in closing.cuts.sorted(by: { $0.key < $1.key }) where !closing.transitional.contains(departed) {
            let holders = closing.transitional.filter { install.proposal(of: $0)!.received(of: departed) == cut }
            guard let first = holders.first, let kept = relay[departed] else { continue }
            let lacking = closing.transitional.filter { $0 != site && finishing.contains($0) }.map { member in
                (member, max(install.proposal(of: member)!.received(of: departed) ?? 0, reports[member]?[departed]?.received ?? 0))
            }
            for data in kept where data.seq <= cut {
                let needy = lacking.filter { data.seq > $0.1 }.map(\.0)
                guard !needy.isEmpty else { continue }
                // The lowest that took it all, unless a member needs a body only another holds.
                let bodies = data.pruned.isEmpty ? [] : Self.bodyHolders(of: data, among: closing.transitional, install: install)
                let mine = needy.filter { Self.supplier(of: data, to: $0, first: first, bodies: bodies) == site }
                guard !mine.isEmpty else { continue }
                counters.resent += mine.count
                actions.append(.originate(WideAreaMessageCodec.encode(.data(data)), to: mine))
            }
        }
    }

    /// Drops relayed messages every other site of the configuration has (at most once a heartbeat
    /// interval: that costs sites² lookups, and a message kept a little longer only waits to be
    /// dropped); once the members of the last install are all heard in it, what departed sites left.
    mutating func pruneRelay(heard reporter: SiteID, now: Instant) {
        // Heard in the configuration the last install made: that member finished its old one.
        if configuration.id == lastInstall?.id, finishing.remove(reporter) != nil, finishing.isEmpty {
            relay = relay.filter { configuration.sites.contains($0.key) }
        }
        guard now - min(now, lastRelayPrune) >= options.heartbeatInterval else { return }
        lastRelayPrune = now
        let origins = relay.compactMap { $0.value.isEmpty ? nil : $0.key }
        for origin in origins where configuration.sites.contains(origin) {
            var everywhere = UInt64.max
            for other in remote where other != origin { everywhere = min(everywhere, reports[other]?[origin]?.received ?? 0) }
            while let first = relay[origin]!.first, first.seq <= everywhere { relay[origin]!.removeFirst() }
        }
    }

    // MARK: Sending (representative)

    mutating func sendProposal(now: Instant, into actions: inout [SiteOrderAction]) {
        guard case .proposing(let proposed) = phase, let proposal = proposals[site], proposed.count > 1 else { return }
        representative!.lastProposal = now
        actions.append(.originate(WideAreaMessageCodec.encode(.proposal(proposal)), to: proposed.filter { $0 != site }))
    }

    /// The representative's timer: proposals and supplies again while agreeing, and timeouts.
    mutating func membershipTimer(now: Instant, into actions: inout [SiteOrderAction]) {
        if case .proposing = phase, now - min(now, representative!.lastProposal) >= options.reconfigurationResend {
            sendProposal(now: now, into: &actions)
        }
        if !finishing.isEmpty, now - min(now, representative!.lastSupply) >= options.reconfigurationResend {
            supply(now: now, into: &actions)
        }
        considerProposing(now: now, into: &actions)
    }
}

extension SiteOrder {
    /// Where this daemon is with configurations of sites, in a line (for status and traces).
    public var membershipDescription: String {
        let state: String
        switch phase {
        case .operational: state = "operational"
        case .proposing(let proposed): state = "proposing \(proposed) (attempt \(attempt))"
        case .closing(let closing):
            state = "closing towards \(closing.install.id), cuts \(closing.cuts.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }), transitional \(closing.transitional), confirmed \(closing.confirmed.sorted())"
        }
        let known = proposals.keys.sorted().map { "\($0)#\(proposals[$0]!.attempt)\(proposals[$0]!.sites)" }
        let heads = configuration.sites.compactMap { origin in waiting[origin]?.first.map { "\(origin):\($0.position)/\($0.service)x\(waiting[origin]!.count)" } }
        let promises = remote.map { "\($0):\(promised[$0] ?? 0)/\(received[$0] ?? 0)" }
        let held = remote.map { other in "\(other):\(reports[other]?[site]?.held ?? 0)" }
        return "\(configuration) \(state); heads \(heads) promised \(promises) clock \(clock); reported holding ours \(held) of \(localSeq); proposals \(known.joined(separator: " ")); used \(consumed.keys.sorted().map { "\($0)#\(consumed[$0]!)" }); frozen \(frozen.count)"
    }
}
