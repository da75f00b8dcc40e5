import ChorusWire
import NIOCore

/// What only the representative keeps: what it has put into the ring from each other site, and
/// what arrived ahead of a gap.
struct RepresentativeState: Sendable {
    /// Per other site: the highest seq put into the ring or taken from it (what an earlier
    /// representative put in counts when the ring delivers it): data at or below it is not
    /// submitted again.
    var submitted: [SiteID: UInt64]
    /// Per other site: routed data ahead of a gap, with the bytes it came in (submitted as they are).
    var arrivals: [SiteID: [UInt64: (data: WideAreaData, body: ByteBuffer)]] = [:]
    /// Per other site: its newest heartbeat, waiting for the data it follows.
    var heartbeats: [SiteID: (beat: WideAreaHeartbeat, body: ByteBuffer)] = [:]
    var nextTick: Instant
    /// The seq a resend pass has reached (nil: none under way).
    var resendFrom: UInt64?
    /// How long the oldest message must stay unanswered before a pass: `resendAfter`, doubled
    /// after each such pass up to 32 times (a slow link is not buried under resends), and back
    /// to `resendAfter` when the oldest is answered.
    var resendWait: Duration64
    /// The oldest message's seq when the last timed pass began.
    var resendOldest: UInt64 = 0
    /// The sites the router reaches (this one included), ascending.
    var reached: [SiteID]
    /// Before this, a site the router does not reach may only not be up yet: no leaving it behind.
    var settledAt: Instant
    /// When the current agreement began (or this daemon took over), for `agreementTimeout`.
    var phaseSince: Instant
    /// A `propose` on its way through the ring.
    var requested: (sites: [SiteID], at: Instant)?
    var lastProposal: Instant = 0
    var lastSupply: Instant = 0
    /// Routed data of a configuration this site has not installed yet (bodies, in arrival order).
    var early: [ByteBuffer] = []
    /// Per configured site the router does not reach: since when.
    var unreachableSince: [SiteID: Instant] = [:]
}

extension SiteOrder {
    /// Takes over: nothing of the predecessor's is known here but the ring's stream, so every
    /// message of this site some other site has not reported is sent again.
    mutating func becomeRepresentative(now: Instant, into actions: inout [SiteOrderAction]) {
        let settle = now.addingReportingOverflow(options.reachabilitySettle)
        representative = RepresentativeState(
            submitted: received, nextTick: now, resendWait: options.resendAfter, reached: [site],
            settledAt: settle.overflow ? .max : settle.partialValue, phaseSince: now)
        representative!.resendFrom = outbox.first?.data.seq
        for index in outbox.indices { outbox[index].sentAt = nil }
        actions.append(.representative(true))
        actions.append(.setTimer(now))
        sendProposal(now: now, into: &actions)
        if !finishing.isEmpty { supply(now: now, into: &actions) }
    }

    /// The site entered the configuration `closing` installs: new members' streams start at their
    /// cuts, departed ones are forgotten, and data that came early is taken now.
    mutating func representativeEntered(_ closing: Closing, now: Instant, into actions: inout [SiteOrderAction]) {
        for origin in Array(representative!.submitted.keys) where received[origin] == nil {
            representative!.submitted[origin] = nil
            representative!.arrivals[origin] = nil
            representative!.heartbeats[origin] = nil
        }
        for member in remote where !closing.transitional.contains(member) {
            representative!.submitted[member] = received[member]
            representative!.arrivals[member] = nil
            representative!.heartbeats[member] = nil
        }
        representative!.phaseSince = now
        let early = representative!.early
        representative!.early = []
        for body in early { routed(body, now: now, into: &actions) }
    }

    /// The ring dropped data of `origin` past what it took (a cut that has since grown, or a
    /// gap): what follows what the ring took is brought in again when it comes again.
    mutating func representativeDropped(_ origin: SiteID) {
        guard representative != nil, let taken = received[origin], let submitted = representative!.submitted[origin], submitted > taken
        else { return }
        representative!.submitted[origin] = taken
    }

