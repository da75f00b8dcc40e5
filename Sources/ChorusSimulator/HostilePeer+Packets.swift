import ChorusCore
import ChorusWire
import NIOCore

/// The hostile peer's packet builders. Each returns packets with their destination (nil: every
/// honest daemon); only packets that pass `PacketCodec.validate` are sent.
extension HostilePeer {
    typealias Outgoing = (packet: Packet, to: NodeID?)

    mutating func build(_ attack: HostileConfig.Attack, random: inout SimRandom) -> [Outgoing] {
        switch attack {
        case .boundary: [boundaryPacket(random: &random)]
        case .replay: replay(random: &random)
        case .mutate: mutate(random: &random)
        case .forge: forge(random: &random)
        }
    }

    // MARK: Values at and near the limits

    /// A u64 at or near a limit: 0, 1, `current` ± 1, the log window's edges above it, the ring
    /// seq step and the plausibility bound ± 1, the type's maximum.
    static func boundary(near current: UInt64, random: inout SimRandom) -> UInt64 {
        let window = RingOptions().logWindow
        let step = Ring.maxRingSeqStep
        let limit = Ring.maxPlausibleRingSeq
        let values: [UInt64] = [
            0, 1, 2, current &- 1, current, current &+ 1, current &+ 2, current &+ window &- 1, current &+ window,
            current &+ window &+ 1, current &+ step &- 1, current &+ step, current &+ step &+ 1, limit - 1, limit,
            limit + 1, UInt64.max / 2, UInt64.max - 1, UInt64.max,
        ]
        return values[random.int(below: values.count)]
    }

    /// A u32 count at or near a limit.
    static func boundary32(near current: UInt32, random: inout SimRandom) -> UInt32 {
        let values: [UInt32] = [
            0, 1, 2, current &- 1, current, current &+ 1, UInt32(WireLimits.maxMembers) - 1,
            UInt32(WireLimits.maxMembers), UInt32(WireLimits.maxMembers) + 1, UInt32.max - 1, UInt32.max,
        ]
        return values[random.int(below: values.count)]
    }

    /// A daemon id at or near a limit. The outsider keeps to ids outside the site.
    func boundaryID(random: inout SimRandom) -> NodeID {
        let n = UInt32(site.count)
        let values: [UInt32] =
            config.role == .outsider ? [0, n + 1, n + 2, UInt32.max - 1, UInt32.max] : [0, 1, n - 1, n, n + 1, UInt32.max]
        return NodeID(values[random.int(below: values.count)])
    }

    /// An id set at a limit: empty, the site, the site and more, or `maxMembers` ids.
    func boundarySet(random: inout SimRandom) -> [NodeID] {
        switch random.int(below: 5) {
        case 0: []
        case 1: site
        case 2: Array(Set(site + [ownID, NodeID(0), NodeID(UInt32.max)])).sorted()
        case 3: (1...UInt32(WireLimits.maxMembers)).map(NodeID.init)
        default: members.isEmpty ? [ownID] : members
        }
    }

    /// The current ring (so the packet reaches deep into the protocol) or a boundary ring id.
    func ringID(random: inout SimRandom) -> RingID {
        guard random.chance(0.3) else { return ring }
        return RingID(seq: Self.boundary(near: ring.seq, random: &random), representative: boundaryID(random: &random))
    }

    mutating func boundarySender(random: inout SimRandom) -> NodeID {
        config.role == .outsider && random.chance(0.5) ? boundaryID(random: &random) : senderID(random: &random)
    }

    // MARK: Boundary packets

