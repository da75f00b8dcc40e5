import ChorusSeal
import Crypto
import Foundation
import NIOCore
import Testing

struct DatagramSealerTests {
    static let allocator = ByteBufferAllocator()
    static let key1 = SymmetricKey(size: .bits256)
    static let key2 = SymmetricKey(size: .bits256)

    static func sealer(_ me: UInt32, _ keys: [UInt16: SymmetricKey] = [1: key1], incarnation: UInt64 = 1_000, members: Set<UInt32> = [1, 2, 3]) -> DatagramSealer {
        DatagramSealer(me: me, incarnation: incarnation, keys: SealKeys(keys), members: members)
    }

    static func packet(_ text: String) -> ByteBuffer { allocator.buffer(string: text) }

    @Test func aSealedDatagramOpensToThePacketAndHidesIt() throws {
        var a = Self.sealer(1)
        var b = Self.sealer(2)
        let sealed = a.seal(Self.packet("the ring's packet"), channel: .ring, allocator: Self.allocator)
        #expect(sealed.readableBytes == "the ring's packet".utf8.count + SealFormat.overhead)
        #expect(!String(buffer: sealed).contains("ring's packet"))
        let opened = try b.open(sealed, channel: .ring, now: 0).get()
        #expect(String(buffer: opened) == "the ring's packet")
        #expect(b.counters.opened == 1 && b.counters.rejectedTotal == 0)
        // Its own come back (a ring of one passes the token to itself; multicast loops back).
        let own = a.seal(Self.packet("to myself"), channel: .ring, allocator: Self.allocator)
        #expect(String(buffer: try a.open(own, channel: .ring, now: 0).get()) == "to myself")
    }

    @Test func theNonceMustBeginWithZeros() {
        var a = Self.sealer(1)
        var b = Self.sealer(2)
        var sealed = a.seal(Self.packet("payload"), channel: .ring, allocator: Self.allocator)
        sealed.setInteger(UInt8(1), at: 24)
        #expect(b.open(sealed, channel: .ring, now: 0) == .failure(.malformed))
    }

    @Test func everyFlippedBitIsRefusedAsABadTag() {
        var a = Self.sealer(1)
        let sealed = a.seal(Self.packet("payload"), channel: .ring, allocator: Self.allocator)
        // Every byte past the fields checked before the tag: key ids, reserved, counter (the nonce), ciphertext, tag.
        for offset in [6, 8, 10, 31, 35, 36, 40, sealed.readableBytes - 1] {
            var b = Self.sealer(2)
            var forged = sealed
            forged.setInteger(forged.getInteger(at: offset, as: UInt8.self)! ^ 0x01, at: offset)
            #expect(b.open(forged, channel: .ring, now: 0) == .failure(.badTag), "byte \(offset)")
            #expect(b.counters.rejected[.badTag] == 1)
        }
    }

