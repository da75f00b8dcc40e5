/// Rule `causal`, for messages of service causal or stronger ("causal messages").
///
/// Happened-before between causal messages: m1 → m2 if m2's sender process delivered m1 before it
/// submitted m2 (log order), or m1 and m2 belong to the same session with m1.seq < m2.seq, closed
/// transitively (through causal messages only; same-process submissions from different sessions are
/// not ordered). If a process delivers both m1 and m2, it must deliver m1 first.
///
/// Method: dense vector clocks over the sessions that send causal messages. K(p) is the set
/// of causal messages p "knows": everything it delivered and their pasts. Per session that set is a
/// seq prefix, so K(p) is a vector of seqs. A submission snapshots K(sender); a delivery of m merges
/// that snapshot plus m's own session prefix into K(receiver). A process delivering m1 while
/// m1 ∈ K(p) already delivered some m2 with m1 → m2: a violation. Logs are swept in an order
/// consistent with causality (a delivery waits until its submission was swept). Snapshots are
/// taken only when K changed, and a receiver skips merging a snapshot older than one it already
/// merged from the same sender, since each process's K only grows.
extension Checkers {
    static func checkCausal(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        let n = ix.messageCount
        let isCausal = ix.service.map { $0 >= .causal }
        guard isCausal.contains(true) else { return }
        var slotOf: [SessionRef: Int] = [:]
        var slot = [Int32](repeating: -1, count: n)
        for m in 0..<n where isCausal[m] {
            let s = ix.session[m]
            if slotOf[s] == nil { slotOf[s] = slotOf.count }
            slot[m] = Int32(slotOf[s]!)
        }
        let width = slotOf.count
        let seq = ix.messageIDs.map(\.seq)
        let processCount = ix.processes.count

        var hasSubmit = [Bool](repeating: false, count: n)
        for p in ix.processes {
            for entry in p.log {
                if case .submit(let name) = entry.event, let m = ix.messageIndex[name] { hasSubmit[Int(m)] = true }
            }
        }
        var knowledge = [[UInt64]](repeating: [UInt64](repeating: 0, count: width), count: processCount)
        var dirty = [Bool](repeating: true, count: processCount)
        var snapshots = [[[UInt64]]](repeating: [], count: processCount)
        var snapshotProcess = [Int32](repeating: -1, count: n)
        var snapshotIndex = [Int32](repeating: -1, count: n)
        var merged = [[Int32]](repeating: [Int32](repeating: -1, count: processCount), count: processCount)
        var swept = [Bool](repeating: false, count: n)  // submission swept (or given up on)
        var cursor = [Int](repeating: 0, count: processCount)
        var deliveryCursor = [Int](repeating: 0, count: processCount)
        var waiting: [Int32: [Int]] = [:]
        var blockedOn = [Int32](repeating: -1, count: processCount)
        var ready = Array(0..<processCount)

        /// Whether m1 lies in the past of m2 (or is m2's session predecessor).
        func precedes(_ m1: Int32, _ m2: Int32) -> Bool {
            if slot[Int(m1)] == slot[Int(m2)] && seq[Int(m1)] < seq[Int(m2)] { return true }
            let x = snapshotProcess[Int(m2)]
            guard x >= 0 else { return false }
            return snapshots[Int(x)][Int(snapshotIndex[Int(m2)])][Int(slot[Int(m1)])] >= seq[Int(m1)]
        }

        func sweep(_ pi: Int) {
            let p = ix.processes[pi]
            while cursor[pi] < p.log.count {
                switch p.log[cursor[pi]].event {
                case .submit(let name):
                    if let m = ix.messageIndex[name], isCausal[Int(m)], !swept[Int(m)] {
                        if dirty[pi] || snapshots[pi].isEmpty {
                            snapshots[pi].append(knowledge[pi])
                            dirty[pi] = false
                        }
                        snapshotProcess[Int(m)] = Int32(pi)
                        snapshotIndex[Int(m)] = Int32(snapshots[pi].count - 1)
                        swept[Int(m)] = true
                        if let waiters = waiting.removeValue(forKey: m) { ready.append(contentsOf: waiters) }
                    }
                case .deliver:
                    let di = deliveryCursor[pi]
                    let d = p.deliveries[di]
                    let m = d.message
                    if d.isFirst && isCausal[Int(m)] {
                        if hasSubmit[Int(m)] && !swept[Int(m)] {
                            waiting[m, default: []].append(pi)
                            blockedOn[pi] = m
                            return
                        }
                        blockedOn[pi] = -1
                        let s = Int(slot[Int(m)])
                        if knowledge[pi][s] >= seq[Int(m)] {
                            let later = p.deliveries[..<di].last { $0.isFirst && isCausal[Int($0.message)] && precedes(m, $0.message) }
                            let m2 = later?.message
                            sink.report(
                                "\(p.id) delivered \(ix.describe(m)) (log #\(d.logIndex)) after "
                                    + (m2.map { "\(ix.describe($0)) (log #\(later!.logIndex))" } ?? "a message")
                                    + ", but the former happened-before the latter"
                                    + (m2.map { ix.session[Int($0)] == ix.session[Int(m)] ? " (same session)" : " (known to its sender before submitting it)" } ?? ""),
                                processes: [p.id], messages: [ix.id(m)] + (m2.map { [ix.id($0)] } ?? []))
                        }
                        let x = snapshotProcess[Int(m)]
                        if x >= 0 && merged[pi][Int(x)] < snapshotIndex[Int(m)] {
                            merged[pi][Int(x)] = snapshotIndex[Int(m)]
                            let snapshot = snapshots[Int(x)][Int(snapshotIndex[Int(m)])]
                            var changed = false
                            knowledge[pi].withUnsafeMutableBufferPointer { k in
                                snapshot.withUnsafeBufferPointer { s in
                                    for i in 0..<width where s[i] > k[i] {
                                        k[i] = s[i]
                                        changed = true
                                    }
                                }
                            }
                            if changed { dirty[pi] = true }
                        }
                        if knowledge[pi][s] < seq[Int(m)] {
                            knowledge[pi][s] = seq[Int(m)]
                            dirty[pi] = true
                        }
                    }
                    deliveryCursor[pi] += 1
                default:
                    break
                }
                cursor[pi] += 1
            }
        }

        while true {
            while let pi = ready.popLast() { sweep(pi) }
            // Stuck: only possible if submissions and deliveries form a cycle (a corrupt history).
            // Give up on the happened-before edges of one blocking submission and carry on.
            guard let stuck = (0..<processCount).first(where: { cursor[$0] < ix.processes[$0].log.count }) else { break }
            let m = blockedOn[stuck]
            precondition(m >= 0, "causal sweep stalled without a blocked process")
            swept[Int(m)] = true
            if let waiters = waiting.removeValue(forKey: m) { ready.append(contentsOf: waiters) }
        }
    }
}
