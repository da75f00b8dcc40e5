import ChorusCore
import ChorusWire
import ChorusVerify
import NIOCore

/// Simulated clients and injected faults.
extension Simulation {
    mutating func generateTraffic(_ index: Int) {
        guard !daemons[index].sessions.isEmpty, !daemons[index].paused else { return }
        let session = daemons[index].sessions[random.int(below: daemons[index].sessions.count)]
        if random.chance(config.churn) {
            let group = "g\(random.int(below: config.groupCount))"
            let members = daemons[index].engine!.groups.members(of: group)
            withEngine(index) { engine, actions, now in
                if members.contains(session) {
                    try? engine.leave(session: session, group: group, now: now, into: &actions)
                } else {
                    try? engine.join(session: session, group: group, now: now, into: &actions)
                }
            }
            return
        }
        let service = pickService()
        var groups: [String] = []
        let targets = random.chance(0.2) ? 2 + random.int(below: 2) : 1
        for _ in 0..<targets {
            let group: String
            if random.chance(0.1), let other = randomSession() {
                group = other.privateGroup
            } else {
                group = "g\(random.int(below: config.groupCount))"
            }
            if !groups.contains(group) { groups.append(group) }
        }
        var size = random.int(in: config.minSize...max(config.minSize, config.maxSize))
        if random.chance(config.largeShare) { size = random.int(in: config.maxSize...max(config.maxSize, config.largeMaxSize)) }
        let payload = makePayload(size: size)
        let process = processID(index)
        let sendTime = now
        let logPosition = recorder.logLength(of: process)
        var sequence: UInt64?
        withEngine(index) { engine, actions, now in
            sequence = try? engine.send(
                session: session, service: service, groups: groups, selfDiscard: false, payload: payload, now: now,
                into: &actions)
        }
        if sequence == nil { report.refusedSends += 1 }
        if let sequence {
            // Logged before anything `send` caused: a singleton ring delivers inside it.
            let id = SimRecorder.messageID(session, sequence)
            recorder.submit(
                id, service: service, groups: groups, payload: payload, at: process, time: sendTime, logPosition: logPosition)
        }
    }

    mutating func randomSession() -> SessionID? {
        let index = random.int(below: daemons.count)
        guard daemons[index].engine != nil, !daemons[index].sessions.isEmpty else { return nil }
        return daemons[index].sessions[random.int(below: daemons[index].sessions.count)]
    }

    mutating func pickService() -> Service {
        let total = config.serviceMix.reduce(0, +)
        var point = random.unit() * total
        for (raw, weight) in config.serviceMix.enumerated() {
            if point < weight { return Service(rawValue: UInt8(raw))! }
            point -= weight
        }
        return .agreed
    }

    mutating func makePayload(size: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        var word = random.next()
        var remaining = size
        while remaining >= 8 {
            buffer.writeInteger(word)
            word = word &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            remaining -= 8
        }
        for _ in 0..<remaining { buffer.writeInteger(UInt8(truncatingIfNeeded: word >> 56)) }
        return buffer
    }

    /// A fault's end, no later than the start of quiescence (and never in the past).
    func beforeQuiescence(_ time: UInt64) -> UInt64 { max(now, min(time, faultEnd)) }

    mutating func injectFault() {
        let rates = [config.partitions, config.crashes, config.pauses, config.oneWayFailures]
        var point = random.unit() * rates.reduce(0, +)
        var kind = 0
        for (index, rate) in rates.enumerated() {
            if point < rate {
                kind = index
                break
            }
            point -= rate
        }
        switch kind {
        case 0:
            let components = 2 + random.int(below: 2)
            for index in network.component.indices { network.component[index] = random.int(below: components) }
            network.partitionEpoch += 1
            report.partitions += 1
            note("partition \(network.component)")
            let heal = now + Self.nanos(0.3 + random.unit() * 2.5)
            queue.push(.heal(epoch: network.partitionEpoch), at: beforeQuiescence(heal))
        case 1:
            let index = random.int(below: daemons.count)
            guard daemons[index].engine != nil else { return }
            crash(index)
            let restart = now + Self.nanos(0.5 + random.unit() * 1.5)
            queue.push(.restart(daemon: index), at: beforeQuiescence(restart))
        case 2:
            let index = random.int(below: daemons.count)
            guard daemons[index].engine != nil, !daemons[index].paused else { return }
            daemons[index].paused = true
            report.pauses += 1
            note("\(daemons[index].node) paused")
            let resume = now + Self.nanos(0.05 + random.unit() * 0.6)
            queue.push(.resume(daemon: index, incarnation: daemons[index].incarnation), at: beforeQuiescence(resume))
        default:
            guard daemons.count > 1 else { return }
            let from = random.int(below: daemons.count)
            var to = random.int(below: daemons.count - 1)
            if to >= from { to += 1 }
            network.blocked.insert(SimNetwork.Link(from: from, to: to))
            note("link d\(from + 1)->d\(to + 1) fails one way")
            let until = now + Self.nanos(0.5 + random.unit() * 1.5)
            queue.push(.unblock(from: from, to: to), at: beforeQuiescence(until))
        }
    }
}
