/// Rule `liveness`, only when `quiescentFrom` is set and `endTime >= quiescentFrom + livenessBound`
/// (the deadline):
/// - every process in `aliveAtEnd` has a log whose last configuration event is a regular
///   configuration, installed by the deadline, whose members are exactly `aliveAtEnd`; it installs
///   nothing after it; all of them end in the same configuration;
/// - every message (reliable or stronger) submitted by a process in `aliveAtEnd` at or after the
///   deadline, and at least the delivery grace (`CheckOptions.grace`) before `endTime`, is delivered by every other process in
///   `aliveAtEnd` (the sender itself is `selfDelivery`'s business).
extension Checkers {
    static func checkLiveness(_ ix: HistoryIndex, _ options: CheckOptions, _ sink: inout ViolationSink) {
        let h = ix.history
        guard let quiet = h.quiescentFrom, quiet <= UInt64.max - options.livenessBound else { return }
        let deadline = quiet + options.livenessBound
        guard h.endTime >= deadline else { return }
        let alive = h.aliveAtEnd.sorted()
        var finals: [ConfigurationID: [ProcessID]] = [:]
        for id in alive {
            guard let p = ix.process(id) else {
                sink.report("\(id) is alive at the end but has no log", processes: [id])
                continue
            }
            guard let last = p.configs.last else {
                sink.report("\(id) is alive at the end but never installed a configuration", processes: [id])
                continue
            }
            let e = last.event
            if e.kind != .regular {
                sink.report(
                    "\(id) ended in transitional configuration towards \(e.id) (t=\(last.time)), not in a regular configuration",
                    processes: [id])
                continue
            }
            finals[e.id, default: []].append(id)
            if e.members.sorted() != alive {
                sink.report(
                    "\(id)'s final configuration \(e.id) has members \(listing(e.members.sorted(), limit: 16)), but the processes alive at the end are \(listing(alive, limit: 16))",
                    processes: [id])
            }
            if last.time > deadline {
                sink.report(
                    "\(id) installed its final configuration \(e.id) at t=\(last.time), after the liveness deadline t=\(deadline) (quiescent from t=\(quiet))",
                    processes: [id])
            }
        }
        if finals.count > 1 {
            let parts = finals.sorted { $0.key < $1.key }.map { "\($0.key) at \(listing($0.value))" }
            sink.report(
                "processes alive at the end did not converge on one configuration: " + parts.joined(separator: "; "),
                processes: alive)
        }
        let aliveSet = h.aliveAtEnd
        for (m, sent) in ix.sent.enumerated() {
            guard let sent, aliveSet.contains(sent.sender), sent.service >= .reliable, sent.submittedAt >= deadline,
                options.hasGrace(after: sent.submittedAt, endTime: h.endTime)
            else { continue }
            for id in alive where id != sent.sender {
                if !(ix.process(id)?.delivered(Int32(m)) ?? false) {
                    sink.report(
                        "\(id) never delivered \(ix.describe(Int32(m))) submitted by \(sent.sender) at t=\(sent.submittedAt), after the system settled (deadline t=\(deadline))",
                        processes: [id, sent.sender], messages: [sent.id])
                }
            }
        }
    }
}
