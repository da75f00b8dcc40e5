import ChorusCore
import ChorusSeal
import ChorusWire
import Crypto
import NIOCore

/// Sealed datagrams in the simulator (`SimulationConfig.sealed`): every daemon seals what it
/// sends and opens what it receives with a `DatagramSealer`, as `chorusd` does with `[security]
/// key_file`, so the hostile peer meets the real checks. An outsider or impersonator has no key
/// (it seals with its own material under the site's key id); the configured hostile daemon holds
/// the key; replays re-send sealed datagrams seen on the network, byte for byte.
extension Simulation {
    /// The site's key, and the hostile peer's own material under the same id.
    static let siteKey = SealKeys([1: SymmetricKey(data: [UInt8](repeating: 0x5A, count: 32))])
    static let attackerKey = SealKeys([1: SymmetricKey(data: [UInt8](repeating: 0xA5, count: 32))])
    /// Sealed datagrams kept for replays.
    static let keptForReplay = 512

    var sealMembers: Set<UInt32> { Set(site.map(\.rawValue)) }

    /// A (re)started daemon seals under a new incarnation.
    mutating func bootSealer(_ index: Int) {
        sealers[index] = DatagramSealer(
            me: site[index].rawValue, incarnation: UInt64(daemons[index].incarnation), keys: Self.siteKey, members: sealMembers)
    }

    mutating func sealOutgoing(_ packet: Packet, from index: Int) -> ByteBuffer {
        let sealed = sealers[index]!.seal(PacketCodec.encode(packet), channel: .ring, allocator: ByteBufferAllocator())
        if hostile != nil {
            // The peer sees everything on the wire; it keeps a sample for its replays.
            if sealedSeen.count < Self.keptForReplay {
                sealedSeen.append(sealed)
            } else {
                sealedSeen[random.int(below: Self.keptForReplay)] = sealed
            }
        }
        return sealed
    }

    /// The packet bytes inside a sealed datagram, or nil (dropped and counted by cause).
    mutating func openIncoming(_ bytes: ByteBuffer, at index: Int, hostile: Bool) -> ByteBuffer? {
        switch sealers[index]!.open(bytes, channel: .ring, now: now) {
        case .success(let plain): return plain
        case .failure(let cause):
            report.sealRejected[cause.rawValue, default: 0] += 1
            if hostile { report.hostile.sealRejected += 1 }
            return nil
        }
    }

    /// A hostile packet sealed as its sender can: the configured daemon with the site's key,
    /// the others with a key of their own, claiming `claimed` as the sender.
    mutating func sealHostile(_ bytes: ByteBuffer, claimed: UInt32) -> ByteBuffer {
        let insider = config.hostile?.role == .configured
        if hostileSealers[claimed] == nil {
            hostileSealers[claimed] = DatagramSealer(
                me: claimed, incarnation: 1, keys: insider ? Self.siteKey : Self.attackerKey, members: sealMembers)
        }
        return hostileSealers[claimed]!.seal(bytes, channel: .ring, allocator: ByteBufferAllocator())
    }

    /// Who a hostile packet says it is from, as its seal says it.
    func claimedSender(_ packet: Packet) -> UInt32 {
        switch config.hostile?.role {
        case .configured: return UInt32(config.daemons)
        case .outsider: return UInt32(config.daemons + 1)
        default:
            switch packet {
            case .data(let data): return data.sender.rawValue
            case .join(let join): return join.sender.rawValue
            case .leave(let leave): return leave.sender.rawValue
            case .wake(let wake): return wake.sender.rawValue
            default: return site[0].rawValue
            }
        }
    }
}
