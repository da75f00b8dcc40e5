/// How much of a history each rule examined, so a rule that never runs (its preconditions are never
/// met by the runs of a sweep) shows as zero instead of passing silently.
///
/// The units are each rule's own: the deliveries, comparisons or promises it checked.
public struct RuleExercise: Sendable, Equatable {
    public private(set) var counts: [Rule: Int] = [:]

    public init() {}

    public subscript(rule: Rule) -> Int { counts[rule] ?? 0 }

    public mutating func add(_ other: RuleExercise) {
        for (rule, count) in other.counts { counts[rule, default: 0] += count }
    }

    mutating func count(_ rule: Rule, _ n: Int = 1) { counts[rule, default: 0] += n }

    /// "totalOrder 1204, integrity 5120, …", in `Rule.allCases` order.
    public var description: String {
        Rule.allCases.map { "\($0) \(self[$0])" }.joined(separator: ", ")
    }

    /// The rules that examined nothing.
    public var idle: [Rule] { Rule.allCases.filter { self[$0] == 0 } }
}

extension Checkers {
    /// What each rule of `checkAll` examines on `history` with `options`.
    public static func exercise(_ history: History, options: CheckOptions = CheckOptions()) -> RuleExercise {
        let ix = HistoryIndex(history)
        var e = RuleExercise()
        let h = ix.history
        for p in ix.processes {
            e.count(.integrity, p.deliveries.count)
            e.count(.configurationConsistency, p.configs.count)
            var viewed = Set<String>()
            for entry in p.log {
                if case .view(let view) = entry.event {
                    viewed.insert(view.group)
                    if view.added != nil { e.count(.views) }  // rule 5: its added and removed
                }
                guard case .deliver(let id, let service, _) = entry.event else { continue }
                if service >= .agreed { e.count(.totalOrder) }
                if service == .safe { e.count(.safeDelivery) }
                if service >= .fifo { e.count(.fifo) }
                if service >= .causal { e.count(.causal) }
                if let m = ix.messageIndex[id], let groups = ix.sent[Int(m)]?.groups, groups.contains(where: viewed.contains) {
                    e.count(.viewPlacement)
                }
            }
            if h.aliveAtEnd.contains(p.id) && h.crashedAt[p.id] == nil {
                for entry in p.log {
                    guard case .submit(let name) = entry.event, let m = ix.messageIndex[name], ix.service[Int(m)] >= .reliable
                    else { continue }
                    if options.hasGrace(after: ix.sent[Int(m)]?.submittedAt ?? entry.time, endTime: h.endTime) {
                        e.count(.selfDelivery)
                    }
                }
            }
        }
        for (_, members) in ix.segmentGroups + ix.finalGroups(options) where members.count > 1 {
            e.count(.failureAtomicity, members.count - 1)
            e.count(.views, members.count - 1)
        }
        // Liveness: the convergence clause once, plus one per message its delivery clause requires.
        if let quiet = h.quiescentFrom, quiet <= UInt64.max - options.livenessBound,
            h.endTime >= quiet + options.livenessBound
        {
            let deadline = quiet + options.livenessBound
            e.count(.liveness)
            for sent in ix.sent {
                guard let sent, h.aliveAtEnd.contains(sent.sender), sent.service >= .reliable, sent.submittedAt >= deadline,
                    options.hasGrace(after: sent.submittedAt, endTime: h.endTime)
                else { continue }
                e.count(.liveness, h.aliveAtEnd.count - 1)
            }
        }
        return e
    }
}