    mutating func boundaryPacket(random: inout SimRandom) -> Outgoing {
        switch random.int(below: 7) {
        case 0:
            return (.data(boundaryData(random: &random)), nil)
        case 1:
            return (.token(boundaryToken(random: &random)), random.chance(0.5) ? nextHolder : nil)
        case 2:
            let id = ringID(random: &random)
            let maxRingSeq = max(id.seq, Self.boundary(near: ring.seq, random: &random))
            let join = JoinMessage(
                sender: boundarySender(random: &random), ringID: id, maxRingSeq: maxRingSeq,
                procSet: boundarySet(random: &random), failSet: boundarySet(random: &random))
            return (.join(join), nil)
        case 3:
            return boundaryCommit(random: &random)
        case 4:
            return (.leave(LeaveMessage(sender: boundarySender(random: &random), ringID: ringID(random: &random))), nil)
        case 5:
            return (.wake(WakeMessage(sender: boundarySender(random: &random), ringID: ringID(random: &random))), nil)
        default:
            var stable = StableMessage(
                sender: boundarySender(random: &random), ringID: ringID(random: &random),
                aru: Self.boundary(near: highestSeq, random: &random), stableSeq: 0)
            if random.chance(0.5) { stable.stableSeq = stable.aru }
            return (.stable(stable), nil)
        }
    }

    mutating func boundaryData(random: inout SimRandom) -> DataPacket {
        let service = Service(rawValue: UInt8(random.int(below: 6)))!
        var seq = service == .unreliable ? 0 : max(1, Self.boundary(near: highestSeq, random: &random))
        if service != .unreliable, random.chance(0.5) { seq = max(1, highestSeq &+ UInt64(random.int(below: 3))) }
        var packet = dataPacket(seq: seq, service: service, random: &random)
        packet.ringID = ringID(random: &random)
        packet.sender = boundarySender(random: &random)
        packet.senderIndex = max(1, Self.boundary(near: 1, random: &random))
        if service == .causal { packet.causalPast = random.chance(0.5) ? 0 : seq - 1 }
        switch random.int(below: 4) {
        case 0:
            packet.fragment = .first
            let totals = [packet.body.readableBytes + 1, WireLimits.maxMessageSize - 1, WireLimits.maxMessageSize]
            packet.totalLength = UInt32(totals[random.int(below: totals.count)])
        case 1: packet.fragment = .middle
        case 2: packet.fragment = .last
        default: break
        }
        if packet.fragment != .packed { packet.body = ByteBuffer(string: "hostile fragment") }
        return packet
    }

    mutating func boundaryToken(random: inout SimRandom) -> Token {
        let seq = Self.boundary(near: highestSeq, random: &random)
        var requests: [UInt64] = []
        if seq > 0 {
            switch random.int(below: 4) {
            case 0: requests = [1, seq]
            case 1: requests = Array(repeating: seq, count: WireLimits.maxRetransmitRequests)
            case 2: requests = (0..<3).map { _ in 1 + Self.boundary(near: highestSeq, random: &random) % seq }
            default: break
            }
        }
        return Token(
            ringID: ringID(random: &random),
            tokenSeq: Self.boundary(near: lastToken?.tokenSeq ?? 1, random: &random),
            seq: seq, aru: min(seq, Self.boundary(near: highestSeq, random: &random)),
            aruID: random.chance(0.5) ? nil : boundaryID(random: &random), retransmitRequests: requests,
            fcc: Self.boundary32(near: 200, random: &random), backlog: Self.boundary32(near: 0, random: &random),
            idleRotations: Self.boundary32(near: 2, random: &random),
            recoveryPending: Self.boundary32(near: UInt32(members.count), random: &random),
            barrierSeq: min(seq, Self.boundary(near: highestSeq, random: &random)))
    }

