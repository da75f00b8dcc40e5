import ChorusCore
import ChorusWire

/// The virtual network's shape: partition components and one-way failed links.
struct SimNetwork {
    struct Link: Hashable {
        var from: Int
        var to: Int
    }

    /// Component of each daemon; packets only travel inside a component.
    var component: [Int]
    var blocked: Set<Link> = []
    var partitionEpoch = 0

    init(daemons: Int) {
        component = [Int](repeating: 0, count: daemons)
    }

    func reachable(from: Int, to: Int) -> Bool {
        from == to || (component[from] == component[to] && (blocked.isEmpty || !blocked.contains(Link(from: from, to: to))))
    }

    mutating func heal() {
        for index in component.indices { component[index] = 0 }
        partitionEpoch += 1
    }
}

extension Simulation {
    mutating func send(_ packet: Packet, from index: Int, to destination: Destination) {
        if hostile != nil { observeForHostile(packet, from: index, to: destination) }
        let inFlight: InFlight =
            config.sealed ? .bytes(sealOutgoing(packet, from: index)) : config.useCodec ? .bytes(PacketCodec.encode(packet)) : .packet(packet)
        switch destination {
        case .node(let node):
            transmit(inFlight, from: index, to: Int(node.rawValue) - 1)
        case .members(let nodes):
            for node in nodes { transmit(inFlight, from: index, to: Int(node.rawValue) - 1) }
        case .site:
            for target in daemons.indices where target != index { transmit(inFlight, from: index, to: target) }
        }
    }

    mutating func transmit(_ inFlight: InFlight, from: Int, to: Int) {
        guard to >= 0, to < daemons.count else { return }
        if from == to {
            queue.push(.arrive(daemon: to, incarnation: daemons[to].incarnation, inFlight), at: now + 1_000)
            return
        }
        // Loss, duplication and reordering are faults too: they stop when quiescence starts.
        let faulty = now < faultEnd
        guard network.reachable(from: from, to: to), !(faulty && random.chance(config.loss)) else {
            report.packetsDropped += 1
            return
        }
        let copies = faulty && random.chance(config.duplicate) ? 2 : 1
        for _ in 0..<copies {
            var delay = config.latency + config.jitter * random.unit()
            if faulty, random.chance(config.reorder) { delay += config.latency * 20 * random.unit() }
            queue.push(.arrive(daemon: to, incarnation: daemons[to].incarnation, inFlight), at: now + Self.nanos(delay))
        }
    }

    mutating func arrive(_ index: Int, incarnation: UInt32, _ inFlight: InFlight) {
        guard daemons[index].incarnation == incarnation, daemons[index].engine != nil else { return }
        if daemons[index].paused {
            // A stopped process's socket buffer holds packets, up to a limit.
            if daemons[index].buffered.count < 2_000 { daemons[index].buffered.append(inFlight) }
            return
        }
        let packet: Packet
        switch inFlight {
        case .hostile(let bytes, let attack):
            arriveHostile(index, bytes, attack: attack)
            return
        case .packet(let value):
            packet = value
        case .bytes(let sealedOrPlain):
            var bytes = sealedOrPlain
            if config.sealed {
                guard let opened = openIncoming(bytes, at: index, hostile: false) else { return }
                bytes = opened
            }
            guard let decoded = try? PacketCodec.decode(bytes) else {
                report.decodeErrors += 1
                return
            }
            packet = decoded
        }
        if config.check, case .data(let data) = packet { recorder.noteReceived(data, at: processID(index), time: now) }
        withEngine(index) { engine, actions, now in engine.receive(packet, now: now, into: &actions) }
    }
}
