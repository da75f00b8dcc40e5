import ChorusCore
import ChorusSeal
import ChorusVerify
import ChorusWire
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Real (not virtual) seconds on the monotonic clock, to report how long a run took.
func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Runs 1 to 64 engines in one process on a virtual clock and a faulty virtual network.
///
/// Every random choice (latency, loss, traffic, faults) comes from one generator seeded by
/// `config.seed`, and events at the same instant run in insertion order, so the same seed
/// replays the same run exactly.
public struct Simulation {
    enum InFlight {
        case bytes(ByteBuffer)
        case packet(Packet)
        /// From the hostile peer; `attack` indexes `HostileConfig.Attack.allCases`.
        case hostile(ByteBuffer, attack: Int)
    }

    enum Event {
        case arrive(daemon: Int, incarnation: UInt32, InFlight)
        case timer(daemon: Int, incarnation: UInt32, RingTimer)
        case traffic(daemon: Int, incarnation: UInt32)
        case fault
        case heal(epoch: Int)
        case restart(daemon: Int)
        case resume(daemon: Int, incarnation: UInt32)
        case unblock(from: Int, to: Int)
        case quiesce
        case hostile

        var kindIndex: Int {
            switch self {
            case .arrive: 0
            case .timer: 1
            case .traffic: 2
            default: 3
            }
        }
    }

    public let config: SimulationConfig
    var random: SimRandom
    var queue = EventQueue<Event>()
    var now: UInt64 = 0
    var daemons: [SimDaemon] = []
    var network: SimNetwork
    var recorder: SimRecorder
    var report: SimulationReport
    var actions: [EngineAction] = []
    /// The hostile peer, when `config.hostile` asks for one.
    var hostile: HostilePeer?
    /// With `config.sealed`: each daemon's sealer, the hostile peer's (per claimed sender), and
    /// sealed datagrams seen on the network (for replays).
    var sealers: [Int: DatagramSealer] = [:]
    var hostileSealers: [UInt32: DatagramSealer] = [:]
    var sealedSeen: [ByteBuffer] = []
    let site: [NodeID]
    let faultEnd: UInt64
    let trafficEnd: UInt64
    let endTime: UInt64

    public init(config: SimulationConfig) {
        precondition((1...64).contains(config.daemons), "1 to 64 daemons")
        self.config = config
        self.random = SimRandom(seed: config.seed)
        self.site = (1...config.daemons).map { NodeID(UInt32($0)) }
        self.network = SimNetwork(daemons: config.daemons)
        self.recorder = SimRecorder(recording: config.check)
        self.report = SimulationReport(seed: config.seed, daemons: config.daemons, virtualSeconds: config.duration)
        self.endTime = Self.nanos(config.duration)
        self.faultEnd = Self.nanos(max(0, config.duration - config.quiescence))
        self.trafficEnd = Self.nanos(max(0, config.duration - 1))
        actions.reserveCapacity(256)
    }

    /// Virtual nanoseconds; an infinite delay (a rate of zero) becomes "never".
    static func nanos(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite else { return UInt64.max / 2 }
        return UInt64(max(0, seconds) * 1e9)
    }

    /// Runs to the end and checks the history. `progress` is called about every virtual second.
    public mutating func run(progress: ((Double) -> Void)? = nil) -> SimulationReport {
        let started = monotonicSeconds()
        for index in 0..<config.daemons {
            daemons.append(SimDaemon(node: site[index]))
            if !isHostileSeat(index) { boot(index) }
        }
        startHostile()
        let faultRate = config.partitions + config.crashes + config.pauses + config.oneWayFailures
        let firstFault = Self.nanos(random.exponential(rate: faultRate))
        if faultRate > 0, firstFault < faultEnd { queue.push(.fault, at: firstFault) }
        queue.push(.quiesce, at: faultEnd)
        var nextProgress: UInt64 = 1_000_000_000
        var events = 0
        var eventKinds = [0, 0, 0, 0]
        while let (time, event) = queue.pop(), time <= endTime {
            precondition(time >= now, "virtual time went back from \(now) to \(time)")
            now = time
            handle(event)
            events += 1
            eventKinds[event.kindIndex] += 1
            // A healthy run needs far fewer events; more means something spins (a livelock).
            if events > config.maxEventsPerSecond * (Int(now / 1_000_000_000) + 1) {
                report.aborted = "event storm: \(events) events by virtual \(Double(now / 1_000_000) / 1000) s "
                    + "(arrive, timer, traffic, other: \(eventKinds)); queue \(queue.count)"
                break
            }
            if let progress, now >= nextProgress {
                nextProgress += 1_000_000_000
                progress(Double(now) / 1e9)
            }
        }
        now = endTime
        finishReport()
        report.realSeconds = monotonicSeconds() - started
        return report
    }

