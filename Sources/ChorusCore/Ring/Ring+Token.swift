import ChorusWire
import NIOCore

/// The operational protocol: data packets, the token, flow control, retransmission.
extension Ring {
    mutating func receiveData(_ packet: DataPacket, now: Instant, into actions: inout [RingAction]) {
        if let active = activeRingID, active == packet.ringID {
            if packet.seq == 0 {
                // Unreliable: delivered on receipt, never sequenced or repaired. Our own were
                // delivered when sent; an echo (IP multicast loops back to the sender) is dropped.
                // Only members get a duplicate window: forged sender ids must not grow the table.
                if phase == .operational, packet.service == .unreliable, packet.fragment == .packed, packet.sender != me,
                    members.contains(packet.sender),
                    unreliableSeen[packet.sender, default: DuplicateWindow()].firstSighting(packet.senderIndex)
                {
                    var body = packet.body
                    if let length = body.readInteger(as: UInt32.self), let message = body.readSlice(length: Int(length)) {
                        actions.append(.deliver(RingDelivery(
                            ringID: packet.ringID, sender: packet.sender, service: .unreliable, payload: message)))
                    }
                }
                return
            }
            if let sent = lastSentToken, packet.sender == successor(in: members), packet.seq > sent.seq {
                disarm(.tokenRetransmit)  // the successor got the token: it is sending new packets
            }
            var log = takeActiveLog()!
            if log.insert(packet) {
                if packet.service == .safe { noteSafe(packet) }
                if packet.isRecovery { unwrapRecovery(packet) }
                log.deliverAfterInsert(seq: packet.seq, into: &actions)
                applyReports(&log, into: &actions)
                reportArrival(log, now: now, into: &actions)
                // A gap below a packet sent while its sender held the token: nobody else was
                // sending, so it is a loss; wake the holder so the token comes and the request
                // goes (see `sendWhileHolding`). Other gaps may be packets still on their way.
                if phase == .operational, packet.sentWhileHolding, packet.seq > log.myAru + 1, !wakeSent,
                    packet.sender != me
                {
                    wakeSent = true
                    gapBelow = max(gapBelow, packet.seq - 1)
                    actions.append(.send(.wake(WakeMessage(sender: me, ringID: log.ringID)), to: .node(packet.sender)))
                }
            } else {
                counters.duplicatePackets += 1
            }
            restoreActiveLog(consume log)
            return
        }
        // An old-ring packet arriving late while membership runs: keep it, it may help recovery.
        if phase != .operational, installed?.ringID == packet.ringID, installed?.frozen == false, packet.seq > 0 {
            var old = installed.take()!
            _ = old.insert(packet)
            installed = old
            return
        }
        counters.foreignPackets += 1
        if packet.ringID > ringID, !isPenalized(packet.sender, now: now), phase == .operational {
            enterGather(now: now, failed: [], into: &actions)
        }
    }

    /// Moves the active ring's log out (leaving nil) so that it is changed in place; a copy would
    /// make every insert copy the whole log. Put it back with `restoreActiveLog` before anything
    /// reads `members`, `ringID` or the logs again.
    mutating func takeActiveLog() -> RingLog? {
        switch membership {
        case .recovery: updateRecovery { $0.ring.take() } ?? nil
        case .operational: installed.take()
        default: nil
        }
    }

    mutating func restoreActiveLog(_ log: consuming RingLog) {
        if case .recovery = membership {
            var log = Optional(log)
            updateRecovery { $0.ring = log.take() }
        } else {
            installed = log
        }
    }

    mutating func receiveToken(_ token: Token, now: Instant, into actions: inout [RingAction]) {
        guard let active = activeRingID, token.ringID == active else {
            if token.ringID > ringID, phase == .operational { counters.foreignPackets += 1 }
            return
        }
        guard token.tokenSeq > lastTokenSeq else {
            counters.duplicatePackets += 1
            return
        }
        guard isPlausibleToken(token) else {
            counters.implausiblePackets += 1
            return
        }
        handleToken(token, now: now, released: false, into: &actions)
    }