    /// The ring delivered `origin`'s `seq` (perhaps put in by a predecessor): never submit it again.
    mutating func representativeTook(_ origin: SiteID, _ seq: UInt64) {
        guard let submitted = representative!.submitted[origin], seq > submitted else { return }
        representative!.submitted[origin] = seq
        if let waiting = representative!.arrivals[origin], !waiting.isEmpty {
            representative!.arrivals[origin] = waiting.filter { $0.key > seq }
        }
    }

    /// A routed body from another site reached this daemon (the router runs only here).
    public mutating func routed(_ body: ByteBuffer, now: Instant, into actions: inout [SiteOrderAction]) {
        guard representative != nil else {
            counters.notRepresentative += 1
            return
        }
        guard let message = try? WideAreaMessageCodec.decode(body) else {
            counters.malformed += 1
            return
        }
        // A timestamp far ahead of this daemon's clock would hold every later message back.
        let horizon = now.addingReportingOverflow(options.stampOffset).partialValue
            .addingReportingOverflow(options.maxTimestampLead)
        let latest = horizon.overflow ? UInt64.max : horizon.partialValue
        let origin: SiteID
        switch message {
        case .tick, .stateRequest, .state, .propose:
            counters.malformed += 1  // these never leave their site
            return
        case .proposal(let proposal):
            guard sites.contains(proposal.origin), proposal.origin != site, proposal.sites.contains(site) else {
                counters.foreign += 1
                return
            }
            actions.append(.submit(.agreed, body))
            return
        case .install(let install):
            guard install.proposal(of: site) != nil else {
                counters.foreign += 1
                return
            }
            actions.append(.submit(.agreed, body))
            return
        case .data(let data) where data.service == .unreliable:
            guard data.origin != site, representative!.submitted[data.origin] != nil else {
                counters.foreign += 1
                return
            }
            counters.injected += 1
            actions.append(.submit(.unreliable, body))
            return
        case .data(let data) where data.configuration != configuration.id:
            // Of a configuration this site is about to install: kept until it has; an older one: done with.
            if data.configuration.seq > configuration.id.seq, representative!.early.count < options.maxBuffered {
                representative!.early.append(body)
            } else {
                counters.otherConfiguration += 1
            }
            return
        case .data(let data):
            origin = data.origin
            guard let submitted = representative!.submitted[origin] else {
                counters.foreign += 1
                return
            }
            guard data.seq > submitted else {
                counters.duplicates += 1
                return
            }
            guard data.lamport <= latest else {
                counters.implausibleTimestamps += 1
                return
            }
            guard data.seq - submitted <= UInt64(options.maxBuffered) else {
                counters.overflowed += 1
                return
            }
            representative!.arrivals[origin, default: [:]][data.seq] = (data, body)
        case .heartbeat(let beat):
            origin = beat.origin
            guard beat.configuration == configuration.id else {
                if case .closing(let closing) = phase, beat.configuration == closing.install.id,
                    closing.transitional.contains(beat.origin), !closing.confirmed.contains(beat.origin)
                {
                    actions.append(.submit(.agreed, body))  // a member that finished: it has everything
                } else {
                    counters.otherConfiguration += 1  // they come again every heartbeat interval
                }
                return
            }
            guard representative!.submitted[origin] != nil else {
                counters.foreign += 1
                return
            }
            guard beat.lamport <= latest else {
                counters.implausibleTimestamps += 1
                return
            }
            if let kept = representative!.heartbeats[origin]?.beat, kept.lastSeq > beat.lastSeq || kept.lamport > beat.lamport {
                return  // an older one overtaken by a newer
            }
            representative!.heartbeats[origin] = (beat, body)
        }
        bringIn(from: origin, into: &actions)
    }

    /// Puts `origin`'s messages into the ring in seq order, then its heartbeat once its data is in.
    private mutating func bringIn(from origin: SiteID, into actions: inout [SiteOrderAction]) {
        var submitted = representative!.submitted[origin]!
        while let next = representative!.arrivals[origin]?.removeValue(forKey: submitted + 1) {
            submitted += 1
            counters.injected += 1
            actions.append(.submit(next.data.service == .safe ? .safe : .agreed, next.body))
        }
        representative!.submitted[origin] = submitted
        if let waiting = representative!.heartbeats[origin], waiting.beat.lastSeq <= submitted {
            representative!.heartbeats[origin] = nil
            actions.append(.submit(.agreed, waiting.body))
        }
    }