    mutating func boundaryCommit(random: inout SimRandom) -> Outgoing {
        var list = boundarySet(random: &random)
        if list.isEmpty { list = [ownID] }
        let seq = Self.boundary(near: ring.seq &+ 1, random: &random)
        let info = list.map { _ in
            CommitMemberInfo(
                oldRingID: random.chance(0.5) ? ring : RingID(seq: seq, representative: list[0]),
                myAru: Self.boundary(near: highestSeq, random: &random),
                highSeq: Self.boundary(near: highestSeq, random: &random),
                stableSeq: Self.boundary(near: highestSeq, random: &random), filled: random.chance(0.7))
        }
        let position = [0, 1, list.count - 1][random.int(below: 3)] % list.count
        let commit = CommitToken(
            ringID: RingID(seq: seq, representative: list[0]), members: list, memberInfo: info,
            rotation: UInt8(1 + random.int(below: 2)), position: UInt16(position))
        let to = honest.contains(list[position]) ? list[position] : nil
        return (.commit(commit), to)
    }

    /// Where the token goes next: the successor of its last observed receiver.
    var nextHolder: NodeID? {
        guard let last = lastTokenTo, let index = members.firstIndex(of: last) else { return nil }
        return members[(index + 1) % members.count]
    }

    /// A data packet of the current ring: a real group message seen earlier when there is one.
    mutating func dataPacket(seq: UInt64, service: Service, random: inout SimRandom) -> DataPacket {
        if var sample = sampleBody, sample.service == service || random.chance(0.5) {
            sample.seq = service == .unreliable ? 0 : seq
            sample.service = service
            sample.causalPast = 0
            return sample
        }
        var body = ByteBuffer()
        PackedBody.append(ByteBuffer(string: "hostile"), to: &body)
        return DataPacket(
            ringID: ring, sender: ownID, seq: seq, senderIndex: 1, service: service, fragment: .packed,
            messageCount: 1, body: body)
    }

    // MARK: Replays and mutations

    mutating func replay(random: inout SimRandom) -> [Outgoing] {
        let pool = random.chance(0.7) ? old : recent
        guard !pool.isEmpty else { return [] }
        let seen = pool[random.int(below: pool.count)]
        return [(seen.packet, random.chance(0.5) ? seen.to : nil)]
    }

    mutating func mutate(random: inout SimRandom) -> [Outgoing] {
        guard !recent.isEmpty else { return [] }
        let seen = recent[random.int(below: recent.count)]
        let field = random.int(below: 4)
        switch seen.packet {
        case .data(var data):
            data.sender = senderID(random: &random)
            switch field {
            case 0: data.seq = data.seq == 0 ? 0 : max(1, Self.boundary(near: data.seq, random: &random))
            case 1: data.senderIndex = max(1, Self.boundary(near: data.senderIndex, random: &random))
            case 2: data.ringID = ringID(random: &random)
            default: if data.service == .causal, data.seq > 1 { data.causalPast = data.seq - 1 }
            }
            return [(.data(data), seen.to)]
        case .token(var token):
            switch field {
            case 0: token.tokenSeq = Self.boundary(near: token.tokenSeq, random: &random)
            case 1:
                token.seq = Self.boundary(near: token.seq, random: &random)
                token.aru = min(token.aru, token.seq)
                token.stableSeq = min(token.stableSeq, token.aru)
                token.barrierSeq = min(token.barrierSeq, token.seq)
                token.retransmitRequests = token.retransmitRequests.filter { $0 <= token.seq }
            case 2:
                token.aru = min(token.seq, Self.boundary(near: token.aru, random: &random))
                token.stableSeq = min(token.stableSeq, token.aru)
            default: token.recoveryPending = Self.boundary32(near: token.recoveryPending, random: &random)
            }
            return [(.token(token), seen.to)]
        case .join(var join):
            join.sender = senderID(random: &random)
            switch field {
            case 0: join.maxRingSeq = max(join.ringID.seq, Self.boundary(near: join.maxRingSeq, random: &random))
            case 1: join.procSet = boundarySet(random: &random)
            case 2: join.failSet = boundarySet(random: &random)
            default: join.ringID = RingID(seq: min(join.maxRingSeq, join.ringID.seq &+ 1), representative: join.sender)
            }
            return [(.join(join), seen.to)]
        case .commit(var commit):
            switch field {
            case 0: commit.ringID.seq = Self.boundary(near: commit.ringID.seq, random: &random)
            case 1: commit.rotation = commit.rotation == 1 ? 2 : 1
            case 2:
                for index in commit.memberInfo.indices {
                    commit.memberInfo[index].highSeq = Self.boundary(near: commit.memberInfo[index].highSeq, random: &random)
                }
            default: commit.position = UInt16(random.int(below: commit.members.count))
            }
            let to = commit.members[Int(commit.position)]
            return [(.commit(commit), honest.contains(to) ? to : nil)]
        case .leave(var leave):
            leave.sender = senderID(random: &random)
            return [(.leave(leave), nil)]
        case .wake(var wake):
            wake.sender = senderID(random: &random)
            return [(.wake(wake), nil)]
        case .stable(var stable):
            stable.sender = senderID(random: &random)
            if field == 0 {
                stable.aru = Self.boundary(near: stable.aru, random: &random)
                stable.stableSeq = min(stable.stableSeq, stable.aru)
            }
            return [(.stable(stable), nil)]
        }
    }

