import ChorusWire

/// What each other member of a ring reported holding (`Packet.stable`), so that a safe message
/// becomes stable as soon as every member has said it holds it, a hop after the last of them
/// received it, instead of when the token has been round.
struct ArrivalReports: Sendable {
    var ringID = RingID.none
    /// Each other member's highest reported aru.
    var arus: [NodeID: UInt64] = [:]
    /// The lowest of `arus` over every other member of the ring (0 until each has reported).
    var lowest: UInt64 = 0
    /// The aru this daemon last reported, and when.
    var lastSentAru: UInt64 = 0
    var lastSentAt: Instant = 0

    /// Starts afresh for `ring` if the reports are of another ring.
    mutating func reset(for ring: RingID) {
        guard ringID != ring else { return }
        self = ArrivalReports()
        ringID = ring
    }

    /// Notes `aru` from `sender`; recomputes the lowest over `others` (every member but this daemon).
    mutating func note(_ aru: UInt64, from sender: NodeID, others: [NodeID]) {
        guard aru > arus[sender, default: 0] else { return }
        arus[sender] = aru
        var lowest = UInt64.max
        for member in others { lowest = min(lowest, arus[member, default: 0]) }
        self.lowest = others.isEmpty ? 0 : lowest
    }
}

/// Safe delivery: when every member holds a packet. Three sources, each sound on its own: the aru
/// seen on two successive visits of the token (`updateStability`), a pass of the token that left
/// the aru alone (`confirmStability`), and every member's report of what it holds
/// (`reportArrival`, `receiveStable`; off unless `RingOptions.reportArrivals`).
extension Ring {
    mutating func noteSafe(_ packet: DataPacket) {
        if highestSafe.ring != packet.ringID || packet.seq > highestSafe.seq { highestSafe = (packet.ringID, packet.seq) }
    }

    /// Whether every member has seen every safe packet stable: the token came back to this daemon
    /// twice in a row with an aru at or above it, so each member passed it on at least twice with
    /// that aru (a safe packet is stable at a member after two visits; see `updateStability`).
    /// With announcements, a token whose stable seq covers it says the same: the member that
    /// confirmed that stability announced it to every member the token has yet to reach.
    func highestSafeIsStableEverywhere(incoming token: Token, ring: RingID) -> Bool {
        highestSafe.ring != ring || highestSafe.seq <= min(previousIncomingAru, token.aru)
            || (announcesStability && highestSafe.seq <= token.stableSeq)
    }

    /// Whether members tell each other what they hold and what they confirmed stable
    /// (`RingOptions.announceStability`).
    var announcesStability: Bool {
        options.confirmStabilityInOnePass && options.announceStability
    }

    /// The token reached the daemon before its aru's setter and this daemon left the aru alone:
    /// it went through every member since the setter set it, and none lacked a packet up to it
    /// (the setter holds them, and each other member would have lowered it). So every member
    /// holds them: the token carries that on as its stable seq, and the members after this one
    /// deliver safe messages up to there on their next visit instead of a rotation later.
    ///
    /// Only on an installed ring: a recovery installs on the two-visit rule, which also tells it
    /// that every member saw the recovery's target (see `handleToken`).
    func confirmStability(_ token: inout Token, members: [NodeID]) {
        guard phase == .operational, options.confirmStabilityInOnePass, let setter = token.aruSetter, setter != me,
            successor(in: members) == setter
        else { return }
        token.stableSeq = max(token.stableSeq, token.aru)
    }

    /// This daemon now holds every safe packet it knows of, up to one it has not reported yet:
    /// it tells the other members its aru (and what it knows stable), so each of them can take a
    /// safe packet as stable once every member has reported holding it. At most one report per
    /// `stabilityReportInterval`: under load the token's rules take over (a report only brings
    /// stability forward; none is needed for it).
    mutating func reportArrival(_ log: RingLog, now: Instant, into actions: inout [RingAction]) {
        guard options.reportArrivals, phase == .operational, announcesStability, highestSafe.ring == log.ringID,
            log.myAru >= highestSafe.seq
        else { return }
        reports.reset(for: log.ringID)
        guard highestSafe.seq > reports.lastSentAru, now >= reports.lastSentAt &+ options.stabilityReportInterval else {
            return
        }
        let others = log.others
        guard !others.isEmpty else { return }
        reports.lastSentAru = log.myAru
        reports.lastSentAt = now
        let report = StableMessage(sender: me, ringID: log.ringID, aru: log.myAru, stableSeq: log.stableSeq)
        actions.append(.send(.stable(report), to: .members(others)))
        counters.stabilityReports += 1
    }

    /// Another member's report: what it holds (`aru`) and what it knows every member holds
    /// (`stableSeq`, confirmed by a pass of the token or by every member's report). Safe messages
    /// up to the lowest aru of every member, or up to the announced stable seq, are delivered now.
    /// An honest report never names a stable seq this daemon lacks (it passed the token on with
    /// an aru at least that high, or reported it), so one that does is refused and counted.
    mutating func receiveStable(_ stable: StableMessage, into actions: inout [RingAction]) {
        guard phase == .operational, announcesStability, var log = installed.take() else { return }
        defer { installed = log }
        guard stable.ringID == log.ringID, stable.sender != me, log.members.contains(stable.sender) else {
            counters.foreignPackets += 1
            return
        }
        guard stable.stableSeq <= log.myAru else {
            counters.implausiblePackets += 1
            return
        }
        reports.reset(for: log.ringID)
        reports.note(stable.aru, from: stable.sender, others: log.others)
        raiseStability(to: max(stable.stableSeq, min(reports.lowest, log.myAru)), log: &log, into: &actions)
    }

    /// This daemon's aru rose: what every other member reported holding may now be stable here.
    mutating func applyReports(_ log: inout RingLog, into actions: inout [RingAction]) {
        guard reports.ringID == log.ringID, reports.lowest > log.stableSeq else { return }
        raiseStability(to: min(reports.lowest, log.myAru), log: &log, into: &actions)
    }

    /// Safe line: the aru seen on two successive visits is held by every member, and so is the
    /// token's stable seq (a pass confirmed it, see `confirmStability`).
    /// `recordingVisit`: whether `token.aru` becomes the previous visit's aru (false for a token
    /// held and released later in the same visit).
    mutating func updateStability(
        token: Token, log: inout RingLog, recordingVisit: Bool = true, into actions: inout [RingAction]
    ) {
        var stable = min(previousVisitAru, token.aru)
        if log.others.isEmpty { stable = max(stable, log.myAru) }  // see `stabilizeIfAlone`
        if phase == .operational, options.confirmStabilityInOnePass {
            stable = max(stable, min(token.stableSeq, token.aru, log.myAru))
        }
        if recordingVisit { previousVisitAru = token.aru }
        raiseStability(to: stable, log: &log, into: &actions)
    }

    /// Alone in the ring, what this daemon holds every member holds: what it sequenced is stable
    /// at once, at a visit or while it holds the token (a one-daemon site's representative ticks
    /// safe every heartbeat interval, and what it routes waits for stability).
    mutating func stabilizeIfAlone(_ log: inout RingLog, into actions: inout [RingAction]) {
        if log.others.isEmpty { raiseStability(to: log.myAru, log: &log, into: &actions) }
    }

    /// Every member holds the packets up to `stable`: deliver what waited for it, drop what no
    /// member can ask for again.
    mutating func raiseStability(to stable: UInt64, log: inout RingLog, into actions: inout [RingAction]) {
        guard stable > log.stableSeq else { return }
        log.stableSeq = stable
        log.advanceCursor(into: &actions)
        log.discardStable()
    }
}
