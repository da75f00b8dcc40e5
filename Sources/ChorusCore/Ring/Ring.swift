import ChorusWire
import NIOCore

/// One daemon's view of its site's token ring: a deterministic, sans-IO state machine.
///
/// Inputs are packets, timer firings and local submissions, each with the current time as a value;
/// outputs are `RingAction`s the driver performs in order. The ring reads no clock, draws no
/// random numbers and does no I/O, so the simulator and the daemon drive the very same code.
///
/// Phases follow Totem: *operational* (token rotation, sequencing, delivery), *gather* (agree on
/// who is alive), *commit* (a commit token collects each member's old-ring state), *recovery*
/// (old-ring packets are re-sent on the new ring until every survivor holds the same set), and
/// then the install, which delivers in extended virtual synchrony.
public struct Ring: Sendable {
    public enum Phase: Sendable, Equatable { case gather, commit, recovery, operational, left }

    /// The membership protocol's phase with the state only that phase has: a commit in progress
    /// exists only in `commit`, a recovery and the ring it recovers only in `recovery`.
    ///
    /// The states are boxed (`indirect`): inline, the recovery made this enum 272 bytes, and
    /// every look at the phase (several per packet) copied all of it.
    enum MembershipPhase: Sendable {
        case gather
        /// Consensus was reached; the commit token collects every member's old-ring state.
        indirect case commit(CommitState)
        /// The commit token went round twice; old-ring packets are re-sent on the new ring.
        indirect case recovery(RecoveryState)
        case operational
        case left
    }

    public let me: NodeID
    public let site: [NodeID]
    public let options: RingOptions
    var membership = MembershipPhase.gather
    public var phase: Phase {
        @inline(__always) get {
            switch membership {
            case .gather: .gather
            case .commit: .commit
            case .recovery: .recovery
            case .operational: .operational
            case .left: .left
            }
        }
    }
    public internal(set) var counters = RingCounters()

    /// The last installed ring; nil before the first install.
    var installed: RingLog?
    /// Highest ring seq ever seen; new rings get a larger one. Raised from the network only
    /// through `raiseRingSeq`, within `ringSeqAllowance`.
    var maxRingSeq: UInt64
    /// How far the network may still raise `maxRingSeq` (see `acceptsRingSeq`). It starts empty
    /// and fills with time from `start`: any start allowance is a step a hostile peer can push a
    /// restarted daemon ahead by, which the others then need that long to follow (a start
    /// allowance of 2^32 left 72 of 1,920 hostile runs with crashes split after the attack).
    var ringSeqAllowance: UInt64 = 0
    var ringSeqAllowanceAt: Instant = 0

    // Token state for the active ring (installed when operational, pending in recovery).
    var lastTokenSeq: UInt64 = 0
    var lastSentToken: Token?
    var previousVisitAru: UInt64 = 0
    var previousVisitSeq: UInt64 = 0
    /// `previousVisitSeq` one visit earlier: retransmissions are requested only up to here.
    /// Under load a daemon may not yet have read the packets sent just after the previous token
    /// (accelerated passing); asking for them would only resend what is already in its socket.
    var olderVisitSeq: UInt64 = 0
    var myFccContribution: UInt32 = 0
    /// This daemon sequenced new packets on its last visit (or during the hold that ended it):
    /// with nothing new since, it is the ring's only sender and may hold the token.
    var sequencedOnLastVisit = false
    /// A wake came while this daemon did not hold the token (it was on its way here): the next
    /// visit passes it on instead of holding it, or the waker's message would wait out the hold.
    var wokenSinceLastPass = false
    var myBacklogContribution: UInt32 = 0
    var mySenderIndex: UInt64 = 0
    /// The idle token this daemon holds, and what it sent meanwhile (see `HeldToken`).
    var held: HeldToken?
    var lastSeenIdle = false
    /// The highest safe packet of the active ring (seq 0: none), so a daemon holds the token
    /// early only once every safe packet is stable.
    var highestSafe = (ring: RingID.none, seq: UInt64(0))
    /// What the other members reported holding (see `reportArrival`).
    var reports = ArrivalReports()
    /// The aru the token carried when it last reached this daemon.
    var previousIncomingAru: UInt64 = 0
    var wakeSent = false
    /// Packets up to here were missing when a later one arrived and this daemon woke the
    /// token's holder for it: its next visit asks for them (0: none).
    var gapBelow: UInt64 = 0
    /// Fail-to-receive detection: how many visits `token.aru` stayed stuck at another daemon.
    var stuckAru: (node: NodeID, aru: UInt64, visits: Int)?
    /// A daemon found not receiving during this token visit; removed once the token is passed.
    var pendingFailure: NodeID?
    var queue = SubmissionQueue()
    /// Unreliable packets are unsequenced; this numbers ours, and `unreliableSeen` drops duplicates.
    var unreliableIndex: UInt64 = 0
    var unreliableSeen: [NodeID: DuplicateWindow] = [:]

