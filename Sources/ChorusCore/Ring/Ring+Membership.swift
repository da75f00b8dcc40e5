import ChorusWire

/// Gather state: the daemons this one believes alive and failed, and what each said.
struct GatherState: Sendable {
    var procSet: [NodeID] = []
    var failSet: [NodeID] = []
    /// The sets each daemon announced in its last join.
    var heard: [NodeID: JoinSets] = [:]
    var startedAt: Instant = 0

    var active: [NodeID] { procSet.filter { !failSet.contains($0) } }
}

struct JoinSets: Sendable, Equatable {
    var procSet: [NodeID]
    var failSet: [NodeID]
}

struct CommitState: Sendable {
    var ringID: RingID
    var members: [NodeID]
    /// The commit token this daemon last sent, resent when it seems lost.
    var lastForwarded: CommitToken?
    /// Highest rotation this daemon has handled.
    var handledRotation: UInt8
}

struct RecoveryState: Sendable {
    /// The new ring being recovered: nil only while `takeActiveLog` has it out.
    var ring: RingLog?
    /// Old-ring seqs still to re-send on the new ring (popped from the end: ascending order).
    var queue: [UInt64]
    var reportedDone = false
    /// Seq on the new ring after which every recovery packet has been sent.
    var targetSeq: UInt64?
    var oldStable: UInt64
    var oldHigh: UInt64
    /// New-ring members that come from this daemon's old ring: the transitional configuration.
    var survivors: [NodeID]
    /// Old-ring senders whose packets after a gap the install delivers: the survivors, and the
    /// senders the survivors committed to in earlier recoveries of the same old ring (ascending).
    var gapSenders: [NodeID]
    var forwarded: CommitToken?
    /// Visits in a row at which the token showed no progress (see `Ring.recoveryStalled`).
    var stalledVisits = 0
}

/// What a daemon that left a recovery without installing still owes its old ring.
///
/// Another member of that recovery may have installed, delivering in the transitional
/// configuration the packets after the first gap of every sender in `gapSenders`. This daemon
/// held every recovery packet, so it holds those packets and their causal past too, and the
/// next install that ends the same old ring must deliver them as well (extended virtual
/// synchrony's safe delivery: every member of a transitional configuration delivers what one
/// delivered there). It reports them in its commit entry so the other survivors agree.
struct Commitment: Sendable {
    var oldRingID: RingID
    var gapSenders: [NodeID]
}

/// Membership: gather, commit, recovery, install.
extension Ring {
    /// The commit in progress (nil outside the commit phase).
    var commit: CommitState? { if case .commit(let state) = membership { state } else { nil } }
    /// The recovery in progress (nil outside the recovery phase).
    var recovery: RecoveryState? { if case .recovery(let state) = membership { state } else { nil } }
    /// The ring being recovered: nil outside recovery, and while `takeActiveLog` has it out.
    var pendingRing: RingLog? {
        @inline(__always) get { if case .recovery(let state) = membership { state.ring } else { nil } }
    }

    /// Changes the commit in progress in place; nothing outside the commit phase.
    mutating func updateCommit(_ change: (inout CommitState) -> Void) {
        guard case .commit(var state) = membership else { return }
        membership = .gather  // the enum lets go of the state, so it is changed without a copy
        change(&state)
        membership = .commit(state)
    }

    /// Changes the recovery in progress in place; nil outside the recovery phase.
    @discardableResult
    mutating func updateRecovery<Result>(_ change: (inout RecoveryState) -> Result) -> Result? {
        guard case .recovery(var state) = membership else { return nil }
        membership = .gather  // the enum lets go of the state (and its ring), so no copy is made
        let result = change(&state)
        membership = .recovery(state)
        return result
    }

    /// The highest ring seq this daemon knows; persist it so a restart starts above it.
    public var highestRingSeq: UInt64 { maxRingSeq }