    /// The recorded history (after `run`).
    public var history: History { recorder.history }

    // MARK: Events

    mutating func handle(_ event: Event) {
        switch event {
        case .arrive(let index, let incarnation, let inFlight):
            arrive(index, incarnation: incarnation, inFlight)
        case .timer(let index, let incarnation, let timer):
            fireTimer(index, incarnation: incarnation, timer)
        case .traffic(let index, let incarnation):
            guard daemons[index].incarnation == incarnation, daemons[index].engine != nil else { return }
            generateTraffic(index)
            let delay = Self.nanos(random.exponential(rate: config.messageRate))
            if now + delay < trafficEnd { queue.push(.traffic(daemon: index, incarnation: incarnation), at: now + delay) }
        case .fault:
            injectFault()
            let rate = config.partitions + config.crashes + config.pauses + config.oneWayFailures
            let next = now + Self.nanos(random.exponential(rate: rate))
            if next < faultEnd { queue.push(.fault, at: next) }
        case .heal(let epoch):
            if network.partitionEpoch == epoch {
                network.heal()
                note("network healed")
            }
        case .restart(let index):
            if daemons[index].engine == nil, !isHostileSeat(index) { boot(index) }
        case .resume(let index, let incarnation):
            resume(index, incarnation: incarnation)
        case .unblock(let from, let to):
            network.blocked.remove(SimNetwork.Link(from: from, to: to))
        case .hostile:
            hostileTurn()
        case .quiesce:
            stopHostile()
            network.heal()
            network.blocked.removeAll()
            for index in daemons.indices where !isHostileSeat(index) {
                if daemons[index].engine == nil { boot(index) }
                if daemons[index].paused { resume(index, incarnation: daemons[index].incarnation) }
            }
            recorder.history.quiescentFrom = now
            note("quiescent: faults stop, network whole")
        }
    }

    // MARK: Daemons

    mutating func boot(_ index: Int) {
        var daemon = daemons[index]
        daemon.incarnation += 1
        daemon.engine = Engine(
            me: daemon.node, site: site, ringOptions: config.ringOptions, ringSeqFloor: daemon.persistedRingSeq + 1,
            firstSession: UInt64(daemon.incarnation) * 1000 + 1)
        daemon.paused = false
        daemon.buffered = []
        daemon.timerDeadline = [UInt64?](repeating: nil, count: RingTimer.allCases.count)
        daemon.timerScheduled = [UInt64?](repeating: nil, count: RingTimer.allCases.count)
        daemon.sessions = []
        daemons[index] = daemon
        if config.sealed { bootSealer(index) }
        recorder.startProcess(processID(index))
        if daemon.incarnation > 1 { note("\(daemon.node) restarts as incarnation \(daemon.incarnation)") }
        withEngine(index) { engine, actions, now in engine.start(now: now, into: &actions) }
        // Sessions join a group or two.
        for _ in 0..<config.sessionsPerDaemon {
            let local = UInt64(daemons[index].incarnation) * 1000 + UInt64(daemons[index].sessions.count + 1)
            let session = daemons[index].engine!.openSession(local: local, name: "s\(local)")
            daemons[index].sessions.append(session)
            let groups = Set((0..<(1 + random.int(below: 2))).map { _ in "g\(random.int(below: config.groupCount))" })
            for group in groups.sorted() {
                withEngine(index) { engine, actions, now in try? engine.join(session: session, group: group, now: now, into: &actions) }
            }
        }
        if config.messageRate > 0 {
            let delay = Self.nanos(random.exponential(rate: config.messageRate))
            if now + delay < trafficEnd {
                queue.push(.traffic(daemon: index, incarnation: daemons[index].incarnation), at: now + delay)
            }
        }
    }

    mutating func crash(_ index: Int) {
        guard let engine = daemons[index].engine else { return }
        daemons[index].persistedRingSeq = engine.ring.highestRingSeq
        accumulate(engine.ring.counters)
        daemons[index].engine = nil
        recorder.crash(processID(index), at: now)
        report.crashes += 1
        note("\(daemons[index].node) crashes")
    }

    mutating func resume(_ index: Int, incarnation: UInt32) {
        guard daemons[index].incarnation == incarnation, daemons[index].paused else { return }
        daemons[index].paused = false
        note("\(daemons[index].node) resumes")
        for timer in RingTimer.allCases {
            if let deadline = daemons[index].timerDeadline[timer.rawValue], deadline <= now {
                scheduleTimer(index, timer, at: now)
            }
        }
        let buffered = daemons[index].buffered
        daemons[index].buffered = []
        for packet in buffered { arrive(index, incarnation: incarnation, packet) }
    }

    func processID(_ index: Int) -> ProcessID {
        ProcessID(daemon: daemons[index].node.rawValue, incarnation: daemons[index].incarnation)
    }

