import ChorusWire
import NIOCore

/// One ring's packets (`RingStore`) with the rules that deliver them (`TotalOrderDelivery`): what
/// the ring protocol holds per ring. Storage and delivery are separate layers; this type only
/// puts them side by side and forwards, so the ring's code reads as before.
struct RingLog {
    private(set) var store: RingStore
    private(set) var delivery: TotalOrderDelivery
    /// Once this daemon reported its state in a commit token, only recovery may add packets.
    var frozen = false

    init(
        ringID: RingID, members: [NodeID], me: NodeID, deliveryEnabled: Bool, maxMessageSize: Int, window: UInt64
    ) {
        store = RingStore(ringID: ringID, members: members, me: me, window: window)
        delivery = TotalOrderDelivery(members: members.count, enabled: deliveryEnabled, maxMessageSize: maxMessageSize)
    }

    // MARK: Storage

    var ringID: RingID { store.ringID }
    var members: [NodeID] { store.members }
    /// The members but this daemon: where its packets go.
    var others: [NodeID] { store.others }
    var myAru: UInt64 { store.myAru }
    var highSeq: UInt64 { store.highSeq }
    /// The sender of the packet at `highSeq`: the member that last had the token (nil: none yet).
    var highSender: NodeID? { store.highSender }

    func has(_ seq: UInt64) -> Bool { store.has(seq) }
    func packet(_ seq: UInt64) -> DataPacket? { store.packet(seq) }
    /// Stores a sequenced packet. Returns false for a duplicate, one already discarded, or one
    /// too far ahead of the window.
    mutating func insert(_ packet: DataPacket) -> Bool { store.insert(packet) }
    /// Missing seqs in `(myAru, upTo]`, at most `limit` of them.
    func missing(upTo: UInt64, limit: Int, into list: inout [UInt64]) { store.missing(upTo: upTo, limit: limit, into: &list) }
    /// Drops packets that every member holds and this daemon has passed.
    mutating func discardStable() { store.discard(upTo: delivery.discardable) }

    // MARK: Delivery

    /// The cursor passed every packet up to here (their messages were delivered, or wait for
    /// the rest of their fragments).
    var deliveredUpTo: UInt64 { delivery.cursor - 1 }
    /// Every member holds every packet up to here.
    var stableSeq: UInt64 {
        get { delivery.stableSeq }
        set { delivery.stableSeq = newValue }
    }
    /// Deliveries wait until the ring is installed (they are held during recovery).
    var deliveryEnabled: Bool {
        get { delivery.enabled }
        set { delivery.enabled = newValue }
    }
    var earlyDelivery: Bool {
        get { delivery.earlyDelivery }
        set { delivery.earlyDelivery = newValue }
    }
    var brokenRules: RingOptions.BrokenRules {
        get { delivery.brokenRules }
        set { delivery.brokenRules = newValue }
    }
    var malformed: Int { delivery.malformed }
    var causalHorizon: UInt64 { delivery.causalHorizon }

    /// Delivers what a newly stored packet allows.
    mutating func deliverAfterInsert(seq: UInt64, into actions: inout [RingAction]) {
        delivery.afterInsert(seq: seq, in: &store, into: &actions)
    }

    /// Delivers in seq order as far as the rules allow.
    mutating func advanceCursor(into actions: inout [RingAction]) {
        delivery.advanceCursor(in: &store, into: &actions)
    }

    /// Delivers what is left when this ring ends (`TotalOrderDelivery.finish`).
    mutating func finish(
        stable: UInt64, high: UInt64, transitional: RingConfiguration, gapSenders: [NodeID],
        into actions: inout [RingAction]
    ) {
        delivery.finish(
            stable: stable, high: high, transitional: transitional, gapSenders: gapSenders, in: &store, into: &actions)
    }
}
