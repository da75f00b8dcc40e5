import ChorusWire
import NIOCore

/// Random valid packets and group messages for round-trip and fuzz tests.
enum Gen {
    static let sampleNames = ["a", "chat", "#7#d2", "été", "群組", "🎉party", String(repeating: "x", count: 255)]

    static func ringID(_ rng: inout SplitMix64) -> RingID {
        RingID(seq: UInt64.random(in: 0...1_000_000, using: &rng), representative: NodeID(UInt32.random(in: 0...64, using: &rng)))
    }

    static func nodeSet(_ rng: inout SplitMix64, maxCount: Int) -> [NodeID] {
        let count = Int.random(in: 0...maxCount, using: &rng)
        let ids = Set((0..<count).map { _ in UInt32.random(in: 0...200, using: &rng) })
        return ids.sorted().map(NodeID.init)
    }

    static func session(_ rng: inout SplitMix64) -> SessionID {
        // Small numbers, and numbers from a start time in microseconds as the daemon gives them.
        let local = Bool.random(using: &rng) ? UInt64.random(in: 0...1000, using: &rng) : UInt64.random(in: 0...UInt64.max, using: &rng)
        return SessionID(daemon: NodeID(UInt32.random(in: 0...16, using: &rng)), local: local)
    }

    static func groupName(_ rng: inout SplitMix64) -> String {
        if rng.chance(0.5) { return sampleNames.randomElement(using: &rng)! }
        let length = Int.random(in: 1...20, using: &rng)
        return String((0..<length).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E, using: &rng))) })
    }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    static func groupMessage(_ rng: inout SplitMix64) -> GroupMessage {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:
            return .data(
                ClientData(
                    sender: session(&rng), sessionSeq: UInt64.random(in: 1...UInt64.max, using: &rng),
                    messageType: UInt16.random(in: 0...UInt16.max, using: &rng), selfDiscard: rng.chance(0.5),
                    groups: (0..<Int.random(in: 1...4, using: &rng)).map { _ in groupName(&rng) },
                    payload: buffer(rng.bytes(Int.random(in: 0...64, using: &rng)))
                )
            )
        case 1: return .join(session: session(&rng), group: groupName(&rng))
        case 2: return .leave(session: session(&rng), group: groupName(&rng))
        case 3: return .disconnect(session: session(&rng))
        case 4:
            let daemons = Set((0..<Int.random(in: 0...5, using: &rng)).map { _ in UInt32.random(in: 0...64, using: &rng) })
            return .siteDaemons(site: SiteID(UInt32.random(in: 0...8, using: &rng)), daemons: daemons.sorted().map(NodeID.init))
        default:
            let sessions = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                SessionMemberships(session: session(&rng), groups: (0..<Int.random(in: 0...3, using: &rng)).map { _ in groupName(&rng) })
            }
            return .state(
                daemon: NodeID(UInt32.random(in: 0...16, using: &rng)), configuration: ringID(&rng), sessions: sessions,
                more: Bool.random(using: &rng), firstSession: UInt64.random(in: 0...UInt64.max, using: &rng))
        }
    }

    static func dataPacket(_ rng: inout SplitMix64) -> DataPacket {
        let service = Service.allCases.randomElement(using: &rng)!
        let seq = service == .unreliable ? 0 : UInt64.random(in: 1...UInt64.max, using: &rng)
        let senderIndex = service == .unreliable ? UInt64.random(in: 0...3, using: &rng) : UInt64.random(in: 1...1000, using: &rng)
        let fragment = [FragmentKind.packed, .packed, .first, .middle, .last].randomElement(using: &rng)!
        var body = ByteBuffer()
        var messageCount: UInt16 = 1
        var totalLength: UInt32 = 0
        switch fragment {
        case .packed:
            messageCount = UInt16.random(in: 1...5, using: &rng)
            for _ in 0..<messageCount {
                if rng.chance(0.6) {
                    let message = groupMessage(&rng)
                    PackedBody.append(to: &body) { GroupMessageCodec.encode(message, into: &$0) }
                } else {
                    PackedBody.append(buffer(rng.bytes(Int.random(in: 0...30, using: &rng))), to: &body)
                }
            }
        case .first:
            body = buffer(rng.bytes(Int.random(in: 1...100, using: &rng)))
            totalLength = UInt32(body.readableBytes) + UInt32.random(in: 1...10_000, using: &rng)
        case .middle, .last:
            body = buffer(rng.bytes(Int.random(in: 1...100, using: &rng)))
        }
        if service != .unreliable, rng.chance(0.15) {
            // A recovery packet: the body is a whole encoded old-ring packet.
            let old = Packet.data(dataPacket(&rng))
            return DataPacket(
                ringID: ringID(&rng), sender: NodeID(UInt32.random(in: 0...64, using: &rng)), seq: seq,
                senderIndex: senderIndex, service: service, fragment: .packed, isRecovery: true, messageCount: 1,
                body: PacketCodec.encode(old)
            )
        }
        let causalPast = service == .causal ? UInt64.random(in: 0..<seq, using: &rng) : 0
        return DataPacket(
            ringID: ringID(&rng), sender: NodeID(UInt32.random(in: 0...64, using: &rng)), seq: seq, senderIndex: senderIndex,
            causalPast: causalPast, service: service, fragment: fragment,
            sentWhileHolding: service != .unreliable && rng.chance(0.2), messageCount: messageCount,
            totalLength: totalLength, body: body
        )
    }

    static func token(_ rng: inout SplitMix64) -> Token {
        let seq = UInt64.random(in: 0...5000, using: &rng)
        let aru = UInt64.random(in: 0...seq, using: &rng)
        let requests = seq == 0 ? [] : (0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt64.random(in: 1...seq, using: &rng) }
        return Token(
            ringID: ringID(&rng), tokenSeq: UInt64.random(in: 0...UInt64.max, using: &rng), seq: seq, aru: aru,
            aruID: rng.chance(0.5) ? NodeID(UInt32.random(in: 0...64, using: &rng)) : nil, retransmitRequests: requests,
            fcc: UInt32.random(in: 0...1000, using: &rng), backlog: UInt32.random(in: 0...1000, using: &rng),
            idleRotations: UInt32.random(in: 0...5, using: &rng), recoveryPending: UInt32.random(in: 0...5, using: &rng),
            barrierSeq: UInt64.random(in: 0...seq, using: &rng),
            aruSetter: rng.chance(0.5) ? NodeID(UInt32.random(in: 0...64, using: &rng)) : nil,
            stableSeq: UInt64.random(in: 0...aru, using: &rng)
        )
    }

    static func join(_ rng: inout SplitMix64) -> JoinMessage {
        let ring = ringID(&rng)
        return JoinMessage(
            sender: NodeID(UInt32.random(in: 0...64, using: &rng)), ringID: ring,
            maxRingSeq: ring.seq + UInt64.random(in: 0...10, using: &rng),
            procSet: nodeSet(&rng, maxCount: 12), failSet: nodeSet(&rng, maxCount: 4)
        )
    }

    static func commit(_ rng: inout SplitMix64) -> CommitToken {
        var members = nodeSet(&rng, maxCount: 10)
        if members.isEmpty { members = [NodeID(1)] }
        let infos = members.map { _ in
            rng.chance(0.3)
                ? CommitMemberInfo.empty
                : CommitMemberInfo(
                    oldRingID: ringID(&rng), myAru: UInt64.random(in: 0...100, using: &rng),
                    highSeq: UInt64.random(in: 0...200, using: &rng), stableSeq: UInt64.random(in: 0...50, using: &rng), filled: true,
                    committedSenders: rng.chance(0.2) ? nodeSet(&rng, maxCount: 4) : []
                )
        }
        return CommitToken(
            ringID: ringID(&rng), members: members, memberInfo: infos, rotation: UInt8.random(in: 1...2, using: &rng),
            position: UInt16.random(in: 0..<UInt16(members.count), using: &rng)
        )
    }

    static func packet(_ rng: inout SplitMix64) -> Packet {
        switch Int.random(in: 0..<9, using: &rng) {
        case 0, 1, 2: .data(dataPacket(&rng))
        case 3: .token(token(&rng))
        case 4: .join(join(&rng))
        case 5: .commit(commit(&rng))
        case 6: .leave(LeaveMessage(sender: NodeID(UInt32.random(in: 0...64, using: &rng)), ringID: ringID(&rng)))
        case 7: .wake(WakeMessage(sender: NodeID(UInt32.random(in: 0...64, using: &rng)), ringID: ringID(&rng)))
        default:
            .stable(StableMessage(
                sender: NodeID(UInt32.random(in: 0...64, using: &rng)), ringID: ringID(&rng),
                aru: UInt64.random(in: 1...UInt64.max, using: &rng), stableSeq: 0))
        }
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}
