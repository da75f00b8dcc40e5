import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

/// The ring's packet store alone: what it holds, its aru, gaps, bounds and discards; no delivery.
@Suite struct RingStoreTests {
    static let ring = RingID(seq: 1, representative: NodeID(1))

    static func packet(_ seq: UInt64, from sender: UInt32 = 2, ring: RingID = ring) -> DataPacket {
        DataPacket(
            ringID: ring, sender: NodeID(sender), seq: seq, senderIndex: seq, service: .agreed, fragment: .packed,
            messageCount: 0, body: ByteBuffer())
    }

    /// `insert`, outside `#expect` (which cannot take a mutating call).
    static func insert(_ packet: DataPacket, into store: inout RingStore) -> Bool { store.insert(packet) }

    @Test func aruFollowsTheFirstGapAndGapsAreListed() {
        var store = RingStore(ringID: Self.ring, members: [NodeID(1), NodeID(2)], me: NodeID(1), window: 100)
        #expect(store.others == [NodeID(2)])
        for seq: UInt64 in [1, 2, 4, 6] { #expect(Self.insert(Self.packet(seq), into: &store)) }
        #expect(store.myAru == 2 && store.highSeq == 6 && store.highSender == NodeID(2))
        var missing: [UInt64] = []
        store.missing(upTo: 8, limit: 10, into: &missing)
        #expect(missing == [3, 5, 7, 8])
        missing = []
        store.missing(upTo: 8, limit: 1, into: &missing)
        #expect(missing == [3])
        #expect(Self.insert(Self.packet(3), into: &store))
        #expect(store.myAru == 4)
        #expect(Self.insert(Self.packet(5), into: &store))
        #expect(store.myAru == 6)
        #expect(store.facts(6)?.delivered == false)
        store.markDelivered(6)
        #expect(store.facts(6)?.delivered == true)
    }

    @Test func duplicatesForeignRingsStrangersAndFarSeqsAreRefused() {
        var store = RingStore(ringID: Self.ring, members: [NodeID(1), NodeID(2)], me: NodeID(1), window: 100)
        #expect(Self.insert(Self.packet(1), into: &store))
        #expect(!Self.insert(Self.packet(1), into: &store))
        #expect(!Self.insert(Self.packet(2, ring: RingID(seq: 2, representative: NodeID(1))), into: &store))
        #expect(!Self.insert(Self.packet(2, from: 9), into: &store))
        #expect(!Self.insert(Self.packet(0), into: &store))
        #expect(!Self.insert(Self.packet(101), into: &store))
        #expect(Self.insert(Self.packet(100), into: &store))
        #expect(store.facts(101) == nil && store.packet(50) == nil)
    }

    @Test func discardsInBatchesAndForgetsWhatItDropped() {
        var store = RingStore(ringID: Self.ring, members: [NodeID(1), NodeID(2)], me: NodeID(1), window: 10_000)
        for seq: UInt64 in 1...1000 { #expect(Self.insert(Self.packet(seq), into: &store)) }
        store.discard(upTo: 100)
        #expect(store.base == 1 && store.has(50))  // fewer than a batch: kept for now
        store.discard(upTo: 600)
        #expect(store.base == 601)
        #expect(store.has(50))  // below the base: held once, so counted as held
        #expect(store.facts(50) == nil && store.packet(600) == nil && store.packet(601)?.seq == 601)
        #expect(!Self.insert(Self.packet(300), into: &store))
        store.discard(upTo: 1000)  // everything held: all of it goes
        #expect(store.base == 1001 && store.myAru == 1000)
        #expect(Self.insert(Self.packet(1001), into: &store))
        #expect(store.myAru == 1001)
    }
}
