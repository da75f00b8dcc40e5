import ChorusWire
import NIOCore

/// The packets of one ring and the rules that deliver them.
///
/// Every sequenced packet passes the *cursor* in seq order; agreed packets are delivered there,
/// safe ones once `stableSeq` covers them. Reliable, fifo and causal packets go out earlier, as
/// soon as their own rule allows, so a loss outside their promise never holds them back: reliable
/// at once, fifo in its sender's order, causal in its sender's order once the cursor has passed its
/// `causalPast`. At the end of the ring, `finish` splits what is left between the old regular and
/// the transitional configuration.
struct RingLog {
    struct SenderState {
        /// The next `senderIndex` the fifo chain waits for.
        var nextIndex: UInt64 = 1
        /// Received packets ahead of `nextIndex` the chain will pass: index → seq.
        var ahead: [UInt64: UInt64] = [:]
        /// A large message being put back together.
        var reassembly: ByteBuffer?

        /// The cursor passed this sender's packet `index`. Returns true if packets wait in `ahead`.
        mutating func passed(_ index: UInt64) -> Bool {
            guard index == nextIndex else { return false }
            if !ahead.isEmpty { ahead[index] = nil }
            nextIndex += 1
            return !ahead.isEmpty
        }
    }

    let ringID: RingID
    let members: [NodeID]
    /// The members but this daemon: where its packets go.
    let others: [NodeID]
    /// Seq of `slotFacts[0]` and `bodies[0]`.
    private(set) var base: UInt64 = 1
    /// The stored packets' fields, by seq from `base`; nil where one is missing. Plain values,
    /// kept apart from the bodies: reading them never retains or releases a body (a packet
    /// read out of an array of packets is copied, body and all).
    private var slotFacts: [Facts?] = []
    /// The stored packets' bodies, beside `slotFacts`.
    private var bodies: [ByteBuffer?] = []
    private(set) var myAru: UInt64 = 0
    private(set) var highSeq: UInt64 = 0
    /// The sender of the packet at `highSeq`: the member that last had the token (nil: none yet).
    private(set) var highSender: NodeID?
    /// Next seq the in-order cursor processes.
    private(set) var cursor: UInt64 = 1
    /// Every member holds every packet up to here.
    var stableSeq: UInt64 = 0
    /// Deliveries wait until the ring is installed (they are held during recovery).
    var deliveryEnabled: Bool
    /// Once this daemon reported its state in a commit token, only recovery may add packets.
    var frozen = false
    /// Per member, in `members` order.
    private var senders: [SenderState]
    let maxMessageSize: Int
    /// Seqs further than this above `base` are refused, so a forged or corrupt seq can never make
    /// the log allocate without bound.
    let window: UInt64
    /// Messages dropped because a reassembled message broke the rules (counted, never fatal).
    private(set) var malformed = 0
    /// The highest seq of a causal packet delivered so far (it may be above the cursor).
    private var lastCausalDelivered: UInt64 = 0
    /// A sender-order chain stopped at a causal packet whose causal past the cursor has not passed.
    private var causalWaits = false
    /// `RingOptions.earlyDelivery`: off, every packet waits for the cursor.
    var earlyDelivery = true
    /// The ring's test switches (`RingOptions.brokenRules`); all off outside tests.
    var brokenRules = RingOptions.BrokenRules()

    /// What a causal packet sequenced now may causally follow: everything this daemon delivered,
    /// which lies at or below the cursor or is an early causal delivery.
    var causalHorizon: UInt64 { max(cursor - 1, lastCausalDelivered) }

    init(
        ringID: RingID, members: [NodeID], me: NodeID, deliveryEnabled: Bool, maxMessageSize: Int, window: UInt64
    ) {
        self.ringID = ringID
        self.members = members
        self.others = members.filter { $0 != me }
        self.senders = Array(repeating: SenderState(), count: members.count)
        self.deliveryEnabled = deliveryEnabled
        self.maxMessageSize = maxMessageSize
        self.window = window
        self.slotFacts.reserveCapacity(256)
        self.bodies.reserveCapacity(256)
    }

