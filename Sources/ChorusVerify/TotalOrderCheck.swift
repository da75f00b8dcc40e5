/// Rule `totalOrder`.
///
/// 1. Message order. Every process's sequence of (first) deliveries of agreed/safe messages is a
///    chain; extended virtual synchrony requires one global order extending all of them, i.e. the
///    union of the chains must be acyclic. This is checked with one topological sort over all
///    processes (linear in the number of deliveries, no pairwise comparison); each cycle found is
///    reported with the process orders forming it. Two processes delivering two messages in opposite
///    orders is the 2-cycle case. (Acyclicity is slightly stronger than pairwise agreement: it is the
///    EVS "ord" function, which Totem rings provide.)
/// 2. Configuration changes at the same points. For each agreed/safe message m and each
///    configuration event E after which some process delivered m: every other process that delivered
///    both m and E delivered m after E too (for it, m before E would put E on the other side of m in
///    the order). Transitional events are identified with their members, so processes coming from
///    different components are never compared.
extension Checkers {
    static func checkTotalOrder(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        checkOrderCycles(ix, &sink)
        checkConfigurationPlacement(ix, &sink)
    }

    private static func checkOrderCycles(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        let n = ix.messageCount
        var from: [Int32] = []
        var to: [Int32] = []
        var by: [Int32] = []
        for (pi, p) in ix.processes.enumerated() {
            var previous: Int32 = -1
            for d in p.deliveries where d.isFirst && ix.service[Int(d.message)] >= .agreed {
                if previous >= 0 {
                    from.append(previous)
                    to.append(d.message)
                    by.append(Int32(pi))
                }
                previous = d.message
            }
        }
        guard !from.isEmpty else { return }
        // Compressed adjacency, both directions.
        var outStart = [Int](repeating: 0, count: n + 1)
        var inStart = [Int](repeating: 0, count: n + 1)
        for e in from.indices {
            outStart[Int(from[e]) + 1] += 1
            inStart[Int(to[e]) + 1] += 1
        }
        for v in 0..<n {
            outStart[v + 1] += outStart[v]
            inStart[v + 1] += inStart[v]
        }
        var outEdges = [Int32](repeating: 0, count: from.count)
        var inEdges = [Int32](repeating: 0, count: from.count)
        var outFill = outStart
        var inFill = inStart
        for e in from.indices {
            outEdges[outFill[Int(from[e])]] = Int32(e)
            outFill[Int(from[e])] += 1
            inEdges[inFill[Int(to[e])]] = Int32(e)
            inFill[Int(to[e])] += 1
        }
        // Kahn's algorithm; what remains contains every cycle.
        var indegree = (0..<n).map { inStart[$0 + 1] - inStart[$0] }
        var alive = [Bool](repeating: true, count: n)
        var stack = (0..<n).filter { indegree[$0] == 0 }
        var remaining = n
        func peel() {
            while let v = stack.popLast() {
                alive[v] = false
                remaining -= 1
                for k in outStart[v]..<outStart[v + 1] {
                    let w = Int(to[Int(outEdges[k])])
                    guard alive[w] else { continue }
                    indegree[w] -= 1
                    if indegree[w] == 0 { stack.append(w) }
                }
            }
        }
        peel()
        var scan = 0
        while remaining > 0 {
            while !alive[scan] { scan += 1 }
            // Every live node has a live predecessor: walk backwards until a node repeats.
            var seenAt: [Int: Int] = [:]
            var path: [Int32] = []  // edges, walked backwards
            var v = scan
            while seenAt[v] == nil {
                seenAt[v] = path.count
                var chosen: Int32 = -1
                for k in inStart[v]..<inStart[v + 1] where alive[Int(from[Int(inEdges[k])])] {
                    chosen = inEdges[k]
                    break
                }
                precondition(chosen >= 0, "live node without live predecessor")
                path.append(chosen)
                v = Int(from[Int(chosen)])
            }
            let cycle = Array(path[seenAt[v]!...].reversed())
            let steps = cycle.map { e in
                "\(ix.processes[Int(by[Int(e)])].id) delivered \(ix.describe(from[Int(e)])) before \(ix.describe(to[Int(e)]))"
            }
            sink.report(
                "agreed/safe messages delivered in inconsistent orders (cycle of \(cycle.count)): "
                    + steps.prefix(8).joined(separator: "; ") + (steps.count > 8 ? "; …" : ""),
                processes: cycle.map { ix.processes[Int(by[Int($0)])].id },
                messages: cycle.map { ix.id(from[Int($0)]) })
            // Remove the cycle's nodes and peel whatever that frees.
            for e in cycle {
                let u = Int(from[Int(e)])
                guard alive[u] else { continue }
                alive[u] = false
                remaining -= 1
                for k in outStart[u]..<outStart[u + 1] {
                    let w = Int(to[Int(outEdges[k])])
                    guard alive[w] else { continue }
                    indegree[w] -= 1
                    if indegree[w] == 0 { stack.append(w) }
                }
            }
            peel()
        }
    }

    private static func checkConfigurationPlacement(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        // Deliverers of each agreed/safe message: (process, delivery index).
        var deliverers = [[(process: Int32, delivery: Int32)]](repeating: [], count: ix.messageCount)
        for (pi, p) in ix.processes.enumerated() {
            for (di, d) in p.deliveries.enumerated() where d.isFirst && ix.service[Int(d.message)] >= .agreed {
                deliverers[Int(d.message)].append((Int32(pi), Int32(di)))
            }
        }
        for m in 0..<ix.messageCount where deliverers[m].count > 1 {
            var keys: [(key: ConfigKey, process: Int)] = []
            for (pi, di) in deliverers[m] {
                let p = ix.processes[Int(pi)]
                guard let c = p.configuration(of: p.deliveries[Int(di)]) else { continue }
                if !keys.contains(where: { $0.key == c.key }) { keys.append((c.key, Int(pi))) }
            }
            for (key, a) in keys {
                for (qi, di) in deliverers[m] where Int(qi) != a {
                    let q = ix.processes[Int(qi)]
                    guard let ci = q.configIndex[key], Int(di) < q.configs[ci].firstDelivery else { continue }
                    sink.report(
                        "\(ix.describe(Int32(m))) delivered by \(ix.processes[a].id) after \(key) but by \(q.id) before it "
                            + "(configuration change not at the same point of the total order)",
                        processes: [ix.processes[a].id, q.id], messages: [ix.id(Int32(m))])
                }
            }
        }
    }
}