    /// The token holder's work: retransmit, send new packets within the windows, update the aru
    /// and the request list, deliver what became stable, pass the token on.
    ///
    /// `released`: the token was held here and this visit goes on with it; `sentWhileHeld`
    /// packets were sequenced during the hold and count against this visit's budget.
    mutating func handleToken(
        _ incoming: Token, now: Instant, released: Bool, sentWhileHeld: Int = 0, into actions: inout [RingAction]
    ) {
        guard var log = takeActiveLog() else { return }
        var token = incoming
        if !released {
            lastTokenSeq = token.tokenSeq
            if log.myAru < token.seq { counters.tokensAheadOfData += 1 }
        }
        disarm(.tokenRetransmit)
        lastSentToken = nil
        arm(.tokenLoss, now + options.tokenTimeout, into: &actions)
        let isRepresentative = log.members.first == me

        // Idle ring: the representative holds the token instead of spinning it: after two idle
        // rotations, or as soon as a rotation brought nothing new once every safe packet is
        // stable (everyone holds everything and nothing waits for stability, so the next
        // message goes out without waiting for the token to come round; others wake it).
        // Its own queued messages do not keep the token spinning: it sends them while holding
        // (safe ones excepted), so its next message finds the token here.
        let idleBack = token.seq == previousVisitSeq && highestSafeIsStableEverywhere(incoming: token, ring: log.ringID)
        if !released { previousIncomingAru = token.aru }
        // Never while another member reported messages waiting: holding would keep them from
        // the window (they send only when the token comes).
        let nothingToSendOrSendable = queue.isEmpty || (options.sendWhileHolding && queue.headService! < .safe)
        let othersWaiting = token.backlog > myBacklogContribution
        // Any member that is the ring's only sender (it sent on its last visit, and nothing new
        // came since) holds the token as the representative would: its next message then goes
        // out at once instead of waking the representative and waiting for the token.
        let loneSender = !isRepresentative && options.sendWhileHolding && sequencedOnLastVisit && idleBack
        if !released, isRepresentative || loneSender, phase == .operational, token.idleRotations >= 2 || idleBack,
            nothingToSendOrSendable, !othersWaiting, !wokenSinceLastPass, token.retransmitRequests.isEmpty,
            token.aru == token.seq
        {
            held = HeldToken(token: token)
            counters.tokenHolds += 1
            // Held early, it goes round again soon: a member whose stability lags (a packet it
            // got late) then delivers its safe messages within a short hold, not a long one.
            // Only the representative holds an idle ring's token for long.
            let early = !isRepresentative || token.idleRotations < 2
            arm(.idleHold, now + (early ? min(options.idleHold, options.earlyIdleHold) : options.idleHold), into: &actions)
            // What this visit makes stable is delivered now, but the visit counts once: its
            // release goes on with this same token and records its aru then. (Recording it here
            // too made one rotation look like two: a member the aru had overshot, which had not
            // yet lowered it, lost packets that others then discarded as stable.)
            updateStability(token: token, log: &log, recordingVisit: false, into: &actions)
            restoreActiveLog(consume log)
            if !queue.isEmpty, !sendWhileHolding(now: now, into: &actions) { releaseHeldToken(now: now, into: &actions) }
            return
        }

        // Counters no honest token of this phase carries (a forged one left them): an installed
        // ring has no pending recovery, and a recovery that stopped moving re-forms.
        if phase == .operational { token.recoveryPending = 0 }
        if recoveryStalled(token) {
            restoreActiveLog(consume log)
            enterGather(now: now, failed: [], into: &actions)
            return
        }

        // A rotation in which nobody sequenced anything sent few packets: a count left over from a
        // forged token drains here instead of holding every sender back for good.
        if isRepresentative, !released, token.seq == previousVisitSeq, token.fcc > myFccContribution {
            token.fcc = myFccContribution
        }

        // 1. Answer retransmission requests.
        var budget = visitBudget(token)
        var sentThisVisit = sentWhileHeld
        if !token.retransmitRequests.isEmpty {
            var remaining: [UInt64] = []
            for seq in token.retransmitRequests {
                if sentThisVisit < budget, let packet = log.packet(seq) {
                    actions.append(.send(.data(packet), to: .members(log.others)))
                    counters.retransmissions += 1
                    sentThisVisit += 1
                } else if !log.has(seq) || sentThisVisit >= budget {
                    remaining.append(seq)
                }
            }
            token.retransmitRequests = remaining
        }

        // 2. New packets: recovery packets first (only those during recovery), then client messages.
        let seqBefore = token.seq
        let aruWasComplete = token.aru == token.seq
        budget = min(budget, outstandingRoom(token, log))
        var newPackets: [DataPacket] = []
        while sentThisVisit < budget, let outgoing = nextOutgoing(log: log) {
            newPackets.append(sequence(outgoing, token: &token, log: &log))
            sentThisVisit += 1
        }
        let reportsDone = updateRecovery { state in
            guard state.queue.isEmpty, !state.reportedDone else { return false }
            state.reportedDone = true
            return true
        }
        if reportsDone == true {
            token.recoveryPending = token.recoveryPending > 0 ? token.recoveryPending - 1 : 0
        }
        // The install waits for a visit after the one that set the target: its stability then
        // covers a rotation in which every member saw the target and held everything up to it,
        // which `keepCommitment` relies on should the token be lost after this install.
        var targetSetThisVisit = false
        if token.recoveryPending == 0 {
            let seq = token.seq
            targetSetThisVisit = updateRecovery { state in
                guard state.targetSeq == nil else { return false }
                state.targetSeq = seq
                return true
            } ?? false
        }

        // 3. All-received-upto. Whoever changes it becomes its setter; a whole pass of the
        //    token that leaves it alone then confirms that every member holds everything up to it.
        let aruBefore = token.aru
        if log.myAru < token.aru || token.aruID == me {
            token.aru = log.myAru
            token.aruID = log.myAru >= token.seq ? nil : me
        } else if aruWasComplete, token.aru == seqBefore, log.myAru >= token.seq {
            token.aru = token.seq
        }
        if token.aru != aruBefore { token.aruSetter = me }
        let stableBefore = token.stableSeq
        confirmStability(&token, members: log.members)
        checkFailToReceive(token: token, now: now)

        // 4. Ask for what is missing, only up to the seq of the visit before the previous one:
        //    newer packets may still be on their way behind an accelerated token, or unread in
        //    this daemon's socket. A gap this daemon woke the token's holder for is asked for
        //    at once (packets sent while it held the token came in order from it alone).
        let askUpTo = max(olderVisitSeq, min(gapBelow, token.seq))
        gapBelow = 0
        if log.myAru < askUpTo, token.retransmitRequests.count < options.maxRetransmitRequests {
            log.missing(
                upTo: askUpTo, limit: options.maxRetransmitRequests - token.retransmitRequests.count,
                into: &token.retransmitRequests)
        }

        // 5. Flow control counters.
        token.fcc = token.fcc &- min(token.fcc, myFccContribution) &+ UInt32(sentThisVisit)
        myFccContribution = UInt32(sentThisVisit)
        sequencedOnLastVisit = !newPackets.isEmpty || sentWhileHeld > 0
        let backlog = UInt32(clamping: queue.count)
        token.backlog = token.backlog &- min(token.backlog, myBacklogContribution) &+ backlog
        myBacklogContribution = backlog
        if sentThisVisit > 0 || !token.retransmitRequests.isEmpty {
            token.idleRotations = 0
        } else if isRepresentative, token.seq == previousVisitSeq, token.aru == token.seq {
            token.idleRotations &+= 1
        }
        lastSeenIdle = token.idleRotations > 0
        wakeSent = false
        wokenSinceLastPass = false

        // 6. Pass the token (accelerated: after the first few new packets, the rest follow).
        token.tokenSeq &+= 1
        if released { lastTokenSeq = max(lastTokenSeq, token.tokenSeq &- 1) }
        let next = successor(in: log.members)
        let others = log.others
        // The successor learns a newly confirmed stability from the token; the others at once.
        if token.stableSeq > stableBefore, announcesStability {
            let rest = others.filter { $0 != next }
            if !rest.isEmpty {
                let stable = StableMessage(
                    sender: me, ringID: log.ringID, aru: log.myAru, stableSeq: min(token.stableSeq, log.myAru))
                actions.append(.send(.stable(stable), to: .members(rest)))
            }
        }
        let early = min(newPackets.count, options.acceleratedPackets)
        for packet in newPackets[..<early] { actions.append(.send(.data(packet), to: .members(others))) }
        actions.append(.send(.token(token), to: .node(next)))
        for packet in newPackets[early...] { actions.append(.send(.data(packet), to: .members(others))) }
        counters.packetsSent += newPackets.count
        lastSentToken = token
        arm(.tokenRetransmit, now + options.tokenRetransmitTimeout, into: &actions)
        olderVisitSeq = previousVisitSeq
        previousVisitSeq = token.seq

        // 7. Deliver what this visit made deliverable or stable.
        for packet in newPackets where !packet.isRecovery {
            log.deliverAfterInsert(seq: packet.seq, into: &actions)
        }
        updateStability(token: token, log: &log, into: &actions)
        reportArrival(log, now: now, into: &actions)
        let stableSeq = log.stableSeq
        restoreActiveLog(consume log)

        if let failed = pendingFailure {
            pendingFailure = nil
            penalize(failed, now: now)
            enterGather(now: now, failed: [failed], into: &actions)
        } else if phase == .recovery, !targetSetThisVisit, let target = recovery?.targetSeq, stableSeq >= target {
            install(now: now, into: &actions)
        }
    }

