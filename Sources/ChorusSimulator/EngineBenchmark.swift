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

    private var engines: [Engine]
    private var sessions: [SessionID] = []
    private var deadlines: [[Instant?]]
    /// Packets in flight, oldest first from `head`.
    private var packets: [(to: Int, packet: Packet?)] = []
    private var head = 0
    private var now: Instant = 0
    private var actions: [EngineAction] = []
    private var delivered = 0

    private init(daemons count: Int) {
        let site = (1...count).map { NodeID(UInt32($0)) }
        engines = site.map { Engine(me: $0, site: site) }
        deadlines = [[Instant?]](repeating: [Instant?](repeating: nil, count: RingTimer.allCases.count), count: count)
        actions.reserveCapacity(1024)
        packets.reserveCapacity(1 << 16)
    }

    public static func run(daemons count: Int, messageSize: Int, service: Service, deliveries target: Int) -> Result {
        var bench = EngineBenchmark(daemons: count)
        return bench.measure(messageSize: messageSize, service: service, target: target)
    }

    private mutating func measure(messageSize: Int, service: Service, target: Int) -> Result {
        let count = engines.count
        let payload = ByteBuffer(repeating: 0x5A, count: messageSize)
        for index in 0..<count {
            engines[index].start(now: now, into: &actions)
            perform(index)
            sessions.append(engines[index].openSession(local: 1))
        }
        // Form the ring first; measure from the first moment every daemon is in it.
        while !engines.allSatisfy({ $0.ring.phase == .operational && $0.ring.members.count == count }) {
            guard step() else { break }
        }
        let groups = ["bench"]
        let startCPU = Self.cpuSeconds()
        let startDelivered = delivered
        while delivered - startDelivered < target {
            for index in 0..<count where engines[index].pendingMessages < 64 {
                for _ in 0..<64 {
                    _ = try? engines[index].send(
                        session: sessions[index], service: service, groups: groups, payload: payload, now: now,
                        into: &actions)
                }
                perform(index)
            }
            for _ in 0..<256 where step() {}
        }
        return Result(
            daemons: count, messageSize: messageSize, deliveries: delivered - startDelivered,
            cpuSeconds: Self.cpuSeconds() - startCPU)
    }

    /// Hands over one packet, or fires the next timer when nothing is in flight.
    private mutating func step() -> Bool {
        if head < packets.count {
            let to = packets[head].to
            let packet = packets[head].packet.take()!  // moved out: the hand-over retains nothing
            head += 1
            if head == packets.count {
                packets.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 4096, head * 2 >= packets.count {
                packets.removeFirst(head)
                head = 0
            }
            engines[to].receive(packet, now: now, into: &actions)
            perform(to)
            return true
        }
        var next: (index: Int, timer: RingTimer, deadline: Instant)?
        for index in engines.indices {
            for timer in RingTimer.allCases {
                if let deadline = deadlines[index][timer.rawValue], deadline < (next?.deadline ?? .max) {
                    next = (index, timer, deadline)
                }
            }
        }
        guard let next else { return false }
        now = max(now, next.deadline)
        deadlines[next.index][next.timer.rawValue] = nil
        engines[next.index].timerFired(next.timer, now: now, into: &actions)
        perform(next.index)
        return true
    }

    private mutating func perform(_ index: Int) {
        var batch: [EngineAction] = []
        swap(&batch, &actions)
        defer { swap(&batch, &actions) }
        batch.drain(leaving: .filler) { action in
            switch action {
            case .send(let packet, let destination):
                switch destination {
                case .node(let node): packets.append((Int(node.rawValue) - 1, packet))
                case .members(let nodes): for node in nodes { packets.append((Int(node.rawValue) - 1, packet)) }
                case .site: for other in engines.indices where other != index { packets.append((other, packet)) }
                }
            case .setTimer(let timer, let deadline): deadlines[index][timer.rawValue] = deadline
            case .deliver: delivered += 1
            default: break
            }
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