    /// Starts a gather. `including` seeds the proc set (the sender of the join that caused it):
    /// the first join broadcast must already name it, or the others could reach consensus on
    /// the old membership before it arrives and re-form without it, over and over.
    mutating func enterGather(now: Instant, failed: [NodeID], including: [NodeID] = [], into actions: inout [RingAction]) {
        keepCommitment()
        membership = .gather
        held = nil
        wokenSinceLastPass = false
        sequencedOnLastVisit = false
        lastSentToken = nil
        installed?.frozen = false
        queue.restartPartialMessage()
        for timer in [RingTimer.tokenRetransmit, .idleHold, .mergeProbe, .tokenLoss] { disarm(timer) }
        let known = installed?.members ?? []
        gather = GatherState(
            procSet: Array(Set(known + [me] + including.filter(site.contains)).subtracting(failed)).sorted(),
            failSet: Array(Set(failed).subtracting([me])).sorted(),
            heard: [:], startedAt: now)
        broadcastJoin(into: &actions)
        arm(.joinRetransmit, now + options.joinTimeout, into: &actions)
        arm(.consensus, now + options.consensusTimeout, into: &actions)
    }

    /// Called when a gather starts: a recovery left after every recovery packet arrived may have
    /// been installed by another member, so its post-gap delivery becomes this daemon's commitment.
    /// Had this daemon missed a recovery packet, no member could have installed: the install waits
    /// until every member saw the target and held all up to it (`handleToken`). Every member's target
    /// is the same seq because nothing but recovery packets is sent during recovery.
    private mutating func keepCommitment() {
        guard case .recovery(let state) = membership, let target = state.targetSeq, let old = installed,
            let log = state.ring, log.myAru >= target
        else { return }
        commitment = Commitment(oldRingID: old.ringID, gapSenders: state.gapSenders)
    }

    mutating func broadcastJoin(into actions: inout [RingAction]) {
        let join = JoinMessage(
            sender: me, ringID: installed?.ringID ?? .none, maxRingSeq: maxRingSeq, procSet: gather.procSet,
            failSet: gather.failSet)
        actions.append(.send(.join(join), to: .site))
    }

    mutating func receiveJoin(_ join: JoinMessage, now: Instant, into actions: inout [RingAction]) {
        guard join.sender != me, site.contains(join.sender), acceptsRingSeq(join.maxRingSeq, now: now) else { return }
        switch phase {
        case .operational, .recovery:
            let ring = ringID
            if members.contains(join.sender) {
                // A member's join is fresh only if it already knew this ring; older ones are
                // echoes of the gather that formed it.
                guard join.maxRingSeq >= ring.seq else { return }
            } else if isPenalized(join.sender, now: now) || join.failSet.contains(me) {
                // A daemon that counts us failed cannot merge with us now; merging would only
                // re-form the same rings again (one-way links would livelock).
                return
            }
            raiseRingSeq(to: join.maxRingSeq)
            enterGather(now: now, failed: [], including: [join.sender], into: &actions)
            mergeJoin(join, now: now, into: &actions)
        case .commit:
            guard let state = commit, state.members.contains(join.sender), join.maxRingSeq >= state.ringID.seq else {
                return
            }
            raiseRingSeq(to: join.maxRingSeq)
            enterGather(now: now, failed: [], into: &actions)
            mergeJoin(join, now: now, into: &actions)
        case .gather:
            raiseRingSeq(to: join.maxRingSeq)
            mergeJoin(join, now: now, into: &actions)
        case .left:
            return
        }
    }

    private mutating func mergeJoin(_ join: JoinMessage, now: Instant, into actions: inout [RingAction]) {
        guard !gather.failSet.contains(join.sender) else { return }
        var proc = Set(gather.procSet).union(join.procSet)
        proc.insert(join.sender)
        var fail = Set(gather.failSet).union(join.failSet)
        if join.failSet.contains(me), !gather.failSet.contains(join.sender) {
            fail.insert(join.sender)
            penalize(join.sender, now: now)
        }
        fail.remove(me)
        proc = proc.intersection(site)
        gather.heard[join.sender] = JoinSets(procSet: join.procSet, failSet: join.failSet)
        let newProc = proc.sorted()
        let newFail = fail.intersection(proc).sorted()
        if newProc != gather.procSet || newFail != gather.failSet {
            gather.procSet = newProc
            gather.failSet = newFail
            broadcastJoin(into: &actions)
            let latest = gather.startedAt + options.maxGatherTime
            arm(.consensus, max(now, min(now + options.consensusTimeout, latest)), into: &actions)
        }
        checkConsensus(now: now, into: &actions)
    }

