import ChorusCore
import ChorusWire
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures the engine alone: N engines wired back to back, packets handed over in send order
/// with no codec, no event heap and no checkers, time advanced only to fire due timers.
/// Every daemon's sender keeps its queue topped up, so the ring runs flat out.
public struct EngineBenchmark {
    public struct Result: Sendable {
        public var daemons: Int
        public var messageSize: Int
        public var deliveries: Int
        public var cpuSeconds: Double
        public var deliveriesPerCPUSecond: Double { Double(deliveries) / cpuSeconds }
    }

    public static func run(daemons count: Int, messageSize: Int, service: Service, deliveries target: Int) -> Result {
        let site = (1...count).map { NodeID(UInt32($0)) }
        var engines = site.map { Engine(me: $0, site: site) }
        var sessions: [SessionID] = []
        var deadlines = [[Instant?]](
            repeating: [Instant?](repeating: nil, count: RingTimer.allCases.count), count: count)
        var packets: [(to: Int, packet: Packet)] = []
        var head = 0
        var now: Instant = 0
        var actions: [EngineAction] = []
        var delivered = 0
        let payload = ByteBuffer(repeating: 0x5A, count: messageSize)

        func perform(_ index: Int) {
            for action in actions {
                switch action {
                case .send(let packet, let destination):
                    switch destination {
                    case .node(let node): packets.append((Int(node.rawValue) - 1, packet))
                    case .members(let nodes): for node in nodes { packets.append((Int(node.rawValue) - 1, packet)) }
                    case .site: for other in 0..<count where other != index { packets.append((other, packet)) }
                    }
                case .setTimer(let timer, let deadline): deadlines[index][timer.rawValue] = deadline
                case .deliver: delivered += 1
                default: break
                }
            }
            actions.removeAll(keepingCapacity: true)
        }

        for index in 0..<count {
            engines[index].start(now: now, into: &actions)
            perform(index)
            sessions.append(engines[index].openSession(local: 1))
        }
        var started = false
        var startCPU = 0.0
        var startDelivered = 0
        while delivered - startDelivered < target || !started {
            if !started, engines.allSatisfy({ $0.ring.phase == .operational && $0.ring.members.count == count }) {
                started = true
                startCPU = cpuSeconds()
                startDelivered = delivered
            }
            if started {
                for index in 0..<count where engines[index].pendingMessages < 64 {
                    for _ in 0..<64 {
                        _ = try? engines[index].send(
                            session: sessions[index], service: service, groups: ["bench"], payload: payload, now: now,
                            into: &actions)
                    }
                    perform(index)
                }
            }
            if head < packets.count {
                let (to, packet) = packets[head]
                head += 1
                if head > 4096, head * 2 > packets.count {
                    packets.removeFirst(head)
                    head = 0
                }
                engines[to].receive(packet, now: now, into: &actions)
                perform(to)
                continue
            }
            // Nothing in flight: advance the clock to the next timer.
            var next: (Int, RingTimer, Instant)?
            for index in 0..<count {
                for timer in RingTimer.allCases {
                    if let deadline = deadlines[index][timer.rawValue], deadline < (next?.2 ?? .max) {
                        next = (index, timer, deadline)
                    }
                }
            }
            guard let (index, timer, deadline) = next else { break }
            now = max(now, deadline)
            deadlines[index][timer.rawValue] = nil
            engines[index].timerFired(timer, now: now, into: &actions)
            perform(index)
        }
        return Result(
            daemons: count, messageSize: messageSize, deliveries: delivered - startDelivered,
            cpuSeconds: cpuSeconds() - startCPU)
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
