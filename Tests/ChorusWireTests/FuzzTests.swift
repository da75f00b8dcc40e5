import ChorusWire
import Foundation
import NIOCore
import Testing

/// Seeded mutation fuzzing of both decoders. Every iteration derives its own seed from the base
/// seed, and failures name it; set CHORUS_WIRE_FUZZ_SEED to replay a run from another base seed.
@Suite("Decoder fuzzing")
struct FuzzTests {
    typealias S = ByteSurgery

    static let baseSeed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["CHORUS_WIRE_FUZZ_SEED"], let seed = UInt64(text) { return seed }
        return 0xF022_C0DE
    }()

    static let iterations = 6000

    enum Mutation: CaseIterable {
        case flipBits, randomBytes, truncate, extend, hugeLength, overwriteInteger, insertOrDelete, replaceWhole
    }

    /// Changes `bytes` (a whole packet or group message) in one random way.
    static func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) -> Mutation {
        let mutation = Mutation.allCases.randomElement(using: &rng)!
        switch mutation {
        case .flipBits:
            for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            }
        case .randomBytes:
            for _ in 0..<Int.random(in: 1...8, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
        case .truncate:
            bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
        case .extend:
            bytes += rng.bytes(Int.random(in: 1...16, using: &rng))
        case .hugeLength, .overwriteInteger:
            // Lengths and counts are u8/u16/u32 at arbitrary offsets: plant an extreme or random value.
            let width = [1, 2, 4, 8].randomElement(using: &rng)!
            guard bytes.count >= width else { break }
            let offset = Int.random(in: 0...(bytes.count - width), using: &rng)
            let value: UInt64 =
                mutation == .hugeLength
                ? [UInt64.max, UInt64(UInt32.max), UInt64(UInt16.max), 0x8000_0000, 0].randomElement(using: &rng)!
                : rng.next()
            for index in 0..<width {
                bytes[offset + index] = UInt8(truncatingIfNeeded: value >> ((width - 1 - index) * 8))
            }
        case .insertOrDelete:
            let offset = Int.random(in: 0...bytes.count, using: &rng)
            if rng.chance(0.5) {
                bytes.insert(contentsOf: rng.bytes(Int.random(in: 1...9, using: &rng)), at: offset)
            } else {
                bytes.removeSubrange(offset..<min(bytes.count, offset + Int.random(in: 1...9, using: &rng)))
            }
        case .replaceWhole:
            bytes = rng.bytes(Int.random(in: 0...80, using: &rng))
        }
        return mutation
    }

    /// If a decoded packet carries packed group messages, they must decode or fail cleanly too,
    /// and whatever decodes must re-encode to the same bytes.
    static func checkInner(_ packet: Packet, seed: UInt64) {
        guard case .data(let data) = packet, data.fragment == .packed else { return }
        if data.isRecovery {
            if case .success(let inner) = S.decode(data.body.bytes) {
                #expect(PacketCodec.encode(inner).bytes == data.body.bytes, "seed \(seed)")
                checkInner(inner, seed: seed)
            }
            return
        }
        do throws(WireError) {
            for record in try data.packedMessages() {
                if case .success(let message) = S.decodeGroup(record.bytes) {
                    #expect(GroupMessageCodec.encode(message).bytes == record.bytes, "seed \(seed)")
                }
            }
        } catch {
            Issue.record("decoded packed packet failed to iterate: \(error), seed \(seed)")
        }
    }

    @Test func packetMutations() {
        print("packet fuzz base seed \(Self.baseSeed)")
        var stats: [Mutation: (decoded: Int, rejected: Int)] = [:]
        for iteration in 0..<Self.iterations {
            let seed = Self.baseSeed &+ UInt64(iteration)
            var rng = SplitMix64(seed: seed)
            let original = PacketCodec.encode(Gen.packet(&rng)).bytes
            var bytes = original
            let mutation = Self.mutate(&bytes, &rng)
            let fixCRC = rng.chance(0.75)
            if fixCRC { S.fixFraming(&bytes) }

            switch S.decode(bytes) {
            case .failure:
                stats[mutation, default: (0, 0)].rejected += 1
            case .success(let packet):
                stats[mutation, default: (0, 0)].decoded += 1
                if !fixCRC && bytes != original {
                    // Corruption without a recomputed CRC must be caught (barring a 2^-32 collision).
                    Issue.record("corrupt packet passed the CRC, \(mutation), seed \(seed)")
                }
                let reencoded = PacketCodec.encode(packet).bytes
                #expect(reencoded == bytes, "decode is not canonical, \(mutation), seed \(seed)")
                #expect(S.decode(reencoded) == .success(packet), "re-decode differs, \(mutation), seed \(seed)")
                Self.checkInner(packet, seed: seed)
            }
        }
        print("packet fuzz outcomes: \(stats.map { "\($0.key): \($0.value.decoded) decoded, \($0.value.rejected) rejected" })")
    }

    @Test func groupMessageMutations() {
        print("group message fuzz base seed \(Self.baseSeed)")
        var decodedCount = 0
        for iteration in 0..<Self.iterations {
            let seed = Self.baseSeed &+ 0x1_0000_0000 &+ UInt64(iteration)
            var rng = SplitMix64(seed: seed)
            var bytes = GroupMessageCodec.encode(Gen.groupMessage(&rng)).bytes
            let mutation = Self.mutate(&bytes, &rng)
            if case .success(let message) = S.decodeGroup(bytes) {
                decodedCount += 1
                let reencoded = GroupMessageCodec.encode(message).bytes
                #expect(reencoded == bytes, "decode is not canonical, \(mutation), seed \(seed)")
                #expect(S.decodeGroup(reencoded) == .success(message), "re-decode differs, \(mutation), seed \(seed)")
            }
        }
        print("group message fuzz: \(decodedCount) of \(Self.iterations) mutants decoded")
    }

    /// The cached decoder must give exactly what the general one gives, valid or not, whatever
    /// the cache holds. Data messages to a few recurring group lists make the cache hit often.
    @Test func cachedDecoderMatchesGeneralDecoder() {
        var cache = GroupNameCache()
        var hits = 0
        let lists: [[String]] = [["chat"], ["a", "chat"], ["été"], ["#7#d2"]]
        for iteration in 0..<Self.iterations {
            let seed = Self.baseSeed &+ 0x3_0000_0000 &+ UInt64(iteration)
            var rng = SplitMix64(seed: seed)
            var message = Gen.groupMessage(&rng)
            if rng.chance(0.6) {
                message = .data(ClientData(
                    sender: Gen.session(&rng), sessionSeq: UInt64.random(in: 0...3, using: &rng),
                    messageType: 7, selfDiscard: rng.chance(0.5), groups: lists.randomElement(using: &rng)!,
                    payload: ByteBuffer(bytes: rng.bytes(Int.random(in: 0...40, using: &rng)))))
            }
            var bytes: [UInt8]
            if case .data(let data) = message, data.sessionSeq == 0 {
                // Not encodable as it stands (sessionSeq counts from 1): encode a valid one and zero it.
                var valid = data
                valid.sessionSeq = 1
                bytes = GroupMessageCodec.encode(.data(valid)).bytes
                for offset in 10..<18 { bytes[offset] = 0 }
            } else {
                bytes = GroupMessageCodec.encode(message).bytes
            }
            if rng.chance(0.5) { _ = Self.mutate(&bytes, &rng) }
            let general = S.decodeGroup(bytes)
            let cached: Result<GroupMessage, WireError>
            do throws(WireError) {
                cached = .success(try GroupMessageCodec.decode(ByteBuffer(bytes: bytes), names: &cache))
            } catch {
                cached = .failure(error)
            }
            #expect(cached == general, "seed \(seed)")
            if case .success(.data(let data)) = cached, lists.contains(data.groups) { hits += 1 }
        }
        print("cached group decoder: \(hits) of \(Self.iterations) decoded data messages to recurring lists")
        #expect(hits > Self.iterations / 4)
    }

    @Test func packedBodyMutations() {
        for iteration in 0..<2000 {
            let seed = Self.baseSeed &+ 0x2_0000_0000 &+ UInt64(iteration)
            var rng = SplitMix64(seed: seed)
            var body = ByteBuffer()
            let count = Int.random(in: 0...6, using: &rng)
            for _ in 0..<count { PackedBody.append(ByteBuffer(bytes: rng.bytes(Int.random(in: 0...20, using: &rng))), to: &body) }
            var bytes = body.bytes
            _ = Self.mutate(&bytes, &rng)
            do throws(WireError) {
                let messages = try PackedBody.messages(in: ByteBuffer(bytes: bytes))
                var rebuilt = ByteBuffer()
                for message in messages { PackedBody.append(message, to: &rebuilt) }
                #expect(rebuilt.bytes == bytes, "seed \(seed)")
                #expect(Array(messages).count == messages.count, "seed \(seed)")
            } catch {
                // Rejected cleanly.
            }
        }
    }
}