    /// Packets one visit may send: what the rest of the ring left of the window on the last
    /// rotation, and no more than this daemon's share of it by backlog (Totem's fair share).
    ///
    /// Without the share, the daemons that come first in a busy rotation take the whole window
    /// every time and the others never send (with 8 daemons flat out, four never did: their
    /// state announcements never went out and every delivery waited behind them for good).
    func visitBudget(_ token: Token) -> Int {
        let left = min(options.maxPacketsPerToken, max(0, options.windowSize - Int(token.fcc) + Int(myFccContribution)))
        guard phase == .operational, !queue.isEmpty else { return left }
        let mine = queue.count
        let total = Int(token.backlog) - min(Int(token.backlog), Int(myBacklogContribution)) + mine
        let share = max(1, options.windowSize * mine / max(total, 1))
        return min(left, share)
    }

    /// New seqs the ring can still take: at most `maxOutstanding` above what this daemon holds
    /// and above the token's aru (a member that falls behind slows every sender down, rather
    /// than its socket overflowing and everything it lost being sent again).
    func outstandingRoom(_ token: Token, _ log: RingLog) -> Int {
        let seqLimit = min(log.myAru, token.aru) &+ options.maxOutstanding
        return token.seq >= seqLimit ? 0 : Int(clamping: seqLimit - token.seq)
    }

