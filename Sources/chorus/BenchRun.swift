import Chorus
import ChorusLocalCluster
import Foundation
import Histogram
import Synchronization
import NIOCore

/// What one receiver measured.
struct ReceiverResult: Sendable {
    var daemon: Int
    var messages: Int
    var bytes: Int
    var latency: Histogram<UInt64>
}

/// What one receiver counts while measuring. Only its own task writes it; the lock is taken once
/// per message, by that task alone (uncontended), and once by the main task at the end.
final class ReceiverStats: @unchecked Sendable {  // state behind `lock`
    private let lock = NSLock()
    private var messages = 0
    private var bytes = 0
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)

    func record(size: Int, latency: UInt64) {
        lock.lock()
        messages += 1
        bytes += size
        _ = histogram.record(latency)
        lock.unlock()
    }

    func result(daemon: Int) -> ReceiverResult {
        lock.withLock { ReceiverResult(daemon: daemon, messages: messages, bytes: bytes, latency: histogram) }
    }

    var count: Int { lock.withLock { messages } }
}

/// The phase of a run, read by every receiver per message (an atomic, no lock).
final class BenchPhase: Sendable {
    private let value = Atomic<Int>(0)
    static let warmingUp = 0, measuring = 1, stopped = 2
    func set(_ phase: Int) { value.store(phase, ordering: .releasing) }
    var current: Int { value.load(ordering: .acquiring) }
}

/// What the bench tasks share: the phase, each receiver's counts, and for --in-flight the
/// sequence numbers the pacing receiver has delivered (the senders wait on those).
final class BenchState: @unchecked Sendable {  // pacing state behind `lock`
    let phase = BenchPhase()
    let receivers: [ReceiverStats]
    private let lock = NSLock()
    /// Per sender: the highest seq the pacing receiver delivered (for --in-flight).
    private var deliveredSeq: [UInt64]
    /// Per sender: a waiter for `deliveredSeq` to reach a value.
    private var waiters: [(seq: UInt64, continuation: CheckedContinuation<Void, Never>)?]

    init(receivers: Int, senders: Int) {
        self.receivers = (0..<receivers).map { _ in ReceiverStats() }
        deliveredSeq = Array(repeating: 0, count: senders)
        waiters = Array(repeating: nil, count: senders)
    }

    var isStopped: Bool { phase.current == BenchPhase.stopped }

