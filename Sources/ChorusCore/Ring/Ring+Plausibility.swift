import ChorusWire

/// Plausibility checks on codec-valid packets: what an honest daemon of this ring could have
/// sent. They cannot tell a forgery that follows the protocol exactly from the real thing (that
/// needs authentication), but they refuse every value an honest daemon never sends, so that no
/// single packet can wedge the ring or exhaust its numbers. See docs/hostile-peers.md.
extension Ring {
    // MARK: Ring seqs

    /// Ring seqs per microsecond the network may add to this daemon's allowance. Honest ring seqs
    /// grow with the clock (a daemon starts from the wall clock in microseconds) plus one per
    /// ring, so the others need to rise by at most the youngest member's uptime in microseconds
    /// to follow a daemon that just started, and each has been up at least that long; a hostile
    /// peer needs thousands of years to raise ring seqs to `maxPlausibleRingSeq` this way.
    static let ringSeqAllowancePerMicrosecond: UInt64 = 16

    /// Whether `seq` (a ring seq from the network) is within what the network may still raise
    /// this daemon's highest ring seq by: what it earned since it started, at most one
    /// `maxRingSeqStep` (about 200 days' worth) at once. A larger jump is refused and counted,
    /// but steps this daemon's highest ring seq up by what the allowance has left, so that a
    /// daemon far behind the others catches up over a few packets instead of never.
    mutating func acceptsRingSeq(_ seq: UInt64, now: Instant) -> Bool {
        guard seq > maxRingSeq else { return true }
        if now > ringSeqAllowanceAt {
            let earned = min((now - ringSeqAllowanceAt) / 1000, Self.maxRingSeqStep) * Self.ringSeqAllowancePerMicrosecond
            ringSeqAllowance = min(Self.maxRingSeqStep, ringSeqAllowance + earned)
            ringSeqAllowanceAt = now
        }
        guard seq - maxRingSeq <= ringSeqAllowance else {
            counters.implausiblePackets += 1
            raiseRingSeq(to: maxRingSeq + ringSeqAllowance)
            return false
        }
        return true
    }

    /// Raises the highest known ring seq to `seq` (accepted by `acceptsRingSeq`), spending allowance.
    mutating func raiseRingSeq(to seq: UInt64) {
        guard seq > maxRingSeq else { return }
        ringSeqAllowance -= min(ringSeqAllowance, seq - maxRingSeq)
        maxRingSeq = seq
    }

    // MARK: Tokens

    /// Whether a token of the active ring is one an honest predecessor could pass now:
    /// - its token seq is exactly the next one for this daemon (each pass adds one, so a member
    ///   at ring position p first gets p + 1, then its last + the ring's size);
    /// - its seq is at least the highest this daemon holds (packets are sequenced before the
    ///   token that counts them leaves), within the log window above this daemon's aru, and at
    ///   most a rotation's worth above the seq this daemon passed last (flow control keeps the
    ///   packets sent in a rotation within the window; the margin covers a daemon configured
    ///   with a larger one and the rotation after a forged count drained);
    /// - its aru setter is a member, and there is one unless the aru is complete (an aru below
    ///   the seq with no setter is never raised again: every later message would wait for good);
    /// - at most every member still has recovery packets, and the flow-control count is one a
    ///   rotation could reach.
    @inline(__always) func isPlausibleToken(_ token: Token) -> Bool {
        guard let log = phase == .recovery ? pendingRing : installed, let position = log.members.firstIndex(of: me) else {
            return false
        }
        let expected = lastTokenSeq == 0 ? UInt64(position + 1) : lastTokenSeq &+ UInt64(log.members.count)
        return token.tokenSeq == expected && token.seq >= log.highSeq
            && token.seq - log.myAru <= options.logWindow
            && token.seq - min(token.seq, previousVisitSeq) <= UInt64(rotationAllowance(members: log.members.count))
            && (token.aruID.map(log.members.contains) ?? (token.aru == token.seq))
            && (token.aruSetter.map(log.members.contains) ?? true)
            && token.recoveryPending <= UInt32(log.members.count)
            && token.fcc <= UInt32(clamping: rotationAllowance(members: log.members.count))
    }

    /// The most packets one rotation may send by this daemon's flow control, with a margin.
    func rotationAllowance(members: Int) -> Int {
        options.windowSize + options.maxPacketsPerToken * members
    }

    // MARK: Commit tokens

    /// Whether a commit token that reached this daemon's position could come from an honest
    /// representative:
    /// - a second rotation only of the ring whose first rotation this daemon handled, and a token
    ///   back at this daemon only with its own entry as it filled it (before, a daemon waiting in
    ///   commit moved into the recovery of any ring a forged second rotation named, with an entry
    ///   it never wrote, and a representative took a forged first rotation back as complete);
    /// - no entry claims an aru above its own high seq. (An entry's stable seq is not refused:
    ///   a forged token can leave a stable seq above what others hold in an honest daemon's frozen
    ///   log, and refusing every later commit token for it would keep the site in commit for
    ///   good. `enterRecovery` clamps it to what every survivor holds instead.)
    func isPlausibleCommit(_ token: CommitToken) -> Bool {
        let position = Int(token.position)
        if phase == .commit, token.rotation == 2 || position == 0, let state = commit, state.ringID == token.ringID,
            state.handledRotation >= 1
        {
            // Back at this daemon after it filled its entry: the entry must be as it wrote it.
            guard state.members == token.members, let forwarded = state.lastForwarded,
                position < forwarded.memberInfo.count, token.memberInfo[position] == forwarded.memberInfo[position]
            else { return false }
        } else if phase == .commit, token.rotation == 2, position != 0 {
            return false  // a second rotation of a ring whose first this daemon never saw
        }
        return token.memberInfo.allSatisfy { !$0.filled || $0.myAru <= $0.highSeq }
    }

    // MARK: Recovery

    /// Visits without progress after which a recovery re-forms.
    static let stalledRecoveryVisits = 20

    /// Whether this daemon's recovery stopped moving: for `stalledRecoveryVisits` visits in a
    /// row the token came back with the same seq and the same aru. An honest recovery moves on
    /// every rotation until it installs (recovery packets are sent, lost ones resent and the aru
    /// rises, or the target becomes stable), so only forged values do this: a pending count no
    /// member will lower, or a seq no member holds (nobody can resend it, and fail-to-receive
    /// runs only on an installed ring). Without the check the token would circulate for good
    /// and the ring never install. Counts visits.
    mutating func recoveryStalled(_ token: Token) -> Bool {
        let stalled = token.seq == previousVisitSeq && token.aru == previousVisitAru && lastTokenSeq > 1
        let visits = updateRecovery { state in
            state.stalledVisits = stalled ? state.stalledVisits + 1 : 0
            return state.stalledVisits
        }
        return (visits ?? 0) >= Self.stalledRecoveryVisits
    }
}