    /// Runs one engine input and performs the actions it returns.
    mutating func withEngine(_ index: Int, _ body: (inout Engine, inout [EngineAction], UInt64) -> Void) {
        guard daemons[index].engine != nil else { return }
        actions.removeAll(keepingCapacity: true)
        // In place: moving the engine out and back copied and retained all of it every event.
        body(&daemons[index].engine!, &actions, now)
        perform(index)
    }

    mutating func perform(_ index: Int) {
        let process = processID(index)
        for action in actions {
            switch action {
            case .send(let packet, let destination):
                send(packet, from: index, to: destination)
            case .setTimer(let timer, let deadline):
                daemons[index].timerDeadline[timer.rawValue] = deadline
                scheduleTimer(index, timer, at: deadline)
            case .configuration(let configuration):
                recordConfiguration(configuration, at: index)
            case .deliver(let delivery):
                report.delivered[Int(delivery.service.rawValue)] += 1
                if let submitted = recorder.deliver(delivery, at: process, time: now), submitted <= now {
                    report.latency.record(now - submitted)
                    report.serviceLatency[Int(delivery.service.rawValue)].record(now - submitted)
                }
            case .view(let view):
                recorder.view(view, at: process, time: now)
            case .decodeError:
                report.decodeErrors += 1
            case .wideArea:
                break  // one site: no wide area
            }
        }
        actions.removeAll(keepingCapacity: true)
    }

    mutating func recordConfiguration(_ configuration: RingConfiguration, at index: Int) {
        let members = configuration.members.map { node in
            ProcessID(daemon: node.rawValue, incarnation: daemons[Int(node.rawValue) - 1].incarnation)
        }
        recorder.configuration(configuration, members: members, at: processID(index), time: now)
        if configuration.kind == .regular {
            note("\(daemons[index].node) installs \(configuration.ringID) \(configuration.members)")
        }
    }

    mutating func scheduleTimer(_ index: Int, _ timer: RingTimer, at deadline: UInt64) {
        if let scheduled = daemons[index].timerScheduled[timer.rawValue], scheduled <= deadline { return }
        daemons[index].timerScheduled[timer.rawValue] = deadline
        queue.push(.timer(daemon: index, incarnation: daemons[index].incarnation, timer), at: deadline)
    }

    mutating func fireTimer(_ index: Int, incarnation: UInt32, _ timer: RingTimer) {
        guard daemons[index].incarnation == incarnation, daemons[index].engine != nil else { return }
        daemons[index].timerScheduled[timer.rawValue] = nil
        guard let deadline = daemons[index].timerDeadline[timer.rawValue] else { return }
        if deadline > now {
            scheduleTimer(index, timer, at: deadline)
            return
        }
        if daemons[index].paused { return }  // fires on resume
        daemons[index].timerDeadline[timer.rawValue] = nil
        withEngine(index) { engine, actions, now in engine.timerFired(timer, now: now, into: &actions) }
    }


    mutating func note(_ text: String) {
        report.trace.append("\(Double(now / 1_000_000) / 1000)s \(text)")
        if report.trace.count > 400 { report.trace.removeFirst(200) }
    }

    mutating func accumulate(_ counters: RingCounters) {
        report.retransmissions += counters.retransmissions
        report.tokenLosses += counters.tokenLosses
        report.packetsSent += counters.packetsSent
    }

    mutating func finishReport() {
        for daemon in daemons {
            if let engine = daemon.engine { accumulate(engine.ring.counters) }
        }
        report.configurationsInstalled = recorder.regularConfigurations
        report.submitted = recorder.submittedByService
        recorder.history.endTime = endTime
        recorder.history.aliveAtEnd = Set(daemons.indices.filter { daemons[$0].engine != nil }.map(processID))
        recorder.finish()
        if config.check, report.aborted == nil {
            var options = CheckOptions()
            options.livenessBound = Self.nanos(config.livenessBound)
            options.deliveryGrace = Self.nanos(config.deliveryGrace)
            report.violations = Checkers.checkAll(recorder.history, options: options)
            report.exercise = Checkers.exercise(recorder.history, options: options)
        }
    }
}

/// One simulated daemon: its engine (nil while crashed) and what survives a crash.
struct SimDaemon {
    let node: NodeID
    var incarnation: UInt32 = 0
    var engine: Engine?
    var paused = false
    var buffered: [Simulation.InFlight] = []
    var timerDeadline: [UInt64?] = []
    var timerScheduled: [UInt64?] = []
    var sessions: [SessionID] = []
    /// "On disk": the highest ring seq used, so a restart never reuses a ring id.
    var persistedRingSeq: UInt64 = 0

    init(node: NodeID) { self.node = node }
}