    @Test func aDatagramTakenOnceIsAReplayAfterwardsAndReorderingWithinTheWindowIsKept() throws {
        var a = Self.sealer(1)
        var b = Self.sealer(2)
        let datagrams = (0..<10).map { a.seal(Self.packet("p\($0)"), channel: .ring, allocator: Self.allocator) }
        for index in [3, 0, 9, 1, 2, 8, 4, 7, 5, 6] { #expect(throws: Never.self) { try b.open(datagrams[index], channel: .ring, now: 0).get() } }
        for datagram in datagrams { #expect(b.open(datagram, channel: .ring, now: 0) == .failure(.replay)) }
        #expect(b.counters.rejected[.replay] == 10)
    }

    @Test func aCounterOlderThanTheWindowIsRefused() throws {
        var a = Self.sealer(1)
        var b = Self.sealer(2)
        let old = a.seal(Self.packet("old"), channel: .ring, allocator: Self.allocator)
        var newest = old
        for _ in 0..<ReplayWindow.size { newest = a.seal(Self.packet("x"), channel: .ring, allocator: Self.allocator) }
        _ = try b.open(newest, channel: .ring, now: 0).get()
        #expect(b.open(old, channel: .ring, now: 0) == .failure(.replay))
    }

    @Test func aRestartedSendersOldDatagramsAreReplays() throws {
        var before = Self.sealer(1, incarnation: 1_000)
        var after = Self.sealer(1, incarnation: 2_000)
        var b = Self.sealer(2)
        let recorded = before.seal(Self.packet("before the restart"), channel: .ring, allocator: Self.allocator)
        _ = try b.open(after.seal(Self.packet("after"), channel: .ring, allocator: Self.allocator), channel: .ring, now: 0).get()
        #expect(b.open(recorded, channel: .ring, now: 0) == .failure(.replay))
        // The restarted sender's counters start again at 0 and are new.
        _ = try b.open(after.seal(Self.packet("again"), channel: .ring, allocator: Self.allocator), channel: .ring, now: 0).get()
    }

    @Test func unknownKeysStrangersPlainDatagramsAndOtherChannelsAreRefused() {
        var a = Self.sealer(1, [7: Self.key1])
        var b = Self.sealer(2)
        #expect(b.open(a.seal(Self.packet("x"), channel: .ring, allocator: Self.allocator), channel: .ring, now: 0) == .failure(.unknownKey))
        var stranger = Self.sealer(9, members: [1, 2, 3, 9])
        #expect(b.open(stranger.seal(Self.packet("x"), channel: .ring, allocator: Self.allocator), channel: .ring, now: 0) == .failure(.notMember))
        var plain = Self.allocator.buffer(capacity: 64)
        plain.writeInteger(UInt16(0xC405))
        plain.writeBytes([UInt8](repeating: 0, count: 60))
        #expect(b.open(plain, channel: .ring, now: 0) == .failure(.unsealed))
        #expect(b.open(Self.packet("short"), channel: .ring, now: 0) == .failure(.malformed))
        var c = Self.sealer(1)
        #expect(b.open(c.seal(Self.packet("x"), channel: .hop, allocator: Self.allocator), channel: .ring, now: 0) == .failure(.wrongChannel))
        // The same id with other key material: the tag cannot verify.
        var impostor = Self.sealer(3, [1: Self.key2])
        #expect(b.open(impostor.seal(Self.packet("x"), channel: .ring, allocator: Self.allocator), channel: .ring, now: 0) == .failure(.badTag))
        #expect(b.counters.rejectedTotal == 6)
    }

    @Test func theDaemonsMoveToANewKeyOnceEveryPeerHoldsIt() throws {
        var a = Self.sealer(1, [1: Self.key1], members: [1, 2])
        var b = Self.sealer(2, [1: Self.key1, 2: Self.key2], members: [1, 2])
        var now: UInt64 = 0
        func exchange() throws {
            now += 1_000_000
            _ = try b.open(a.seal(Self.packet("a"), channel: .ring, allocator: Self.allocator), channel: .ring, now: now).get()
            _ = try a.open(b.seal(Self.packet("b"), channel: .ring, allocator: Self.allocator), channel: .ring, now: now).get()
        }
        // b has the new key, but has not heard a yet: it seals with its newest, which a cannot open.
        #expect(b.sealingKeyID == 2)
        #expect(a.open(b.seal(Self.packet("b"), channel: .ring, allocator: Self.allocator), channel: .ring, now: 0) == .failure(.unknownKey))
        // Once it hears a (which holds only key 1) it goes back to key 1.
        try exchange()
        #expect(a.sealingKeyID == 1 && b.sealingKeyID == 1)
        // a reloads its file with both keys: both move to key 2 after one exchange.
        a.replaceKeys(SealKeys([1: Self.key1, 2: Self.key2]), now: now)
        try exchange()
        try exchange()
        #expect(a.sealingKeyID == 2 && b.sealingKeyID == 2)
        // What a daemon once said of itself (its own datagrams come back in a ring of one) does
        // not hold it back after it reloads.
        var alone = Self.sealer(1, [1: Self.key1], members: [1, 2])
        _ = try alone.open(alone.seal(Self.packet("self"), channel: .ring, allocator: Self.allocator), channel: .ring, now: now).get()
        alone.replaceKeys(SealKeys([1: Self.key1, 2: Self.key2]), now: now)
        #expect(alone.sealingKeyID == 2)
        // The old key leaves both files: traffic goes on.
        a.replaceKeys(SealKeys([2: Self.key2]), now: now)
        b.replaceKeys(SealKeys([2: Self.key2]), now: now)
        try exchange()
        #expect(a.counters.keyChanges >= 1 && b.counters.keyChanges >= 2)
    }

    @Test func aPeerThatWentQuietNoLongerHoldsTheOthersBack() throws {
        var a = Self.sealer(1, [1: Self.key1], members: [1, 2])
        var b = Self.sealer(2, [1: Self.key1, 2: Self.key2], members: [1, 2])
        _ = try b.open(a.seal(Self.packet("a"), channel: .ring, allocator: Self.allocator), channel: .ring, now: 0).get()
        #expect(b.sealingKeyID == 1)
        b.tick(now: b.peerMemory - 1)
        #expect(b.sealingKeyID == 1)
        b.tick(now: b.peerMemory + 1)
        #expect(b.sealingKeyID == 2)
    }
}
