/// Rule `causal`, its completeness clause: a process that delivers a causal message m2 in a view V
/// of one of m2's groups G, where m2's sender submitted m2 also in V, first delivers every causal
/// message to G that m2's sender had delivered in V before submitting m2, and every earlier causal
/// message to G that the sender itself submitted in V. (The order clause in `checkCausal` only
/// compares messages a process delivers both of; this one catches a causal predecessor skipped
/// altogether. By induction over the senders it covers chains of predecessors within one view.)
///
/// A view id means one membership everywhere, so a process showing V is addressed by every
/// message to G delivered in V, and the view rule puts such a message in V wherever it is
/// delivered: skipping it is never legal. A process is in V from V's view event to its next
/// configuration event (a group left without members there gets no further view).
///
/// Method: per (sender, group, view) the sender's list of such predecessors in log order; each
/// submission records how long both lists were. A receiver keeps, per list, how long a prefix of
/// it it has delivered, advanced lazily at each check (amortised linear in the lists' lengths).
extension Checkers {
    static func checkCausalCompleteness(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        let isCausal = ix.service.map { $0 >= .causal }
        guard isCausal.contains(true) else { return }
        let lists = CausalPredecessorLists(ix, isCausal)
        var delivered = [Bool](repeating: false, count: ix.messageCount)
        for p in ix.processes {
            for i in delivered.indices { delivered[i] = false }
            var prefix = [Int](repeating: 0, count: lists.lists.count)
            p.walkInViews { logIndex, event, view in
                switch event {
                case .firstDelivery(let m):
                    if isCausal[m] {
                        for need in lists.needs[m] where view[need.group] == need.view {
                            let missing = lists.firstMissing(need, &prefix, delivered)
                            guard let missing else { continue }
                            sink.report(
                                "\(p.id) delivered \(ix.messageIDs[m]) in view \(need.view) of group \(need.group) (log #\(logIndex)) without its causal predecessor \(ix.messageIDs[missing]), which its sender \(lists.senders[need.list]) \(need.own ? "submitted" : "delivered") in that view before submitting it",
                                processes: [p.id])
                        }
                    }
                    delivered[m] = true
                case .submit:
                    break
                }
            }
        }
    }
}

/// Per (sender, group, view): the causal messages to the group the sender delivered, or itself
/// submitted, in that view, in log order; and per submission, how much of each it was preceded by.
struct CausalPredecessorLists {
    struct Need {
        var group: String
        var view: ViewIdentifier
        /// Index into `lists`; `own` tells which kind of list it is.
        var list: Int
        var own: Bool
        var length: Int
    }

    private struct Key: Hashable {
        var sender: Int
        var group: String
        var view: ViewIdentifier
        var own: Bool
    }

    private(set) var lists: [[Int32]] = []
    private(set) var senders: [ProcessID] = []
    /// Per message: what its delivery requires (empty for non-causal or unsubmitted messages).
    private(set) var needs: [[Need]]

    init(_ ix: HistoryIndex, _ isCausal: [Bool]) {
        needs = [[Need]](repeating: [], count: ix.messageCount)
        var listOf: [Key: Int] = [:]
        func list(_ key: Key) -> Int {
            if let known = listOf[key] { return known }
            listOf[key] = lists.count
            lists.append([])
            senders.append(ix.processes[key.sender].id)
            return lists.count - 1
        }
        for (pi, p) in ix.processes.enumerated() {
            p.walkInViews { _, event, view in
                switch event {
                case .firstDelivery(let m):
                    guard isCausal[m], let groups = ix.sent[m]?.groups else { return }
                    for group in groups {
                        guard let v = view[group] else { continue }
                        lists[list(Key(sender: pi, group: group, view: v, own: false))].append(Int32(m))
                    }
                case .submit(let id):
                    guard let m = ix.messageIndex[id].map(Int.init), isCausal[m], let sent = ix.sent[m], sent.sender == p.id
                    else { return }
                    for group in sent.groups {
                        guard let v = view[group] else { continue }
                        for own in [false, true] {
                            let l = list(Key(sender: pi, group: group, view: v, own: own))
                            if !lists[l].isEmpty {
                                needs[m].append(Need(group: group, view: v, list: l, own: own, length: lists[l].count))
                            }
                        }
                        lists[list(Key(sender: pi, group: group, view: v, own: true))].append(Int32(m))
                    }
                }
            }
        }
    }

    /// The first message of `need`'s prefix not delivered yet, advancing the receiver's `prefix`.
    func firstMissing(_ need: Need, _ prefix: inout [Int], _ delivered: [Bool]) -> Int? {
        let list = lists[need.list]
        while prefix[need.list] < need.length && delivered[Int(list[prefix[need.list]])] { prefix[need.list] += 1 }
        return prefix[need.list] < need.length ? Int(list[prefix[need.list]]) : nil
    }
}

extension ProcessIndex {
    /// What `walkInViews` reports.
    enum ViewedEvent {
        case firstDelivery(Int)
        case submit(MessageID)
    }

    /// Walks the log, reporting first deliveries and submissions with the view of each group the
    /// process is in at that point (a configuration event ends them all).
    func walkInViews(_ body: (_ logIndex: Int, _ event: ViewedEvent, _ view: [String: ViewIdentifier]) -> Void) {
        var view: [String: ViewIdentifier] = [:]
        var deliveryIndex = 0
        for (logIndex, entry) in log.enumerated() {
            switch entry.event {
            case .configuration:
                view.removeAll(keepingCapacity: true)  // a group without a view here has none
            case .view(let v):
                view[v.group] = v.viewID
            case .deliver:
                let d = deliveries[deliveryIndex]
                deliveryIndex += 1
                if d.isFirst { body(logIndex, .firstDelivery(Int(d.message)), view) }
            case .submit(let id):
                body(logIndex, .submit(id), view)
            default:
                break
            }
        }
    }
}