    /// Consensus: every daemon still believed alive announced exactly our sets.
    private mutating func checkConsensus(now: Instant, into actions: inout [RingAction]) {
        guard phase == .gather else { return }
        let mine = JoinSets(procSet: gather.procSet, failSet: gather.failSet)
        let active = gather.active
        for node in active where node != me {
            guard gather.heard[node] == mine else { return }
        }
        disarm(.consensus)
        if active.first == me {
            createCommitToken(members: active, now: now, into: &actions)
        } else {
            membership = .commit(CommitState(ringID: .none, members: active, lastForwarded: nil, handledRotation: 0))
            arm(.tokenLoss, now + options.tokenTimeout, into: &actions)
        }
    }

    mutating func consensusTimedOut(now: Instant, into actions: inout [RingAction]) {
        guard phase == .gather else { return }
        let mine = JoinSets(procSet: gather.procSet, failSet: gather.failSet)
        let silent = gather.active.filter { $0 != me && gather.heard[$0] != mine }
        if !silent.isEmpty {
            for node in silent { penalize(node, now: now) }
            gather.failSet = Array(Set(gather.failSet).union(silent)).sorted()
            broadcastJoin(into: &actions)
        }
        arm(.consensus, now + options.consensusTimeout, into: &actions)
        checkConsensus(now: now, into: &actions)
    }

    var myCommitInfo: CommitMemberInfo {
        guard let old = installed else {
            return CommitMemberInfo(oldRingID: .none, myAru: 0, highSeq: 0, stableSeq: 0, filled: true)
        }
        let committed = commitment?.oldRingID == old.ringID ? commitment!.gapSenders : []
        return CommitMemberInfo(
            oldRingID: old.ringID, myAru: old.myAru, highSeq: old.highSeq, stableSeq: old.stableSeq, filled: true,
            committedSenders: committed)
    }

    private mutating func createCommitToken(members: [NodeID], now: Instant, into actions: inout [RingAction]) {
        maxRingSeq += 1
        let ringID = RingID(seq: maxRingSeq, representative: me)
        var info = [CommitMemberInfo](repeating: .empty, count: members.count)
        info[0] = myCommitInfo
        installed?.frozen = true
        let token = CommitToken(ringID: ringID, members: members, memberInfo: info, rotation: 1, position: 0)
        membership = .commit(CommitState(ringID: ringID, members: members, lastForwarded: nil, handledRotation: 0))
        arm(.tokenLoss, now + options.tokenTimeout, into: &actions)
        receiveCommit(token, now: now, into: &actions)
    }