    // Membership state.
    var gather = GatherState()
    /// Post-gap deliveries owed to the installed ring by a recovery left before its install.
    var commitment: Commitment?
    /// Back-off against daemons that were failed, so one-way links cannot livelock the ring.
    var penalties: [NodeID: Penalty] = [:]

    // Timer deadlines the ring expects; a firing for any other time is stale and ignored.
    var deadlines = [Instant?](repeating: nil, count: RingTimer.allCases.count)

    /// Creates a daemon's ring state. `ringSeqFloor` must be above every ring seq this daemon
    /// used before (the daemon persists it or derives it from the clock), so ring ids never repeat.
    public init(me: NodeID, site: [NodeID], options: RingOptions = RingOptions(), ringSeqFloor: UInt64 = 0) {
        self.me = me
        self.site = Array(Set(site + [me])).sorted()
        self.options = options
        self.maxRingSeq = min(ringSeqFloor, Self.maxPlausibleRingSeq / 2)
    }

    /// The current ring id (the one being recovered during recovery), members, and whether it is installed.
    ///
    /// These getters are read several times per packet and are inlined: a call of a method that
    /// is not `mutating` receives a copy of the whole ring (about 1 KB), made by the caller.
    public var ringID: RingID {
        @inline(__always) get { pendingRing?.ringID ?? installed?.ringID ?? .none }
    }
    public var members: [NodeID] {
        @inline(__always) get { pendingRing?.members ?? installed?.members ?? [me] }
    }
    public var pendingMessages: Int { queue.count }
    /// Payload bytes of the client messages waiting for the token.
    public var pendingBytes: Int { queue.bytes }
    /// Nothing waits to be sent and the token's last visit showed a whole rotation without new
    /// packets with every packet received everywhere: what this daemon sent has reached all.
    public var isQuiet: Bool { queue.isEmpty && phase == .operational && lastSeenIdle }


    // MARK: Inputs

    /// Starts the daemon: it gathers with whoever answers, then installs its first ring.
    public mutating func start(now: Instant, into actions: inout [RingAction]) {
        ringSeqAllowanceAt = now
        enterGather(now: now, failed: [], into: &actions)
    }

    /// Queues a client message. Unreliable messages go out at once, unsequenced.
    /// Returns false if the message is refused (too large, or the daemon left). The queue itself
    /// is bounded by the engine, which refuses client requests (`busy`) at `maxPendingMessages`;
    /// the group layer's own messages (disconnects, state announcements) are always queued, so
    /// nothing it has decided is lost.
    ///
    /// A `barrier` message (agreed or safe) is one that causal messages must not overtake: every
    /// causal packet sequenced after it is delivered after it at every daemon, though causal
    /// packets otherwise go ahead of the total order. A `first` message goes ahead of every queued
    /// one (the group layer's state announcement; see `SubmissionQueue.prepend`).
    @discardableResult
    public mutating func submit(
        service: Service, payload: ByteBuffer, barrier: Bool = false, first: Bool = false, now: Instant,
        into actions: inout [RingAction]
    ) -> Bool {
        precondition(!barrier || service >= .agreed, "a barrier must be in the total order")
        guard phase != .left, payload.readableBytes <= options.maxMessageSize else {
            counters.refusedSubmissions += 1
            return false
        }
        if service == .unreliable {
            guard phase == .operational, let log = installed, payload.readableBytes + 4 <= options.maxPacketPayload
            else {
                counters.refusedSubmissions += 1
                return false
            }
            var body = ByteBufferAllocator().buffer(capacity: payload.readableBytes + 4)
            body.writeInteger(UInt32(payload.readableBytes))
            body.writeImmutableBuffer(payload)
            unreliableIndex += 1
            let packet = DataPacket(
                ringID: log.ringID, sender: me, seq: 0, senderIndex: unreliableIndex, service: .unreliable,
                fragment: .packed,
                messageCount: 1, body: body)
            actions.append(.send(.data(packet), to: .members(othersInRing)))
            actions.append(.deliver(RingDelivery(ringID: log.ringID, sender: me, service: .unreliable, payload: payload)))
            return true
        }
        let wasIdle = queue.isEmpty
        if first {
            queue.prepend(service, payload, barrier: barrier)
        } else {
            queue.append(service, payload, barrier: barrier)
        }
        if phase == .operational {
            if held != nil {
                if !sendWhileHolding(now: now, into: &actions) { releaseHeldToken(now: now, into: &actions) }
            } else if lastSeenIdle || (wasIdle && myFccContribution == 0), !wakeSent, let log = installed {
                // Someone may hold the token: the representative (an idle ring, or one whose last
                // rotation brought nothing new), or the member that sequenced the newest packet
                // (a lone sender; holding needs nothing sequenced since, so no one else can).
                // Wake both rather than wait out a hold; only the holder acts. A daemon that
                // sequenced packets on its last visit made that rotation busy, so the token comes
                // round to it unheld: no wake (a flat-out sender would send one per visit).
                var holders = [log.members[0]]
                if let newest = log.highSender, newest != holders[0] { holders.append(newest) }
                holders.removeAll { $0 == me }
                if !holders.isEmpty {
                    wakeSent = true
                    actions.append(.send(.wake(WakeMessage(sender: me, ringID: log.ringID)), to: .members(holders)))
                }
            }
        }
        return true
    }

