import ChorusCore
import ChorusWire
import NIOCore

/// Wiring of the hostile peer (`SimulationConfig.hostile`) into a run.
///
/// The peer sees every packet an honest daemon sends, takes a turn at exponentially spaced
/// instants drawn from the run's generator, and stops when quiescence starts. Its packets are
/// encoded and decoded like every other (they are codec-valid), reach their daemon after the
/// usual latency whatever the partitions (the peer is on every segment), and are counted.
extension Simulation {
    /// Whether daemon `index` is the hostile configured daemon, which never runs an engine.
    func isHostileSeat(_ index: Int) -> Bool {
        config.hostile?.role == .configured && index == config.daemons - 1
    }

    mutating func startHostile() {
        guard let hostile = config.hostile else { return }
        precondition(hostile.role != .configured || config.daemons >= 2, "a hostile configured daemon needs an honest one")
        self.hostile = HostilePeer(config: hostile, site: site)
        report.hadHostilePeer = true
        scheduleHostileTurn(after: Self.nanos(hostile.start))
    }

    private mutating func scheduleHostileTurn(after earliest: UInt64) {
        guard let hostile = config.hostile else { return }
        let next = max(now, earliest) + Self.nanos(random.exponential(rate: hostile.rate))
        if next < faultEnd { queue.push(.hostile, at: next) }
    }

    /// One turn: build one packet of a randomly chosen attack and send it.
    mutating func hostileTurn() {
        guard var peer = hostile.take(), !peer.stopped else { return }
        let attacks = peer.config.attacks
        let attack = attacks[random.int(below: attacks.count)]
        let kind = HostileConfig.Attack.allCases.firstIndex(of: attack)!
        if config.sealed, attack == .replay, !sealedSeen.isEmpty {
            // With keys on, a replay is a sealed datagram seen before, byte for byte.
            let bytes = sealedSeen[random.int(below: sealedSeen.count)]
            let to = peer.honest[random.int(below: peer.honest.count)]
            let index = Int(to.rawValue) - 1
            let delay = Self.nanos(config.latency + config.jitter * random.unit())
            queue.push(.arrive(daemon: index, incarnation: daemons[index].incarnation, .hostile(bytes, attack: kind)), at: now + delay)
            hostile = peer
            scheduleHostileTurn(after: now)
            return
        }
        for (packet, destination) in peer.build(attack, random: &random) {
            guard (try? PacketCodec.validate(packet)) != nil else {
                report.hostile.unbuildable += 1
                continue
            }
            var bytes = PacketCodec.encode(packet)
            if config.sealed { bytes = sealHostile(bytes, claimed: claimedSender(packet)) }
            let targets = destination.map { [$0] } ?? peer.honest
            for node in targets where peer.honest.contains(node) {
                let to = Int(node.rawValue) - 1
                let delay = Self.nanos(config.latency + config.jitter * random.unit())
                queue.push(.arrive(daemon: to, incarnation: daemons[to].incarnation, .hostile(bytes, attack: kind)), at: now + delay)
            }
        }
        hostile = peer
        scheduleHostileTurn(after: now)
    }

    /// The hostile peer stops for good (quiescence starts).
    mutating func stopHostile() {
        guard hostile != nil else { return }
        hostile!.stopped = true
        note("hostile peer stops")
    }

    /// Shows a packet an honest daemon sends to the hostile peer.
    mutating func observeForHostile(_ packet: Packet, from index: Int, to destination: Destination) {
        guard hostile != nil, !hostile!.stopped else { return }
        let to: NodeID? = if case .node(let node) = destination { node } else { nil }
        var peer = hostile.take()!
        peer.observe(packet, from: site[index], to: to, random: &random)
        hostile = peer
    }

    /// Delivers one hostile packet to an honest daemon and counts how it was taken.
    mutating func arriveHostile(_ index: Int, _ datagram: ByteBuffer, attack: Int) {
        var bytes = datagram
        if config.sealed {
            // Counted as injected whether or not the seal lets it through.
            report.hostile.injected[attack] += 1
            guard let opened = openIncoming(bytes, at: index, hostile: true) else { return }
            report.hostile.passedSeal[attack] += 1
            bytes = opened
        }
        guard let packet = try? PacketCodec.decode(bytes) else {
            report.decodeErrors += 1
            return
        }
        if !config.sealed { report.hostile.injected[attack] += 1 }
        // A replay is a real packet, and the daemon may keep it: the safe ground truth notes it.
        // Made-up data is not noted (its forged fragments would confuse the reassembly there).
        if config.check, attack == HostileConfig.Attack.allCases.firstIndex(of: .replay), case .data(let data) = packet {
            recorder.noteReceived(data, at: processID(index), time: now)
        }
        var acted = false
        withEngine(index) { engine, actions, now in
            engine.receive(packet, now: now, into: &actions)
            acted = !actions.isEmpty
        }
        if acted { report.hostile.actedOn += 1 } else { report.hostile.ignored += 1 }
        if acted, case .token(let token) = packet {
            // Tokens name no sender: one taken is an in-ring forgery (docs/hostile-peers.md).
            report.hostile.tokensTaken += 1
            note("\(site[index]) takes a hostile token (token seq \(token.tokenSeq), seq \(token.seq), aru \(token.aru))")
        }
    }
}
