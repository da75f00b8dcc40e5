import ChorusVerify

/// What a run produced: the numbers `chorus sim` prints and the checkers' verdict.
public struct SimulationReport: Sendable {
    public var seed: UInt64
    public var daemons: Int
    public var virtualSeconds: Double
    public var realSeconds: Double = 0
    /// Indexed by service raw value.
    public var submitted = [Int](repeating: 0, count: 6)
    public var delivered = [Int](repeating: 0, count: 6)
    public var configurationsInstalled = 0
    public var retransmissions = 0
    public var tokenLosses = 0
    public var packetsSent = 0
    public var packetsDropped = 0
    public var decodeErrors = 0
    /// Sends the engine refused with an error (busy, too large): never accepted, so never owed.
    public var refusedSends = 0
    public var crashes = 0
    public var partitions = 0
    public var pauses = 0
    /// What the hostile peer sent and how the honest daemons took it (all zero without one).
    public var hostile = HostileCounts()
    /// Whether the run had a hostile peer (the summary then has a `hostile:` line).
    public var hadHostilePeer = false
    /// With sealed datagrams: those dropped, by cause (`SealRejection` raw values).
    public var sealRejected: [String: Int] = [:]
    /// Submission to delivery, over every delivery.
    public var latency = LatencyHistogram()
    /// The same per service, indexed by service raw value.
    public var serviceLatency = [LatencyHistogram](repeating: LatencyHistogram(), count: 6)
    public var violations: [Violation] = []
    /// What each checker rule examined in this run.
    public var exercise = RuleExercise()
    /// The last notable events (faults, configurations), for a failing run's trace.
    public var trace: [String] = []

    /// Set when the run was stopped early (an event storm): a failure like a violation.
    public var aborted: String?

    public var passed: Bool { violations.isEmpty && aborted == nil }

    public var summary: String {
        let services = ["unreliable", "reliable", "fifo", "causal", "agreed", "safe"]
        var lines: [String] = []
        lines.append("seed \(seed)  daemons \(daemons)  virtual \(format(virtualSeconds)) s  real \(format(realSeconds)) s")
        for (index, name) in services.enumerated() where submitted[index] > 0 || delivered[index] > 0 {
            let histogram = serviceLatency[index]
            let latencies = histogram.isEmpty ? "" : "  latency p50 \(micros(histogram.percentile(0.5))) µs  p99 \(micros(histogram.percentile(0.99))) µs"
            lines.append("  \(name + String(repeating: " ", count: max(0, 10 - name.count))) submitted \(submitted[index])  delivered \(delivered[index])\(latencies)")
        }
        lines.append(
            "  configurations \(configurationsInstalled)  retransmissions \(retransmissions)  token losses \(tokenLosses)  packets \(packetsSent) (dropped \(packetsDropped))"
        )
        if refusedSends > 0 { lines.append("  sends refused by the engine: \(refusedSends)") }
        if hadHostilePeer { lines.append("  hostile: \(hostile.description)") }
        if !sealRejected.isEmpty {
            lines.append("  sealed datagrams dropped: \(sealRejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        }
        lines.append("  faults: crashes \(crashes)  partitions \(partitions)  pauses \(pauses)")
        lines.append(
            "  delivery latency (virtual): p50 \(micros(latency.percentile(0.5))) µs  p99 \(micros(latency.percentile(0.99))) µs  max \(micros(latency.max)) µs"
        )
        lines.append("  rules exercised: \(exercise.description)")
        lines.append("  violations \(violations.count)")
        if let aborted { lines.append("  ABORTED: \(aborted)") }
        return lines.joined(separator: "\n")
    }

    private func format(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return "\(scaled)"
    }

    private func micros(_ nanos: UInt64) -> String { "\(nanos / 1000)" }
}

/// A log-linear histogram of nanosecond values: 2 significant digits, constant memory.
public struct LatencyHistogram: Sendable {
    private var buckets = [UInt64](repeating: 0, count: 64 * 16)
    public private(set) var count: UInt64 = 0
    public private(set) var max: UInt64 = 0
    public var isEmpty: Bool { count == 0 }

    public init() {}

    public mutating func record(_ value: UInt64) {
        count += 1
        if value > max { max = value }
        buckets[Self.bucket(value)] += 1
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for index in buckets.indices { buckets[index] += other.buckets[index] }
        count += other.count
        max = Swift.max(max, other.max)
    }

    public func percentile(_ p: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let target = UInt64((Double(count) * p).rounded(.up))
        var seen: UInt64 = 0
        for (index, n) in buckets.enumerated() {
            seen += n
            if seen >= target { return Swift.min(Self.upperBound(index), max) }
        }
        return max
    }

    private static func bucket(_ value: UInt64) -> Int {
        guard value >= 16 else { return Int(value) }
        let exponent = 63 - value.leadingZeroBitCount  // >= 4
        let mantissa = Int((value >> UInt64(exponent - 4)) & 15)
        return (exponent - 3) * 16 + mantissa
    }

    private static func upperBound(_ index: Int) -> UInt64 {
        guard index >= 16 else { return UInt64(index) }
        let exponent = index / 16 + 3
        let mantissa = UInt64(index % 16)
        return ((16 + mantissa + 1) << UInt64(exponent - 4)) - 1
    }
}