    /// Routes changed or a link came back (its other end may be a new representative that
    /// knows nothing of what was in flight): everything not yet reported is sent again now.
    public mutating func topologyChanged(now: Instant, into actions: inout [SiteOrderAction]) {
        guard representative != nil else { return }
        representative!.resendFrom = outbox.first?.data.seq
        resendDue(now: now, into: &actions)
    }

    /// The representative's timer: its clock tick, and resends.
    public mutating func timerFired(now: Instant, into actions: inout [SiteOrderAction]) {
        guard representative != nil else { return }
        if now >= representative!.nextTick {
            let stamp = now.addingReportingOverflow(options.stampOffset)
            // Safe: the heartbeat it causes promises other sites that no later message of this
            // site is numbered at or below it, and reports what this site took; delivered safe,
            // every member holds the tick and all before it, so a survivor of the
            // representative's crash keeps the promise.
            let service: Service = options.brokenRules.actOnUnstableDeliveries ? .agreed : .safe
            actions.append(.submit(service, WideAreaMessageCodec.encode(.tick(stamp: stamp.overflow ? Self.maxLamport : stamp.partialValue))))
            let next = now.addingReportingOverflow(options.heartbeatInterval)
            representative!.nextTick = next.overflow ? .max : next.partialValue
        }
        resendDue(now: now, into: &actions)
        membershipTimer(now: now, into: &actions)
        actions.append(.setTimer(representative!.nextTick))
    }

    /// Resends, a round (`maxResendsPerRound` messages, every heartbeat interval) at a time, to
    /// the sites that have not reported them: a pass over the whole outbox after a takeover or a
    /// change of links (messages routed while no route existed went nowhere), and one whenever
    /// the oldest message has been unanswered for `resendAfter`.
    private mutating func resendDue(now: Instant, into actions: inout [SiteOrderAction]) {
        guard let first = outbox.first else {
            representative!.resendFrom = nil
            return
        }
        if first.data.seq != representative!.resendOldest {
            representative!.resendWait = options.resendAfter  // progress: the oldest was answered
        }
        if representative!.resendFrom == nil, first.sentAt.map({ now - min(now, $0) >= representative!.resendWait }) ?? true {
            representative!.resendFrom = first.data.seq
            if first.sentAt != nil {
                representative!.resendOldest = first.data.seq
                representative!.resendWait = min(representative!.resendWait * 2, options.resendAfter * 32)
            }
        }
        guard let from = representative!.resendFrom else { return }
        // Outbox seqs are consecutive from the first.
        var index = Int(max(from, first.data.seq) - first.data.seq)
        var sent = 0
        while index < outbox.count, sent < options.maxResendsPerRound {
            let seq = outbox[index].data.seq
            let lagging = remote.filter { (reports[$0]?[site]?.received ?? 0) < seq }
            let again = outbox[index].sentAt != nil
            if again { counters.resent += 1 }
            outbox[index].sentAt = now
            if !lagging.isEmpty {
                originateData(outbox[index].data, standIn: outbox[index].standIn, to: lagging, again: again, into: &actions)
                sent += 1
            }
            index += 1
        }
        representative!.resendFrom = index < outbox.count ? outbox[index].data.seq : nil
    }

    /// At the representative's tick in the ring's order: the site's promise and progress.
    mutating func sendHeartbeat(now: Instant, into actions: inout [SiteOrderAction]) {
        let progress = sites.map { origin in
            configuration.sites.contains(origin)
                ? SiteProgress(site: origin, received: received(from: origin), held: held[origin] ?? 0)
                : SiteProgress(site: origin, received: 0, held: 0)
        }
        guard !remote.isEmpty else { return }
        originate(
            .heartbeat(WideAreaHeartbeat(origin: site, configuration: configuration.id, lamport: clock, lastSeq: localSeq, progress: progress)),
            into: &actions)
    }

    mutating func originate(_ message: WideAreaMessage, into actions: inout [SiteOrderAction]) {
        guard !remote.isEmpty else { return }
        if case .data = message { counters.originated += 1 }
        actions.append(.originate(WideAreaMessageCodec.encode(message), to: remote))
    }
}