    /// Suspends until the pacing receiver delivered `seq` of `sender` (or the run stopped).
    func waitForDelivery(of sender: Int, seq: UInt64) async {
        await withCheckedContinuation { continuation in
            let ready = lock.withLock {
                if deliveredSeq[sender] >= seq || isStopped { return true }
                waiters[sender] = (seq, continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func stopAndRelease() {
        phase.set(BenchPhase.stopped)
        let pending: [CheckedContinuation<Void, Never>] = lock.withLock {
            let all = waiters.compactMap { $0?.continuation }
            waiters = waiters.map { _ in nil }
            return all
        }
        for continuation in pending { continuation.resume() }
    }

    /// The pacing receiver delivered `seq` of `sender`: wake that sender if it waits for it.
    func paced(sender: Int, seq: UInt64) {
        let resume: CheckedContinuation<Void, Never>? = lock.withLock {
            guard sender < deliveredSeq.count, seq > deliveredSeq[sender] else { return nil }
            deliveredSeq[sender] = seq
            guard let waiter = waiters[sender], waiter.seq <= seq else { return nil }
            waiters[sender] = nil
            return waiter.continuation
        }
        resume?.resume()
    }

    var total: Int { receivers.reduce(0) { $0 + $1.count } }

    func results(daemonOf: (Int) -> Int) -> [ReceiverResult] {
        receivers.indices.map { receivers[$0].result(daemon: daemonOf($0)) }
    }
}

/// One benchmark: connects receivers, waits for the group to form, runs the senders.
struct BenchRun {
    let options: BenchCommand
    let endpoints: [ChorusEndpoint]

    func run() async throws -> BenchResult {
        // One-way latency with one message in flight, paced by the sender's own delivery: the
        // first daemon's receiving session is the one sender, and sends its next message once its
        // own daemon delivered the last one to it (a closed loop, as Spread's spbench, Corosync's
        // cpgbench and the null relay run it). Paced by the next daemon: a sender session on the
        // first daemon waits until the second daemon's receiver has each message.
        let oneInFlightLatency = options.inFlight == 1 && options.pace == .own
        let pacedByNext = options.inFlight == 1 && options.pace == .next
        let senderDaemons: [Int] =
            oneInFlightLatency ? [] : pacedByNext ? [0]
            : endpoints.indices.prefix(options.senderDaemons ?? endpoints.count).flatMap { Array(repeating: $0, count: options.senders) }
        // Receivers on every daemon but the first --skip-receivers; `state.receivers` is indexed
        // by receiver (position in `receiving`), not by daemon.
        let receiving = Array(endpoints.indices.dropFirst(min(options.skipReceivers, endpoints.count - 1)))
        let pacingReceiver = pacedByNext ? min(1, receiving.count - 1) : 0
        let state = BenchState(receivers: receiving.count, senders: max(1, senderDaemons.count))
        let ready = ReadyCounter()
        let size = options.size
        let service = options.service
        let runID = UInt32.random(in: 0...UInt32.max)
        let group = "bench-\(runID % 100_000)"

        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            for (receiver, index) in receiving.enumerated() {
                let endpoint = endpoints[index]
                let stats = state.receivers[receiver]
                let paces = !oneInFlightLatency && options.inFlight > 0 && receiver == pacingReceiver
                let sendsInLoop = oneInFlightLatency && index == 0
                tasks.addTask {
                    try await ChorusClient.withSession(to: endpoint, name: "bench-r\(index)-\(runID % 10_000)") { session in
                        try await session.join(group)
                        let allocator = ByteBufferAllocator()
                        var sentSeq: UInt64 = 0
                        func sendNext() async throws {
                            sentSeq += 1
                            try await session.multicast(
                                BenchPayload.make(size: size, sender: 0, seq: sentSeq, allocator: allocator), to: [group],
                                service: service)
                        }
                        for try await event in session.events {
                            switch event {
                            case .membership(let view) where view.kind == .regular:
                                // With sites, a group's views list the members of its own site.
                                let expected = options.siteOf.map { sites in
                                    receiving.filter { sites[$0] == sites[index] }.count
                                } ?? receiving.count
                                if view.members.count == expected {
                                    await ready.mark(receiver)
                                    if sendsInLoop, sentSeq == 0 {
                                        try await ready.wait(for: receiving.count, timeout: 30)
                                        try await sendNext()
                                    }
                                }
                            case .message(let message):
                                guard let header = BenchPayload.read(message.payload) else { continue }
                                let now = monotonicNanoseconds()
                                if paces { state.paced(sender: header.sender, seq: header.seq) }
                                if sendsInLoop, header.seq == sentSeq, !state.isStopped { try await sendNext() }
                                switch state.phase.current {
                                case BenchPhase.measuring:
                                    stats.record(size: message.payload.readableBytes, latency: now > header.sent ? now - header.sent : 0)
                                case BenchPhase.stopped: return
                                default: break
                                }
                            default: break
                            }
                        }
                    }
                }
            }
            try await ready.wait(for: receiving.count, timeout: 30)

            for (senderIndex, daemon) in senderDaemons.enumerated() {
                tasks.addTask {
                    try await ChorusClient.withSession(
                        to: endpoints[daemon], name: "bench-s\(senderIndex)-\(runID % 10_000)", membershipNotices: false
                    ) { session in
                        try await runSender(session, index: senderIndex, group: group, size: size, service: service, state: state)
                    }
                }
            }
            try await Task.sleep(for: .seconds(options.warmup))
            state.phase.set(BenchPhase.measuring)
            let measureStart = Date()
            var lastTotal = 0
            while Date().timeIntervalSince(measureStart) < options.duration {
                try await Task.sleep(for: .seconds(min(1, options.duration)))
                let total = state.total
                if !options.json, stderrIsTerminal {
                    let elapsed = Date().timeIntervalSince(measureStart)
                    let line = String(format: "\r  %4.1f s  %10.0f deliveries/s (all receivers)   ", elapsed, Double(total - lastTotal) / min(1, options.duration))
                    FileHandle.standardError.write(Data(line.utf8))
                }
                lastTotal = total
            }
            let measured = Date().timeIntervalSince(measureStart)
            state.stopAndRelease()
            if !options.json, stderrIsTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
            tasks.cancelAll()
            let receivers = state.results { receiving[$0] }
            return BenchResult(
                service: service, size: size, daemons: endpoints.count, senders: max(1, senderDaemons.count),
                inFlight: options.inFlight, rate: options.rate, seconds: measured, receivers: receivers, siteOf: options.siteOf)
        }

        func runSender(
            _ session: ChorusSession, index: Int, group: String, size: Int, service: Service, state: BenchState
        ) async throws {
            let allocator = ByteBufferAllocator()
            let groups = [group]
            var seq: UInt64 = 0
            let interval = options.rate > 0 ? 1.0 / Double(options.rate) : 0
            let start = monotonicNanoseconds()
            let batchSize = options.rate > 0 || options.inFlight > 0 ? 1 : 32
            while !state.isStopped {
                if options.inFlight > 0 {
                    if seq >= UInt64(options.inFlight) {
                        await state.waitForDelivery(of: index, seq: seq - UInt64(options.inFlight) + 1)
                    }
                } else if interval > 0 {
                    let due = start + UInt64(Double(seq) * interval * 1e9)
                    let now = monotonicNanoseconds()
                    if due > now { try await Task.sleep(for: .nanoseconds(Int64(due - now))) }
                }
                if batchSize == 1 {
                    seq += 1
                    try await session.multicast(
                        BenchPayload.make(size: size, sender: index, seq: seq, allocator: allocator), to: groups,
                        service: service)
                    continue
                }
                // One buffer holds the batch's payloads; each message is a slice of it.
                var payloads = allocator.buffer(capacity: size * batchSize)
                BenchPayload.write(count: batchSize, size: size, sender: index, firstSeq: seq + 1, into: &payloads)
                var batch: [MulticastRequest] = []
                batch.reserveCapacity(batchSize)
                for _ in 0..<batchSize {
                    seq += 1
                    batch.append(MulticastRequest(service: service, groups: groups, payload: payloads.readSlice(length: size)!))
                }
                try await session.multicast(batch: batch)
            }
        }
    }
}

/// Counts receivers that saw the full group.
actor ReadyCounter {
    private var ready: Set<Int> = []
    func mark(_ index: Int) { ready.insert(index) }
    func wait(for count: Int, timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while ready.count < count {
            guard Date() < deadline else { throw ClusterError("only \(ready.count) of \(count) receivers saw the whole group within \(timeout) s") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// The figures of one run.
struct BenchResult {
    var service: Service
    var size: Int
    var daemons: Int
    var senders: Int
    var inFlight: Int
    var rate: Int
    var seconds: Double
    var receivers: [ReceiverResult]
    /// With sites: each daemon's site index.
    var siteOf: [Int]? = nil

    func microseconds(_ value: UInt64) -> Double { Double(value) / 1000 }

    var merged: Histogram<UInt64> {
        var all = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        for receiver in receivers { all.add(receiver.latency) }
        return all
    }

    func text() -> String {
        var lines = ["\(service) \(size) B, \(daemons) daemon(s), \(senders) sender(s)\(inFlight > 0 ? ", \(inFlight) in flight" : "")\(rate > 0 ? ", \(rate) msg/s per sender" : ""), \(String(format: "%.1f", seconds)) s"]
        for (index, receiver) in receivers.enumerated() {
            let h = receiver.latency
            lines.append(String(
                format: "  receiver %d (d%d): %10.0f msg/s %8.2f MB/s   latency p50 %.0f µs  p90 %.0f  p99 %.0f  max %.0f",
                index, receiver.daemon + 1, Double(receiver.messages) / seconds, Double(receiver.bytes) / seconds / 1e6,
                microseconds(h.valueAtPercentile(50)), microseconds(h.valueAtPercentile(90)),
                microseconds(h.valueAtPercentile(99)), microseconds(h.max)))
        }
        if let siteOf {
            for site in Set(siteOf).sorted() {
                let here = receivers.filter { siteOf[$0.daemon] == site }
                var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                for receiver in here { latency.add(receiver.latency) }
                let messages = here.map(\.messages).reduce(0, +)
                lines.append(String(
                    format: "  site s%d (%d receiver(s)): %.0f msg/s %.2f MB/s per receiver; latency p50 %.0f µs p99 %.0f",
                    site + 1, here.count, Double(messages) / seconds / Double(max(1, here.count)),
                    Double(messages * size) / seconds / 1e6 / Double(max(1, here.count)),
                    microseconds(latency.valueAtPercentile(50)), microseconds(latency.valueAtPercentile(99))))
            }
        }
        let all = merged
        let messages = receivers.map(\.messages).reduce(0, +)
        lines.append(String(
            format: "  per receiver (mean): %.0f msg/s %.2f MB/s; latency p50 %.0f µs p90 %.0f p99 %.0f max %.0f",
            Double(messages) / seconds / Double(max(1, receivers.count)),
            Double(messages * size) / seconds / 1e6 / Double(max(1, receivers.count)),
            microseconds(all.valueAtPercentile(50)), microseconds(all.valueAtPercentile(90)),
            microseconds(all.valueAtPercentile(99)), microseconds(all.max)))
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        let all = merged
        let messages = receivers.map(\.messages).reduce(0, +)
        let object: [String: Any] = [
            "service": service.description, "size": size, "daemons": daemons, "senders": senders, "inFlight": inFlight,
            "rate": rate, "seconds": seconds,
            "msgPerSecPerReceiver": Double(messages) / seconds / Double(max(1, receivers.count)),
            "mbPerSecPerReceiver": Double(messages * size) / seconds / 1e6 / Double(max(1, receivers.count)),
            "latencyMicros": [
                "p50": microseconds(all.valueAtPercentile(50)), "p90": microseconds(all.valueAtPercentile(90)),
                "p99": microseconds(all.valueAtPercentile(99)), "max": microseconds(all.max),
            ],
            "receivers": receivers.map { receiver in
                [
                    "daemon": receiver.daemon + 1, "messages": receiver.messages,
                    "msgPerSec": Double(receiver.messages) / seconds, "mbPerSec": Double(receiver.bytes) / seconds / 1e6,
                    "p50Micros": microseconds(receiver.latency.valueAtPercentile(50)),
                    "p99Micros": microseconds(receiver.latency.valueAtPercentile(99)),
                ] as [String: Any]
            },
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
