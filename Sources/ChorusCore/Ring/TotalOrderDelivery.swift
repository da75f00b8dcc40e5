import ChorusWire
import NIOCore

/// The rules that deliver a ring's packets, over the packets a `RingStore` holds.
///
/// Every sequenced packet passes the *cursor* in seq order; agreed packets are delivered there,
/// safe ones once `stableSeq` covers them. Reliable, fifo and causal packets go out earlier, as
/// soon as their own rule allows, so a loss outside their promise never holds them back: reliable
/// at once, fifo in its sender's order, causal in its sender's order once the cursor has passed its
/// `causalPast`. At the end of the ring, `finish` splits what is left between the old regular and
/// the transitional configuration.
struct TotalOrderDelivery {
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

    /// Next seq the in-order cursor processes.
    private(set) var cursor: UInt64 = 1
    /// Every member holds every packet up to here.
    var stableSeq: UInt64 = 0
    /// Deliveries wait until the ring is installed (they are held during recovery).
    var enabled: Bool
    /// Per member, in the ring's `members` order.
    private var senders: [SenderState]
    let maxMessageSize: Int
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

    init(members: Int, enabled: Bool, maxMessageSize: Int) {
        self.senders = Array(repeating: SenderState(), count: members)
        self.enabled = enabled
        self.maxMessageSize = maxMessageSize
    }

    /// What a causal packet sequenced now may causally follow: everything this daemon delivered,
    /// which lies at or below the cursor or is an early causal delivery.
    var causalHorizon: UInt64 { max(cursor - 1, lastCausalDelivered) }

    /// How far the store may discard: held by every member and passed by the cursor.
    var discardable: UInt64 { min(stableSeq, cursor &- 1) }

    // MARK: Operational delivery

    /// Delivers what the packet just stored at `seq` allows: early reliable/fifo/causal, then the
    /// in-order cursor.
    mutating func afterInsert(seq: UInt64, in store: inout RingStore, into actions: inout [RingAction]) {
        guard enabled, seq >= store.base else { return }
        guard let packet = store.facts(seq), !packet.isRecovery, !packet.delivered else {
            advanceCursor(in: &store, into: &actions)
            return
        }
        if packet.service <= .causal, earlyDelivery {
            if packet.service == .reliable, packet.fragment == .packed {
                deliver(seq, in: &store, into: &actions)
            }
            if packet.senderIndex >= senders[packet.sender].nextIndex {
                senders[packet.sender].ahead[packet.senderIndex] = seq
            }
            runChain(at: packet.sender, in: &store, into: &actions)
        }
        advanceCursor(in: &store, into: &actions)
    }

    /// Delivers in seq order up to the store's `myAru`; a safe packet waits for `stableSeq`.
    mutating func advanceCursor(in store: inout RingStore, into actions: inout [RingAction]) {
        guard enabled else { return }
        let start = cursor
        while cursor <= store.myAru {
            if !pass(seq: cursor, allowUnstableSafe: false, in: &store, into: &actions) { break }
            cursor += 1
        }
        // A chain may wait for the cursor to pass a causal packet's causal past.
        guard cursor != start, causalWaits else { return }
        causalWaits = false
        for sender in senders.indices where !senders[sender].ahead.isEmpty {
            runChain(at: sender, in: &store, into: &actions)
        }
    }

    /// Whether the sender-order chain may deliver this packet ahead of the cursor.
    private func isEarlyDeliverable(service: Service, causalPast: UInt64) -> Bool {
        service <= .fifo || service == .causal && (causalPast < cursor || brokenRules.causalPast)
    }

    /// Processes the packet at `seq` for the cursor. Returns false if it must wait.
    private mutating func pass(
        seq: UInt64, allowUnstableSafe: Bool, in store: inout RingStore, into actions: inout [RingAction]
    ) -> Bool {
        guard seq >= store.base else { return true }
        guard let packet = store.facts(seq) else { return false }
        // A recovery packet delivers nothing but takes a place in its sender's order.
        if !packet.isRecovery, !packet.delivered {
            if packet.service == .safe, seq > stableSeq, !allowUnstableSafe, !brokenRules.stability { return false }
            deliver(seq, in: &store, into: &actions)
        }
        // Sender state is changed in place, never through a copy: a copy would share the
        // reassembly buffer and make every fragment append copy the whole message.
        if senders[packet.sender].passed(packet.senderIndex) {
            runChain(at: packet.sender, in: &store, into: &actions)
        }
        return true
    }