    // MARK: Storage

    func has(_ seq: UInt64) -> Bool {
        guard seq >= base, seq < base + UInt64(slotFacts.count) else { return seq < base && seq > 0 }
        return slotFacts[Int(seq - base)] != nil
    }

    func packet(_ seq: UInt64) -> DataPacket? {
        guard seq >= base, seq < base + UInt64(slotFacts.count), let facts = slotFacts[Int(seq - base)] else { return nil }
        return DataPacket(
            ringID: ringID, sender: members[facts.sender], seq: seq, senderIndex: facts.senderIndex,
            causalPast: facts.causalPast, service: facts.service, fragment: facts.fragment, isRecovery: facts.isRecovery,
            sentWhileHolding: facts.sentWhileHolding, messageCount: facts.messageCount, totalLength: facts.totalLength,
            body: bodies[Int(seq - base)]!)
    }

    /// Stores a sequenced packet. Returns false for a duplicate, one already discarded, or one
    /// too far ahead of the window.
    mutating func insert(_ packet: DataPacket) -> Bool {
        let seq = packet.seq
        // A packet claiming a sender outside the ring is refused: it could only be forged.
        guard packet.ringID == ringID, seq >= base, seq > 0, seq - base < window,
            let sender = members.firstIndex(of: packet.sender)
        else { return false }
        let index = Int(seq - base)
        while index >= slotFacts.count {
            slotFacts.append(nil)
            bodies.append(nil)
        }
        guard slotFacts[index] == nil else { return false }
        slotFacts[index] = Facts(
            sender: sender, senderIndex: packet.senderIndex, causalPast: packet.causalPast, service: packet.service,
            fragment: packet.fragment, isRecovery: packet.isRecovery, sentWhileHolding: packet.sentWhileHolding,
            delivered: false, messageCount: packet.messageCount, totalLength: packet.totalLength)
        bodies[index] = packet.body
        if seq > highSeq {
            highSeq = seq
            highSender = packet.sender
        }
        if seq == myAru + 1 {
            var next = seq
            while next + 1 < base + UInt64(slotFacts.count), slotFacts[Int(next + 1 - base)] != nil { next += 1 }
            myAru = next
        }
        return true
    }

    /// What the delivery rules read of a stored packet, taken when it is stored.
    struct Facts {
        /// The sender's index in `members`.
        var sender: Int
        var senderIndex: UInt64
        var causalPast: UInt64
        var service: Service
        var fragment: FragmentKind
        var isRecovery: Bool
        var sentWhileHolding: Bool
        var delivered: Bool
        var messageCount: UInt16
        var totalLength: UInt32
    }

    /// The facts of the packet at `index` in `slotFacts`, or nil when that slot is empty or beyond the end.
    private func facts(at index: Int) -> Facts? {
        index < slotFacts.count ? slotFacts[index] : nil
    }

    /// Missing seqs in `(myAru, upTo]`, at most `limit` of them.
    func missing(upTo: UInt64, limit: Int, into list: inout [UInt64]) {
        guard upTo > myAru, limit > 0 else { return }
        var seq = myAru + 1
        var added = 0
        while seq <= upTo, added < limit {
            if !has(seq), !list.contains(seq) {
                list.append(seq)
                added += 1
            }
            seq += 1
        }
    }

    /// Drops packets that every member holds and this daemon has passed.
    mutating func discardStable() {
        let limit = min(stableSeq, cursor &- 1)
        guard limit >= base else { return }
        let count = Int(limit - base + 1)
        // Trim in batches so the cost per packet stays constant.
        guard count >= 512 || count == slotFacts.count else { return }
        slotFacts.removeFirst(min(count, slotFacts.count))
        bodies.removeFirst(min(count, bodies.count))
        base = limit + 1
    }

    // MARK: Operational delivery

