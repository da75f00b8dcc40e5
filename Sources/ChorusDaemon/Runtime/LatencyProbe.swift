import Foundation
import NIOCore

/// A diagnostic for docs/latency.md: where the time of a `chorus bench` message goes inside a
/// daemon. Off (one nil check per message) unless `CHORUS_LATENCY_PROBE` names a file prefix; then
/// each payload that starts with a plausible bench send time (the client's monotonic clock, the
/// same clock as this daemon's on one host) adds `now - sent` to one of three series, written to
/// `<prefix>-<daemon>.txt` as percentiles every 4096 samples and when the daemon stops:
///
/// - `read`: the daemon has read and parsed the client's multicast frame;
/// - `deliveredOwn`: the ring delivered it here, at its sender's daemon (sequenced: the token came);
/// - `deliveredOther`: the ring delivered it at another daemon (it crossed the network).
final class LatencyProbe {
    enum Point: Int, CaseIterable { case read, deliveredOwn, deliveredOther }

    private let path: String
    private var samples: [[UInt64]] = Array(repeating: [], count: Point.allCases.count)
    private static let maxSamples = 1 << 20

    /// The probe `CHORUS_LATENCY_PROBE` asks for, if any.
    static func fromEnvironment(daemon: String) -> LatencyProbe? {
        guard let prefix = ProcessInfo.processInfo.environment["CHORUS_LATENCY_PROBE"], !prefix.isEmpty else { return nil }
        return LatencyProbe(path: "\(prefix)-\(daemon).txt")
    }

    private init(path: String) { self.path = path }

    func record(_ point: Point, payload: ByteBuffer, now: UInt64) {
        guard let sent = payload.getInteger(at: payload.readerIndex, as: UInt64.self), sent <= now,
            now - sent < 10_000_000_000, samples[point.rawValue].count < Self.maxSamples
        else { return }
        samples[point.rawValue].append(now - sent)
        recorded += 1
        if recorded % 4096 == 0 { write() }  // test clusters end daemons with SIGKILL
    }

    private var recorded = 0

    /// Writes the percentiles (microseconds) of every series.
    func write() {
        var text = "point count p50_us p90_us p99_us max_us\n"
        for point in Point.allCases {
            let sorted = samples[point.rawValue].sorted()
            guard !sorted.isEmpty else { continue }
            func pct(_ q: Double) -> String {
                String(format: "%.1f", Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1000)
            }
            text += "\(point) \(sorted.count) \(pct(0.5)) \(pct(0.9)) \(pct(0.99)) \(pct(1))\n"
        }
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