    /// Sender-order chain: delivers the sender's (at `members[sender]`) next packets in sender order
    /// while each may go ahead of the cursor.
    private mutating func runChain(at sender: Int, in store: inout RingStore, into actions: inout [RingAction]) {
        while case let next = senders[sender].nextIndex, let seq = senders[sender].ahead[next] {
            guard let packet = store.facts(seq) else { break }
            if !packet.delivered {
                guard isEarlyDeliverable(service: packet.service, causalPast: packet.causalPast) else {
                    if packet.service == .causal { causalWaits = true }
                    break
                }
                deliver(seq, in: &store, into: &actions)
            }
            senders[sender].ahead[next] = nil
            senders[sender].nextIndex = next + 1
        }
    }

    /// Hands one packet's messages up; fragments are gathered until the last one.
    private mutating func deliver(_ seq: UInt64, in store: inout RingStore, into actions: inout [RingAction]) {
        store.markDelivered(seq)
        let facts = store.facts(seq)!
        let sender = facts.sender
        let senderID = store.members[sender]
        let ringID = store.ringID
        if facts.service == .causal { lastCausalDelivered = max(lastCausalDelivered, seq) }
        switch facts.fragment {
        case .packed:
            var body = store.body(seq)
            for _ in 0..<facts.messageCount {
                guard let length = body.readInteger(as: UInt32.self), let message = body.readSlice(length: Int(length))
                else {
                    malformed += 1
                    return
                }
                actions.append(.deliver(RingDelivery(ringID: ringID, sender: senderID, service: facts.service, payload: message)))
            }
        case .first:
            let body = store.body(seq)
            guard Int(facts.totalLength) <= maxMessageSize, body.readableBytes <= Int(facts.totalLength) else {
                malformed += 1
                senders[sender].reassembly = nil
                return
            }
            var buffer = ByteBufferAllocator().buffer(capacity: Int(facts.totalLength))
            buffer.writeImmutableBuffer(body)
            senders[sender].reassembly = buffer
        case .middle, .last:
            // Taken out (not copied), so the append below writes in place.
            guard var buffer = senders[sender].reassembly.take() else {
                malformed += 1
                return
            }
            buffer.writeImmutableBuffer(store.body(seq))
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
        in store: inout RingStore, into actions: inout [RingAction]
    ) {
        enabled = true
        stableSeq = max(stableSeq, stable)
        // `high` comes from other members; nothing above what we hold can be delivered anyway.
        let high = min(high, store.highSeq)
        // 1. Regular configuration.
        while cursor <= high, pass(seq: cursor, allowUnstableSafe: false, in: &store, into: &actions) { cursor += 1 }
        var seq = cursor
        var blocked = Set<Int>()  // senders (by index) whose order broke
        while seq <= high {
            defer { seq += 1 }
            guard let packet = store.facts(seq) else { continue }
            let inOrder = !blocked.contains(packet.sender) && packet.senderIndex == senders[packet.sender].nextIndex
            if packet.isRecovery || packet.delivered {
                if inOrder { senders[packet.sender].nextIndex += 1 }
            } else if packet.service == .reliable, packet.fragment == .packed {
                deliver(seq, in: &store, into: &actions)
                if inOrder { senders[packet.sender].nextIndex += 1 }
            } else if inOrder, isEarlyDeliverable(service: packet.service, causalPast: packet.causalPast) {
                deliver(seq, in: &store, into: &actions)
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
            guard seq >= store.base else { continue }
            guard let slot = store.facts(seq) else {
                gapSeen = true
                continue
            }
            if slot.delivered || slot.isRecovery { continue }
            if !gapSeen || gapSenders.contains(store.members[slot.sender]) {
                deliver(seq, in: &store, into: &actions)
            }
        }
        cursor = high + 1
    }
}