    /// Delivers what a newly stored packet allows: early reliable/fifo, then the in-order cursor.
    mutating func deliverAfterInsert(seq: UInt64, into actions: inout [RingAction]) {
        guard deliveryEnabled, seq >= base else { return }
        let index = Int(seq - base)
        guard let packet = facts(at: index), !packet.isRecovery, !packet.delivered else {
            advanceCursor(into: &actions)
            return
        }
        if packet.service <= .causal, earlyDelivery {
            if packet.service == .reliable, packet.fragment == .packed {
                deliver(at: index, into: &actions)
            }
            if packet.senderIndex >= senders[packet.sender].nextIndex {
                senders[packet.sender].ahead[packet.senderIndex] = seq
            }
            runChain(at: packet.sender, into: &actions)
        }
        advanceCursor(into: &actions)
    }

    /// Delivers in seq order up to `myAru`; a safe packet waits for `stableSeq`.
    mutating func advanceCursor(into actions: inout [RingAction]) {
        guard deliveryEnabled else { return }
        let start = cursor
        while cursor <= myAru {
            if !pass(seq: cursor, allowUnstableSafe: false, into: &actions) { break }
            cursor += 1
        }
        // A chain may wait for the cursor to pass a causal packet's causal past.
        guard cursor != start, causalWaits else { return }
        causalWaits = false
        for sender in senders.indices where !senders[sender].ahead.isEmpty {
            runChain(at: sender, into: &actions)
        }
    }

    /// Whether the sender-order chain may deliver this packet ahead of the cursor.
    private func isEarlyDeliverable(service: Service, causalPast: UInt64) -> Bool {
        service <= .fifo || service == .causal && (causalPast < cursor || brokenRules.causalPast)
    }

    /// Processes the packet at `seq` for the cursor. Returns false if it must wait.
    private mutating func pass(seq: UInt64, allowUnstableSafe: Bool, into actions: inout [RingAction]) -> Bool {
        guard seq >= base else { return true }
        let index = Int(seq - base)
        guard let packet = facts(at: index) else { return false }
        // A recovery packet delivers nothing but takes a place in its sender's order.
        if !packet.isRecovery, !packet.delivered {
            if packet.service == .safe, seq > stableSeq, !allowUnstableSafe, !brokenRules.stability { return false }
            deliver(at: index, into: &actions)
        }
        // Sender state is changed in place, never through a copy: a copy would share the
        // reassembly buffer and make every fragment append copy the whole message.
        if senders[packet.sender].passed(packet.senderIndex) {
            runChain(at: packet.sender, into: &actions)
        }
        return true
    }

    /// Sender-order chain: delivers the sender's (at `members[sender]`) next packets in sender order
    /// while each may go ahead of the cursor.
    private mutating func runChain(at sender: Int, into actions: inout [RingAction]) {
        while case let next = senders[sender].nextIndex, let seq = senders[sender].ahead[next] {
            // `seq - base` would trap below the base: check first.
            guard seq >= base, let packet = facts(at: Int(seq - base)) else { break }
            let index = Int(seq - base)
            if !packet.delivered {
                guard isEarlyDeliverable(service: packet.service, causalPast: packet.causalPast) else {
                    if packet.service == .causal { causalWaits = true }
                    break
                }
                deliver(at: index, into: &actions)
            }
            senders[sender].ahead[next] = nil
            senders[sender].nextIndex = next + 1
        }
    }

