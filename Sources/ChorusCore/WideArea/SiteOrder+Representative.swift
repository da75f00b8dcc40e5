import ChorusWire
import NIOCore

/// What only the representative keeps: what it has put into the ring from each other site, and
/// what arrived ahead of a gap.
struct RepresentativeState: Sendable {
    /// Per other site: the highest seq put into the ring (or taken from it before this daemon
    /// took over): data at or below it is not submitted again.
    var submitted: [SiteID: UInt64]
    var arrivals: [SiteID: [UInt64: WideAreaData]] = [:]
    /// Per other site: its newest heartbeat, waiting for the data it follows.
    var heartbeats: [SiteID: WideAreaHeartbeat] = [:]
    var nextTick: Instant
}

extension SiteOrder {
    /// Takes over: nothing of the predecessor's is known here but the ring's stream, so every
    /// message of this site some other site has not reported is sent again.
    mutating func becomeRepresentative(now: Instant, into actions: inout [SiteOrderAction]) {
        representative = RepresentativeState(submitted: received, nextTick: now)
        for index in outbox.indices { outbox[index].sentAt = 0 }
        actions.append(.representative(true))
        actions.append(.setTimer(now))
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
        let origin: SiteID
        switch message {
        case .tick:
            counters.malformed += 1  // ticks never leave their site
            return
        case .data(let data) where data.service == .unreliable:
            guard data.origin != site, representative!.submitted[data.origin] != nil else {
                counters.foreign += 1
                return
            }
            counters.injected += 1
            actions.append(.submit(.unreliable, body))
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
            guard data.seq - submitted <= UInt64(options.maxBuffered) else {
                counters.overflowed += 1
                return
            }
            representative!.arrivals[origin, default: [:]][data.seq] = data
        case .heartbeat(let beat):
            origin = beat.origin
            guard representative!.submitted[origin] != nil else {
                counters.foreign += 1
                return
            }
            if let kept = representative!.heartbeats[origin], kept.lastSeq > beat.lastSeq || kept.lamport > beat.lamport {
                return  // an older one overtaken by a newer
            }
            representative!.heartbeats[origin] = beat
        }
        bringIn(from: origin, into: &actions)
    }

    /// Puts `origin`'s messages into the ring in seq order, then its heartbeat once its data is in.
    private mutating func bringIn(from origin: SiteID, into actions: inout [SiteOrderAction]) {
        var submitted = representative!.submitted[origin]!
        while let next = representative!.arrivals[origin]?.removeValue(forKey: submitted + 1) {
            submitted += 1
            counters.injected += 1
            actions.append(.submit(next.service == .safe ? .safe : .agreed, WideAreaMessageCodec.encode(.data(next))))
        }
        representative!.submitted[origin] = submitted
        if let beat = representative!.heartbeats[origin], beat.lastSeq <= submitted {
            representative!.heartbeats[origin] = nil
            actions.append(.submit(.agreed, WideAreaMessageCodec.encode(.heartbeat(beat))))
        }
    }

    /// Routes changed or a link came back (its other end may be a new representative that
    /// knows nothing of what was in flight): everything not yet reported is sent again now.
    public mutating func topologyChanged(now: Instant, into actions: inout [SiteOrderAction]) {
        guard representative != nil else { return }
        for index in outbox.indices { outbox[index].sentAt = 0 }
        resendDue(now: now, into: &actions)
    }

    /// The representative's timer: its clock tick, and resends.
    public mutating func timerFired(now: Instant, into actions: inout [SiteOrderAction]) {
        guard representative != nil else { return }
        if now >= representative!.nextTick {
            actions.append(.submit(.agreed, WideAreaMessageCodec.encode(.tick(stamp: now &+ options.stampOffset))))
            representative!.nextTick = now + options.heartbeatInterval
        }
        resendDue(now: now, into: &actions)
        actions.append(.setTimer(representative!.nextTick))
    }

    /// Sends again the oldest messages unanswered for `resendAfter`. Sends happen in seq order, so
    /// the due ones are a prefix (one resent in the previous round stops the scan until the
    /// round after: a later one waits at most twice `resendAfter`).
    private mutating func resendDue(now: Instant, into actions: inout [SiteOrderAction]) {
        var index = outbox.startIndex
        while index < outbox.endIndex {
            let sentAt = outbox[index].sentAt
            guard sentAt == 0 || sentAt + options.resendAfter <= now else { break }
            if sentAt != 0 { counters.resent += 1 }
            outbox[index].sentAt = now
            originate(.data(outbox[index].data), into: &actions)
            index += 1
        }
    }

    /// At the representative's tick in the ring's order: the site's promise and progress.
    mutating func sendHeartbeat(now: Instant, into actions: inout [SiteOrderAction]) {
        let progress = sites.map { origin in
            SiteProgress(site: origin, received: received(from: origin), held: held[origin] ?? 0)
        }
        originate(.heartbeat(WideAreaHeartbeat(origin: site, lamport: clock, lastSeq: localSeq, progress: progress)), into: &actions)
    }

    mutating func originate(_ message: WideAreaMessage, into actions: inout [SiteOrderAction]) {
        if case .data = message { counters.originated += 1 }
        actions.append(.originate(WideAreaMessageCodec.encode(message)))
    }
}
