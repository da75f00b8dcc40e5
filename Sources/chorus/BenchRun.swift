import Chorus
import ChorusLocalCluster
import Foundation
import Histogram
import NIOCore

/// What one receiver measured.
struct ReceiverResult: Sendable {
    var daemon: Int
    var messages: Int
    var bytes: Int
    var latency: Histogram<UInt64>
}

/// Shared counters between the bench tasks (one lock; touched once per message by receivers).
final class BenchState: @unchecked Sendable {
    private let lock = NSLock()
    private var measuring = false
    private var stopped = false
    private var received: [Int]
    private var bytes: [Int]
    private var histograms: [Histogram<UInt64>]
    /// Per sender: the highest seq the first receiver delivered (for --in-flight).
    private var deliveredSeq: [UInt64]
    private var totalReceived = 0

    init(receivers: Int, senders: Int) {
        received = Array(repeating: 0, count: receivers)
        bytes = Array(repeating: 0, count: receivers)
        histograms = (0..<receivers).map { _ in Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three) }
        deliveredSeq = Array(repeating: 0, count: senders)
        waiters = Array(repeating: nil, count: senders)
    }

    /// Suspends until the pacing receiver delivered `seq` of `sender` (or the run stopped).
    func waitForDelivery(of sender: Int, seq: UInt64) async {
        await withCheckedContinuation { continuation in
            let ready = lock.withLock {
                if deliveredSeq[sender] >= seq || stopped { return true }
                waiters[sender] = (seq, continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func stopAndRelease() {
        let pending: [CheckedContinuation<Void, Never>] = lock.withLock {
            stopped = true
            let all = waiters.compactMap { $0?.continuation }
            waiters = waiters.map { _ in nil }
            return all
        }
        for continuation in pending { continuation.resume() }
    }

    func startMeasuring() { lock.withLock { measuring = true } }
    func stop() { lock.withLock { stopped = true } }
    var isStopped: Bool { lock.withLock { stopped } }
    var total: Int { lock.withLock { totalReceived } }

    /// Per sender: a waiter for `deliveredSeq` to reach a value.
    private var waiters: [(seq: UInt64, continuation: CheckedContinuation<Void, Never>)?]

    func delivered(receiver: Int, size: Int, sent: UInt64, sender: Int, seq: UInt64, now: UInt64, tracksInFlight: Bool) {
        let resume: CheckedContinuation<Void, Never>? = lock.withLock {
            if tracksInFlight, sender < deliveredSeq.count, seq > deliveredSeq[sender] {
                deliveredSeq[sender] = seq
                if let waiter = waiters[sender], waiter.seq <= seq {
                    waiters[sender] = nil
                    return waiter.continuation
                }
            }
            return nil
        }
        resume?.resume()
        lock.withLock {
            guard measuring, !stopped else { return }
            received[receiver] += 1
            bytes[receiver] += size
            totalReceived += 1
            _ = histograms[receiver].record(now > sent ? now - sent : 0)
        }
    }

    func deliveredSeq(of sender: Int) -> UInt64 { lock.withLock { deliveredSeq[sender] } }

    func results(daemonOf: (Int) -> Int) -> [ReceiverResult] {
        lock.withLock {
            (0..<received.count).map {
                ReceiverResult(daemon: daemonOf($0), messages: received[$0], bytes: bytes[$0], latency: histograms[$0])
            }
        }
    }
}

/// One benchmark: connects receivers, waits for the group to form, runs the senders.
struct BenchRun {
    let options: BenchCommand
    let endpoints: [ChorusEndpoint]

    func run() async throws -> BenchResult {
        let oneInFlightLatency = options.inFlight == 1
        // One-way latency with one message in flight: one sender, on the first daemon; the
        // receiver that paces it is on the next daemon.
        let senderDaemons: [Int] = oneInFlightLatency ? [0] : endpoints.indices.flatMap { Array(repeating: $0, count: options.senders) }
        let pacingReceiver = oneInFlightLatency ? min(1, endpoints.count - 1) : 0
        let state = BenchState(receivers: endpoints.count, senders: senderDaemons.count)
        let ready = ReadyCounter()
        let size = options.size
        let service = options.service
        let runID = UInt32.random(in: 0...UInt32.max)
        let group = "bench-\(runID % 100_000)"

        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            for (index, endpoint) in endpoints.enumerated() {
                tasks.addTask {
                    try await ChorusClient.withSession(to: endpoint, name: "bench-r\(index)-\(runID % 10_000)") { session in
                        try await session.join(group)
                        for try await event in session.events {
                            switch event {
                            case .membership(let view) where view.kind == .regular:
                                if view.members.count == endpoints.count { await ready.mark(index) }
                            case .message(let message):
                                guard let header = BenchPayload.read(message.payload) else { continue }
                                state.delivered(
                                    receiver: index, size: message.payload.readableBytes, sent: header.sent,
                                    sender: header.sender, seq: header.seq, now: monotonicNanoseconds(),
                                    tracksInFlight: index == pacingReceiver)
                            default: break
                            }
                            if state.isStopped { return }
                        }
                    }
                }
            }
            try await ready.wait(for: endpoints.count, timeout: 30)

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
            state.startMeasuring()
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
            let receivers = state.results { $0 }
            return BenchResult(
                service: service, size: size, daemons: endpoints.count, senders: senderDaemons.count,
                inFlight: options.inFlight, rate: options.rate, seconds: measured, receivers: receivers)
        }

        func runSender(
            _ session: ChorusSession, index: Int, group: String, size: Int, service: Service, state: BenchState
        ) async throws {
            let allocator = ByteBufferAllocator()
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
                var batch: [MulticastRequest] = []
                batch.reserveCapacity(batchSize)
                for _ in 0..<batchSize {
                    seq += 1
                    batch.append(MulticastRequest(
                        service: service, groups: [group],
                        payload: BenchPayload.make(size: size, sender: index, seq: seq, allocator: allocator)))
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