    // MARK: Forgeries of the current ring

    mutating func forge(random: inout SimRandom) -> [Outgoing] {
        guard ring != .none else { return [] }
        let point = random.int(below: 10)
        switch point {
        case 0...3:
            // The next token, one pass ahead of the real one, claiming everything is received.
            guard var token = lastToken, let next = nextHolder else { return [] }
            token.tokenSeq &+= 1
            if random.chance(0.5) { token.aru = token.seq }
            token.aruID = nil
            token.retransmitRequests = []
            return [(.token(token), next)]
        case 4...5:
            // Data at the next seqs, under a sender of the role.
            let service = Service(rawValue: UInt8(1 + random.int(below: 5)))!
            var packet = dataPacket(seq: max(1, highestSeq &+ 1 &+ UInt64(random.int(below: 3))), service: service, random: &random)
            packet.sender = senderID(random: &random)
            packet.senderIndex = 1 + UInt64(random.int(below: 1000))
            if service == .causal { packet.causalPast = packet.seq &- 1 }
            return [(.data(packet), nil)]
        case 6...7:
            // A join of the current ring, sometimes failing an honest member or far ahead.
            let sender = senderID(random: &random)
            let steps: [UInt64] = [0, 1, Ring.maxRingSeqStep, Ring.maxRingSeqStep + 1]
            var fail: [NodeID] = []
            if random.chance(0.5), let victim = members.filter({ $0 != sender }).randomElement(using: &random) {
                fail = [victim]
            }
            let proc = Array(Set((members.isEmpty ? honest : members) + [sender])).sorted()
            let join = JoinMessage(
                sender: sender, ringID: ring, maxRingSeq: ring.seq &+ steps[random.int(below: steps.count)],
                procSet: proc, failSet: fail.filter { proc.contains($0) })
            return [(.join(join), nil)]
        case 8:
            return [forgedCommit(random: &random)]
        default:
            return [(.leave(LeaveMessage(sender: senderID(random: &random), ringID: ring)), nil)]
        }
    }

    /// A commit token for the next ring of the current members, filled with plausible entries.
    mutating func forgedCommit(random: inout SimRandom) -> Outgoing {
        var list = members.isEmpty ? honest : members
        if config.role == .configured, random.chance(0.5) { list = Array(Set(list + [ownID])).sorted() }
        let entry = CommitMemberInfo(
            oldRingID: ring, myAru: highestSeq, highSeq: highestSeq, stableSeq: highestSeq, filled: true)
        let position = random.int(below: list.count)
        let commit = CommitToken(
            ringID: RingID(seq: ring.seq &+ 1, representative: list[0]), members: list,
            memberInfo: Array(repeating: entry, count: list.count), rotation: UInt8(1 + random.int(below: 2)),
            position: UInt16(position))
        return (.commit(commit), honest.contains(list[position]) ? list[position] : nil)
    }
}