    /// Gives `outgoing` the token's next seq and keeps it in the log.
    mutating func sequence(_ outgoing: SubmissionQueue.Outgoing, token: inout Token, log: inout RingLog) -> DataPacket {
        var packet = outgoing.packet
        token.seq += 1
        mySenderIndex += 1
        packet.seq = token.seq
        packet.senderIndex = mySenderIndex
        // A causal packet follows what this daemon delivered and every barrier before it.
        if packet.service == .causal {
            packet.causalPast = options.brokenRules.barriers ? log.causalHorizon : max(log.causalHorizon, token.barrierSeq)
        }
        if outgoing.barrier { token.barrierSeq = packet.seq }
        _ = log.insert(packet)
        if packet.service == .safe { noteSafe(packet) }
        return packet
    }

    mutating func nextOutgoing(log: RingLog) -> SubmissionQueue.Outgoing? {
        if phase == .recovery {
            guard let old = installed, let seq = updateRecovery({ $0.queue.popLast() }) ?? nil else { return nil }
            guard let oldPacket = old.packet(seq) else { return nextOutgoing(log: log) }
            var body = ByteBufferAllocator().buffer(capacity: oldPacket.body.readableBytes + 64)
            PacketCodec.encode(.data(oldPacket), into: &body)
            let packet = DataPacket(
                ringID: log.ringID, sender: me, seq: 0, senderIndex: 0, service: .agreed, fragment: .packed,
                isRecovery: true, messageCount: 1, body: body)
            return SubmissionQueue.Outgoing(packet: packet, barrier: false)
        }
        return queue.nextPacket(maxPayload: options.maxPacketPayload, ringID: log.ringID, sender: me)
    }

    /// A recovery packet carries an old-ring packet: keep it if it belongs to our old ring.
    mutating func unwrapRecovery(_ packet: DataPacket) {
        guard let inner = try? PacketCodec.decode(packet.body), case .data(let oldPacket) = inner,
            oldPacket.ringID == installed?.ringID, oldPacket.seq > 0, var old = installed.take()
        else { return }
        _ = old.insert(oldPacket)
        installed = old
    }

    mutating func retransmitToken(now: Instant, into actions: inout [RingAction]) {
        if let token = lastSentToken, activeRingID != nil {
            actions.append(.send(.token(token), to: .node(successor(in: members))))
            counters.tokenRetransmissions += 1
            arm(.tokenRetransmit, now + options.tokenRetransmitTimeout, into: &actions)
        } else if phase == .commit, let state = commit, let last = state.lastForwarded {
            actions.append(.send(.commit(last), to: .node(last.members[Int(last.position)])))
            counters.tokenRetransmissions += 1
            arm(.tokenRetransmit, now + options.tokenRetransmitTimeout, into: &actions)
        }
    }

    /// A daemon whose aru stays behind while the ring moves on is not receiving: remove it.
    mutating func checkFailToReceive(token: Token, now: Instant) {
        guard phase == .operational, let stuck = token.aruID, stuck != me, token.seq > token.aru else {
            stuckAru = nil
            return
        }
        if let previous = stuckAru, previous.node == stuck, previous.aru == token.aru {
            stuckAru = (stuck, token.aru, previous.visits + 1)
        } else {
            stuckAru = (stuck, token.aru, 1)
        }
        if stuckAru!.visits >= options.failToReceiveRotations {
            counters.failedToReceive += 1
            pendingFailure = stuck
        }
    }

    /// The representative invites daemons outside the ring, so that healed partitions merge.
    mutating func sendMergeProbes(now: Instant, into actions: inout [RingAction]) {
        guard phase == .operational, let log = installed, log.members.first == me, !options.brokenRules.merges else {
            return
        }
        let probe = JoinMessage(
            sender: me, ringID: log.ringID, maxRingSeq: maxRingSeq, procSet: log.members, failSet: [])
        for node in site where !log.members.contains(node) && !isPenalized(node, now: now) {
            actions.append(.send(.join(probe), to: .node(node)))
        }
        arm(.mergeProbe, now + options.mergeProbeInterval, into: &actions)
    }
}
