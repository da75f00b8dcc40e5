/// Rule `failureAtomicity`: if processes p and q both install configuration C (regular or
/// transitional) and both install the same configuration event right after it, they delivered
/// exactly the same set of messages while in C (unreliable messages excepted, since they carry no
/// delivery promise). Processes that crashed in C are not compared. Processes alive at the end
/// of a run that ends quiescent and still in C are compared too, on the messages submitted at least
/// the delivery grace (`CheckOptions.grace`) before the end (the fault-free tail: every later one may still be on its way). Only first deliveries count (repeats are `integrity` violations). Each group of processes that moved together is compared against its
/// first member (lowest process id); the message names the messages only one side delivered.
extension Checkers {
    static func checkFailureAtomicity(_ ix: HistoryIndex, _ options: CheckOptions, _ sink: inout ViolationSink) {
        let cutoff = ix.finalStretchCutoff(options)
        for (key, members) in ix.segmentGroups + ix.finalGroups(options) where members.count > 1 {
            let final = key.to == .endOfRun
            let sets = members.map { member -> [Int32] in
                let p = ix.processes[member.process]
                let c = p.configs[member.config]
                var set: [Int32] = []
                set.reserveCapacity(c.endDelivery - c.firstDelivery)
                for d in p.deliveries[c.firstDelivery..<c.endDelivery] where d.isFirst && ix.service[Int(d.message)] > .unreliable {
                    if final, (ix.sent[Int(d.message)]?.submittedAt ?? d.time) > cutoff { continue }
                    set.append(d.message)
                }
                set.sort()
                var unique: [Int32] = []
                unique.reserveCapacity(set.count)
                for m in set where unique.last != m { unique.append(m) }
                return unique
            }
            let reference = ix.processes[members[0].process].id
            for k in 1..<members.count where sets[k] != sets[0] {
                let other = ix.processes[members[k].process].id
                let onlyReference = difference(sets[0], sets[k]).map(ix.id)
                let onlyOther = difference(sets[k], sets[0]).map(ix.id)
                sink.report(
                    "\(reference) and \(other) both went \(key), but delivered different messages in \(key.from): "
                        + "only \(reference) delivered \(listing(onlyReference)); only \(other) delivered \(listing(onlyOther))",
                    processes: [reference, other], messages: onlyReference + onlyOther)
            }
        }
    }

    /// Elements of sorted `a` not in sorted `b`.
    static func difference(_ a: [Int32], _ b: [Int32]) -> [Int32] {
        var result: [Int32] = []
        var j = 0
        for x in a {
            while j < b.count && b[j] < x { j += 1 }
            if j >= b.count || b[j] != x { result.append(x) }
        }
        return result
    }
}