    /// Handles one packet from the network.
    public mutating func receive(_ packet: Packet, now: Instant, into actions: inout [RingAction]) {
        guard phase != .left else { return }
        // Ring seqs grow by small steps from a clock-derived floor (about 2^51 microseconds today);
        // one near 2^64 can only be forged, and would leave no room for a next ring.
        guard Self.isPlausible(packet) else {
            counters.implausiblePackets += 1
            return
        }
        switch packet {
        case .data(let data): receiveData(data, now: now, into: &actions)
        case .token(let token): receiveToken(token, now: now, into: &actions)
        case .join(let join): receiveJoin(join, now: now, into: &actions)
        case .commit(let commitToken): receiveCommit(commitToken, now: now, into: &actions)
        case .leave(let leave): receiveLeave(leave, now: now, into: &actions)
        case .wake(let wake):
            guard wake.ringID == installed?.ringID else { return }
            if held != nil {
                releaseHeldToken(now: now, into: &actions)
            } else {
                wokenSinceLastPass = true
            }
        case .stable(let stable): receiveStable(stable, into: &actions)
        }
    }

    /// Handles a timer firing. Firings the ring no longer expects are ignored.
    public mutating func timerFired(_ timer: RingTimer, now: Instant, into actions: inout [RingAction]) {
        guard phase != .left, let deadline = deadlines[timer.rawValue], now >= deadline else { return }
        deadlines[timer.rawValue] = nil
        switch timer {
        case .tokenLoss:
            counters.tokenLosses += 1
            enterGather(now: now, failed: [], into: &actions)
        case .tokenRetransmit:
            retransmitToken(now: now, into: &actions)
        case .joinRetransmit:
            guard phase == .gather else { return }
            broadcastJoin(into: &actions)
            arm(.joinRetransmit, now + options.joinTimeout, into: &actions)
        case .consensus:
            consensusTimedOut(now: now, into: &actions)
        case .idleHold:
            if held != nil { releaseHeldToken(now: now, into: &actions, keepingIdleCount: true) }
        case .mergeProbe:
            sendMergeProbes(now: now, into: &actions)
        case .wideArea:
            break  // the engine's order layer handles it
        }
    }

    /// Leaves the ring gracefully: the others re-form at once instead of waiting for a timeout.
    /// Messages still queued here are dropped (the caller should drain before leaving).
    public mutating func leave(now: Instant, into actions: inout [RingAction]) {
        guard phase != .left else { return }
        let ring = ringID
        actions.append(.send(.leave(LeaveMessage(sender: me, ringID: ring)), to: .site))
        membership = .left
        queue.removeAll()
        held = nil
        deadlines = deadlines.map { _ in nil }
    }

    // MARK: Helpers shared by the phases

    /// Ring seqs above this are refused as forged or corrupt: a next ring must always be possible.
    public static let maxPlausibleRingSeq: UInt64 = 1 << 62
    /// The most the network may raise this daemon's highest ring seq by at once (the cap of its
    /// allowance, `acceptsRingSeq`). Clock-derived floors of daemons started years apart differ
    /// by less (2^48 µs is about 9 years), and no run of forged joins or commit tokens can push
    /// the seqs near `maxPlausibleRingSeq`, where no ring could form.
    public static let maxRingSeqStep: UInt64 = 1 << 48