    mutating func receiveCommit(_ token: CommitToken, now: Instant, into actions: inout [RingAction]) {
        let position = Int(token.position)
        guard position < token.members.count, token.members[position] == me,
            token.memberInfo.count == token.members.count, token.ringID > (installed?.ringID ?? .none),
            acceptsRingSeq(token.ringID.seq, now: now)
        else { return }
        guard isPlausibleCommit(token) else {
            counters.implausiblePackets += 1
            return
        }
        let isRepresentative = position == 0
        switch phase {
        case .operational, .left:
            return
        case .recovery:
            guard pendingRing?.ringID == token.ringID else { return }
            if isRepresentative, token.rotation == 2, lastTokenSeq == 0, lastSentToken == nil {
                startNewRing(now: now, into: &actions)
                return
            }
            // A duplicate of the second rotation: our forward may have been lost.
            if let forwarded = recovery?.forwarded, lastSentToken == nil {
                actions.append(.send(.commit(forwarded), to: .node(forwarded.members[Int(forwarded.position)])))
            }
            return
        case .gather:
            guard token.rotation == 1, token.members.allSatisfy({ !gather.failSet.contains($0) }) else { return }
        case .commit:
            if let state = commit, state.ringID == token.ringID {
                let expected: UInt8 = isRepresentative ? state.handledRotation : state.handledRotation + 1
                if token.rotation < expected || (!isRepresentative && token.rotation <= state.handledRotation) {
                    if let forwarded = state.lastForwarded {
                        actions.append(.send(.commit(forwarded), to: .node(forwarded.members[Int(forwarded.position)])))
                    }
                    return
                }
            } else if let state = commit, state.ringID != .none, token.ringID < state.ringID {
                return
            }
        }
        raiseRingSeq(to: token.ringID.seq)
        disarm(.consensus)
        disarm(.joinRetransmit)
        var next = token
        let count = token.members.count
        next.position = UInt16((position + 1) % count)
        // Back at the representative means the first rotation of the ring it sent (not a token of
        // another ring that names it first: that one starts a first rotation here).
        let backAtRepresentative = isRepresentative && commit?.handledRotation == 1 && commit?.ringID == token.ringID
        if token.rotation == 1, !backAtRepresentative {
            // First rotation: add our old-ring state.
            installed?.frozen = true
            next.memberInfo[position] = myCommitInfo
            membership = .commit(CommitState(ringID: token.ringID, members: token.members, lastForwarded: nil, handledRotation: 1))
            if count == 1 {
                next.rotation = 2
                enterRecovery(next, now: now, into: &actions)
                startNewRing(now: now, into: &actions)
                return
            }
            updateCommit { $0.lastForwarded = next }
            actions.append(.send(.commit(next), to: .node(token.members[Int(next.position)])))
        } else if token.rotation == 1 {
            // Back at the representative, every entry filled: second rotation moves all into recovery.
            guard token.memberInfo.allSatisfy(\.filled) else { return }
            next.rotation = 2
            enterRecovery(next, now: now, into: &actions)
            updateRecovery { $0.forwarded = next }
            actions.append(.send(.commit(next), to: .node(token.members[Int(next.position)])))
        } else if isRepresentative {
            return
        } else {
            enterRecovery(next, now: now, into: &actions)
            updateRecovery { $0.forwarded = next }
            actions.append(.send(.commit(next), to: .node(token.members[Int(next.position)])))
        }
        arm(.tokenRetransmit, now + options.tokenRetransmitTimeout, into: &actions)
        arm(.tokenLoss, now + options.tokenTimeout, into: &actions)
    }

    /// The representative creates the new ring's first token once the commit token came back twice.
    private mutating func startNewRing(now: Instant, into actions: inout [RingAction]) {
        guard let log = pendingRing else { return }
        let token = Token(
            ringID: log.ringID, tokenSeq: 1, seq: 0, aru: 0, aruID: nil, retransmitRequests: [], fcc: 0,
            backlog: 0, idleRotations: 0, recoveryPending: UInt32(log.members.count), barrierSeq: 0)
        handleToken(token, now: now, released: false, into: &actions)
    }

