/// Rule `selfDelivery`: a process in `aliveAtEnd` (with no crash recorded) delivers every message of
/// service reliable or stronger that it submitted (its `.submit` events). Conservative: only
/// messages submitted at least the delivery grace (`CheckOptions.grace`) before `endTime` are required, so a message still in
/// flight when the run stopped is not reported.
extension Checkers {
    static func checkSelfDelivery(_ ix: HistoryIndex, _ options: CheckOptions, _ sink: inout ViolationSink) {
        for p in ix.processes where ix.history.aliveAtEnd.contains(p.id) && ix.history.crashedAt[p.id] == nil {
            for entry in p.log {
                guard case .submit(let name) = entry.event, let m = ix.messageIndex[name] else { continue }
                guard ix.service[Int(m)] >= .reliable else { continue }
                let submittedAt = ix.sent[Int(m)]?.submittedAt ?? entry.time
                guard options.hasGrace(after: submittedAt, endTime: ix.history.endTime) else { continue }
                if !p.delivered(m) {
                    sink.report(
                        "\(p.id) submitted \(ix.describe(m)) at t=\(submittedAt), is alive at the end (t=\(ix.history.endTime)), but never delivered it",
                        processes: [p.id], messages: [name])
                }
            }
        }
    }
}
