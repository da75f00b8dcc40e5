import ChorusWire
import NIOCore

/// The sequenced packets of one ring, by seq: what is held, what is missing, and how far this
/// daemon holds everything (`myAru`). It knows nothing of delivery; `TotalOrderDelivery` reads
/// it and marks what it delivered.
struct RingStore {
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
    /// Seqs further than this above `base` are refused, so a forged or corrupt seq can never make
    /// the store allocate without bound.
    let window: UInt64

    init(ringID: RingID, members: [NodeID], me: NodeID, window: UInt64) {
        self.ringID = ringID
        self.members = members
        self.others = members.filter { $0 != me }
        self.window = window
        self.slotFacts.reserveCapacity(256)
        self.bodies.reserveCapacity(256)
    }

    func has(_ seq: UInt64) -> Bool {
        guard seq >= base, seq < base + UInt64(slotFacts.count) else { return seq < base && seq > 0 }
        return slotFacts[Int(seq - base)] != nil
    }

    func packet(_ seq: UInt64) -> DataPacket? {
        guard let facts = facts(seq) else { return nil }
        return DataPacket(
            ringID: ringID, sender: members[facts.sender], seq: seq, senderIndex: facts.senderIndex,
            causalPast: facts.causalPast, service: facts.service, fragment: facts.fragment, isRecovery: facts.isRecovery,
            sentWhileHolding: facts.sentWhileHolding, messageCount: facts.messageCount, totalLength: facts.totalLength,
            body: bodies[Int(seq - base)]!)
    }

    /// The facts of the packet at `seq`; nil when it is missing, discarded or beyond the end.
    func facts(_ seq: UInt64) -> Facts? {
        guard seq >= base, seq - base < UInt64(slotFacts.count) else { return nil }
        return slotFacts[Int(seq - base)]
    }

    /// The body of the held packet at `seq`.
    func body(_ seq: UInt64) -> ByteBuffer {
        bodies[Int(seq - base)]!
    }

    /// Records that the held packet at `seq` was delivered.
    mutating func markDelivered(_ seq: UInt64) {
        assert(slotFacts[Int(seq - base)]?.delivered == false, "packet \(seq) of \(ringID) delivered twice")
        slotFacts[Int(seq - base)]!.delivered = true
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

    /// Drops the packets up to `limit` (every member holds them and delivery has passed them).
    mutating func discard(upTo limit: UInt64) {
        guard limit >= base else { return }
        let count = Int(limit - base + 1)
        // Trim in batches so the cost per packet stays constant.
        guard count >= 512 || count == slotFacts.count else { return }
        slotFacts.removeFirst(min(count, slotFacts.count))
        bodies.removeFirst(min(count, bodies.count))
        base = limit + 1
    }
}