    /// Hands one packet's messages up; fragments are gathered until the last one.
    private mutating func deliver(at index: Int, into actions: inout [RingAction]) {
        assert(!slotFacts[index]!.delivered, "packet \(base + UInt64(index)) of \(ringID) delivered twice")
        slotFacts[index]!.delivered = true
        let facts = slotFacts[index]!
        let sender = facts.sender
        let senderID = members[sender]
        if facts.service == .causal { lastCausalDelivered = max(lastCausalDelivered, base + UInt64(index)) }
        switch facts.fragment {
        case .packed:
            var body = bodies[index]!
            for _ in 0..<facts.messageCount {
                guard let length = body.readInteger(as: UInt32.self), let message = body.readSlice(length: Int(length))
                else {
                    malformed += 1
                    return
                }
                actions.append(.deliver(RingDelivery(ringID: ringID, sender: senderID, service: facts.service, payload: message)))
            }
        case .first:
            guard Int(facts.totalLength) <= maxMessageSize, bodies[index]!.readableBytes <= Int(facts.totalLength) else {
                malformed += 1
                senders[sender].reassembly = nil
                return
            }
            var buffer = ByteBufferAllocator().buffer(capacity: Int(facts.totalLength))
            buffer.writeImmutableBuffer(bodies[index]!)
            senders[sender].reassembly = buffer
        case .middle, .last:
            // Taken out (not copied), so the append below writes in place.
            guard var buffer = senders[sender].reassembly.take() else {
                malformed += 1
                return
            }
            buffer.writeImmutableBuffer(bodies[index]!)
            if facts.fragment == .last {
                actions.append(.deliver(RingDelivery(ringID: ringID, sender: senderID, service: facts.service, payload: buffer)))
            } else if buffer.readableBytes > maxMessageSize {
                malformed += 1
            } else {
                senders[sender].reassembly = buffer
            }
        }
    }

    // MARK: End of the ring

    /// Delivers what is left when this ring ends, following extended virtual synchrony.
    ///
    /// Every survivor of this ring calls this with the same `stable`, `high`, `transitional` and
    /// `gapSenders`, and (after recovery) holds the same packets, so all make the same split:
    /// 1. in the old regular configuration: in seq order up to the first missing packet or unstable
    ///    safe packet, plus every packet that the reliable, fifo and causal rules allow (a superset
    ///    of what any survivor delivered early, since recovery gave every survivor those packets);
    /// 2. then the transitional configuration event;
    /// 3. then the rest in seq order: everything before the first gap, and after it only packets of
    ///    `gapSenders`, whose causal past is complete: the survivors (a sender holds all it sent and
    ///    delivered) and the senders an unfinished earlier recovery of this ring committed to (whose
    ///    holdings that recovery gave to a survivor, see `Commitment`).
    mutating func finish(
        stable: UInt64, high: UInt64, transitional: RingConfiguration, gapSenders: [NodeID],
        into actions: inout [RingAction]
    ) {
        deliveryEnabled = true
        stableSeq = max(stableSeq, stable)
        // `high` comes from other members; nothing above what we hold can be delivered anyway.
        let high = min(high, highSeq)
        // 1. Regular configuration.
        while cursor <= high, pass(seq: cursor, allowUnstableSafe: false, into: &actions) { cursor += 1 }
        var seq = cursor
        var blocked = Set<Int>()  // senders (by index) whose order broke
        while seq <= high {
            defer { seq += 1 }
            guard seq >= base, let packet = facts(at: Int(seq - base)) else { continue }
            let inOrder = !blocked.contains(packet.sender) && packet.senderIndex == senders[packet.sender].nextIndex
            if packet.isRecovery || packet.delivered {
                if inOrder { senders[packet.sender].nextIndex += 1 }
            } else if packet.service == .reliable, packet.fragment == .packed {
                deliver(at: Int(seq - base), into: &actions)
                if inOrder { senders[packet.sender].nextIndex += 1 }
            } else if inOrder, isEarlyDeliverable(service: packet.service, causalPast: packet.causalPast) {
                deliver(at: Int(seq - base), into: &actions)
                senders[packet.sender].nextIndex += 1
            } else {
                blocked.insert(packet.sender)
            }
        }
        // 2. Transitional configuration.
        actions.append(.configuration(transitional))
        let gapSenders = Set(gapSenders)
        var gapSeen = false
        seq = cursor
        while seq <= high {
            defer { seq += 1 }
            guard seq >= base else { continue }
            guard let slot = slotFacts[Int(seq - base)] else {
                gapSeen = true
                continue
            }
            if slot.delivered || slot.isRecovery { continue }
            if !gapSeen || gapSenders.contains(members[slot.sender]) {
                deliver(at: Int(seq - base), into: &actions)
            }
        }
        cursor = high + 1
    }
}