    private mutating func enterRecovery(_ token: CommitToken, now: Instant, into actions: inout [RingAction]) {
        disarm(.joinRetransmit)
        disarm(.consensus)
        var ring = RingLog(
            ringID: token.ringID, members: token.members, me: me, deliveryEnabled: false,
            maxMessageSize: options.maxMessageSize, window: options.logWindow)
        ring.brokenRules = options.brokenRules
        ring.earlyDelivery = options.earlyDelivery
        lastTokenSeq = 0
        lastSentToken = nil
        previousVisitAru = 0
        previousVisitSeq = 0
        olderVisitSeq = 0
        myFccContribution = 0
        myBacklogContribution = 0
        mySenderIndex = 0
        unreliableIndex = 0
        unreliableSeen = [:]
        held = nil
        wokenSinceLastPass = false
        sequencedOnLastVisit = false
        stuckAru = nil
        lastSeenIdle = false
        raiseRingSeq(to: token.ringID.seq)

        var state = RecoveryState(ring: ring, queue: [], oldStable: 0, oldHigh: 0, survivors: [me], gapSenders: [me])
        if let old = installed {
            var lowAru = UInt64.max
            var survivors: [NodeID] = []
            var gapSenders = Set<NodeID>()
            /// Survivors' arus in ring order: who surely holds which prefix.
            var arus: [(node: NodeID, aru: UInt64)] = []
            for (index, info) in token.memberInfo.enumerated() where info.oldRingID == old.ringID {
                survivors.append(token.members[index])
                gapSenders.insert(token.members[index])
                gapSenders.formUnion(info.committedSenders)
                arus.append((token.members[index], info.myAru))
                lowAru = min(lowAru, info.myAru)
                state.oldHigh = max(state.oldHigh, info.highSeq)
                state.oldStable = max(state.oldStable, info.stableSeq)
            }
            // Stability means every old-ring member held it, so it never exceeds a survivor's aru;
            // a higher report comes from a forged token, and delivering by it would deliver as safe
            // what a survivor lacks.
            state.oldStable = min(state.oldStable, lowAru)
            state.survivors = survivors.sorted()
            state.gapSenders = gapSenders.sorted()
            // Only what we hold can be re-sent; others' reports do not bound this loop.
            if min(state.oldHigh, old.highSeq) > lowAru {
                var seq = min(state.oldHigh, old.highSeq)
                while seq > lowAru {
                    // A packet that some survivor surely holds (its aru covers it) is re-sent by the
                    // first such survivor only; above every aru, each holder re-sends it.
                    let sender = arus.first { $0.aru >= seq }?.node
                    if old.packet(seq) != nil, sender == nil || sender == me { state.queue.append(seq) }
                    seq -= 1
                }
            }
        }
        membership = .recovery(state)
        arm(.tokenLoss, now + options.tokenTimeout, into: &actions)
    }

    /// Ends recovery: finishes the old ring in extended virtual synchrony, then the new ring starts.
    mutating func install(now: Instant, into actions: inout [RingAction]) {
        guard case .recovery(let state) = membership, var new = state.ring else { return }
        if var old = installed {
            old.frozen = false
            let transitional = RingConfiguration(kind: .transitional, ringID: new.ringID, members: state.survivors)
            old.finish(
                stable: state.oldStable, high: state.oldHigh, transitional: transitional, gapSenders: state.gapSenders,
                into: &actions)
            counters.malformedMessages += old.malformed
        }
        actions.append(.configuration(RingConfiguration(kind: .regular, ringID: new.ringID, members: new.members)))
        new.deliveryEnabled = true
        new.advanceCursor(into: &actions)
        installed = new
        membership = .operational
        commitment = nil  // the old ring is finished
        counters.configurationsInstalled += 1
        for member in new.members { penalties[member] = nil }
        if new.members.first == me {
            arm(.mergeProbe, now + options.mergeProbeInterval, into: &actions)
        }
    }

    mutating func receiveLeave(_ leave: LeaveMessage, now: Instant, into actions: inout [RingAction]) {
        guard leave.sender != me else { return }
        switch phase {
        case .operational, .recovery:
            // A leave names the ring its sender left: a delayed one from an earlier incarnation
            // must not fail the daemon that restarted and joined this ring.
            guard members.contains(leave.sender), leave.ringID == ringID || leave.ringID == installed?.ringID else { return }
            enterGather(now: now, failed: [leave.sender], into: &actions)
        case .commit:
            guard let state = commit, state.members.contains(leave.sender) else { return }
            enterGather(now: now, failed: [leave.sender], into: &actions)
        case .gather:
            guard gather.procSet.contains(leave.sender), !gather.failSet.contains(leave.sender) else { return }
            gather.failSet = (gather.failSet + [leave.sender]).sorted()
            broadcastJoin(into: &actions)
            checkConsensus(now: now, into: &actions)
        case .left:
            return
        }
    }
}