    static func isPlausible(_ packet: Packet) -> Bool {
        switch packet {
        case .data(let data): data.ringID.seq <= maxPlausibleRingSeq
        case .token(let token): token.ringID.seq <= maxPlausibleRingSeq
        case .join(let join): join.ringID.seq <= maxPlausibleRingSeq && join.maxRingSeq < maxPlausibleRingSeq
        case .commit(let commit): commit.ringID.seq <= maxPlausibleRingSeq
        case .leave(let leave): leave.ringID.seq <= maxPlausibleRingSeq
        case .wake(let wake): wake.ringID.seq <= maxPlausibleRingSeq
        case .stable(let stable): stable.ringID.seq <= maxPlausibleRingSeq
        }
    }

    var othersInRing: [NodeID] { pendingRing?.others ?? installed?.others ?? [] }

    /// Every member holds every packet up to here in the installed ring; nil outside the
    /// operational phase (the configuration change that ends it settles what the survivors
    /// deliver). With `deliveredUpTo`: whether what this daemon did because of a delivery (the
    /// wide-area representative routing it, or promising other sites) survives its crash.
    public var heldByEveryMember: UInt64? { phase == .operational ? installed?.stableSeq : nil }

    /// This daemon delivered (passed) every packet of the installed ring up to here; nil outside
    /// the operational phase.
    public var deliveredUpTo: UInt64? { phase == .operational ? installed?.deliveredUpTo : nil }

    /// The ring whose packets are accepted now: pending during recovery, installed when operational.
    var activeRingID: RingID? {
        @inline(__always) get {
            switch phase {
            case .recovery: pendingRing?.ringID
            case .operational: installed?.ringID
            default: nil
            }
        }
    }

    @inline(__always) func successor(in members: [NodeID]) -> NodeID {
        let index = members.firstIndex(of: me) ?? 0
        return members[(index + 1) % members.count]
    }

    mutating func arm(_ timer: RingTimer, _ deadline: Instant, into actions: inout [RingAction]) {
        deadlines[timer.rawValue] = deadline
        actions.append(.setTimer(timer, deadline: deadline))
    }

    mutating func disarm(_ timer: RingTimer) {
        deadlines[timer.rawValue] = nil
    }

    func isPenalized(_ node: NodeID, now: Instant) -> Bool {
        guard let penalty = penalties[node] else { return false }
        return now < penalty.until
    }

    mutating func penalize(_ node: NodeID, now: Instant) {
        var penalty = penalties[node, default: Penalty()]
        penalty.strikes = min(penalty.strikes + 1, 3)
        penalty.until = now + options.mergeBackoff << UInt64(penalty.strikes - 1)
        penalties[node] = penalty
    }
}

/// Counters a daemon exposes (`chorus status`) and the simulator sums.
public struct RingCounters: Sendable, Equatable {
    public var packetsSent = 0
    public var retransmissions = 0
    public var tokenRetransmissions = 0
    public var tokenLosses = 0
    public var configurationsInstalled = 0
    public var duplicatePackets = 0
    public var foreignPackets = 0
    public var refusedSubmissions = 0
    public var failedToReceive = 0
    public var malformedMessages = 0
    /// Packets with impossible ring numbers (forged or corrupt beyond the checksum), dropped.
    public var implausiblePackets = 0
    /// Token visits that found packets below the token's seq missing here (lost, or still on
    /// their way behind the token).
    public var tokensAheadOfData = 0
    /// Times this daemon held an idle token.
    public var tokenHolds = 0
    /// Packets this daemon sent while holding the idle token.
    public var sentWhileHolding = 0
    /// Reports of what this daemon holds, sent so the others can take safe messages as stable.
    public var stabilityReports = 0
    public init() {}
}

/// Remembers the last 64 numbers seen from one sender, to drop duplicated unsequenced packets.
struct DuplicateWindow: Sendable {
    var highest: UInt64 = 0
    var mask: UInt64 = 0

    /// Returns true the first time `index` is seen; false for a duplicate or one too old to tell.
    mutating func firstSighting(_ index: UInt64) -> Bool {
        if index > highest {
            let shift = index - highest
            mask = shift >= 64 ? 1 : (mask << shift) | 1
            highest = index
            return true
        }
        let age = highest - index
        guard age < 64, mask & (1 << age) == 0 else { return false }
        mask |= 1 << age
        return true
    }
}

extension Optional {
    /// Moves the value out, leaving nil, so the caller holds the only reference to its storage.
    mutating func take() -> Wrapped? {
        var value: Wrapped? = nil
        swap(&self, &value)  // a move: no retain of the value's storage
        return value
    }
}

struct Penalty: Sendable {
    var strikes = 0
    var until: Instant = 0
}
