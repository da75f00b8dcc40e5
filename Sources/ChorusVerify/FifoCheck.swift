/// Rule `fifo`, for messages of service fifo or stronger (first deliveries only):
/// 1. Order: every process delivers the messages of one session (sender process + session key) in
///    increasing `MessageID.seq`.
/// 2. No gaps (conservative): let the sender S deliver messages m1 < m2 of one session, both while
///    in regular configuration C or the transitional configuration following C, with m1 the
///    session's largest seq below m2 that S delivered there. If p delivers m2 while in C (or the
///    transitional configuration following C at p), p must deliver m1 too, anywhere in its log
///    (delivering it after m2 is reported by the order check). Messages the sender itself did not deliver in that configuration, and
///    deliveries of m2 in another configuration, are never required, so legal EVS gaps (messages
///    lost with a partitioned sender) are not flagged. Checking the immediate predecessor suffices:
///    the chain of predecessors is then checked at each link.
extension Checkers {
    static func checkFifo(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        let n = ix.messageCount
        func isFifo(_ m: Int32) -> Bool { ix.service[Int(m)] >= .fifo }

        // 1. Order.
        for p in ix.processes {
            var last: [SessionRef: Int32] = [:]
            for d in p.deliveries where d.isFirst && isFifo(d.message) {
                let m = d.message
                let s = ix.session[Int(m)]
                if let previous = last[s], ix.id(previous).seq > ix.id(m).seq {
                    sink.report(
                        "\(p.id) delivered \(ix.describe(m)) after \(ix.describe(previous)) of the same session \(s): not in seq order",
                        processes: [p.id], messages: [ix.id(previous), ix.id(m)])
                    continue
                }
                last[s] = m
            }
        }

        // 2. Gaps. Predecessor of each message within what its sender delivered in one configuration.
        struct Slot: Hashable {
            var configuration: ConfigurationID
            var session: SessionRef
        }
        var predecessor = [Int32](repeating: -1, count: n)
        var senderConfiguration = [ConfigurationID?](repeating: nil, count: n)
        for s in ix.processes {
            var lists: [Slot: [Int32]] = [:]
            for d in s.deliveries where d.isFirst && isFifo(d.message) && ix.sent[Int(d.message)]?.sender == s.id {
                guard let r = s.regularConfiguration(of: d) else { continue }
                lists[Slot(configuration: r.event.id, session: ix.session[Int(d.message)]), default: []].append(d.message)
                senderConfiguration[Int(d.message)] = r.event.id
            }
            for (_, list) in lists {
                let sorted = list.sorted { ix.id($0).seq < ix.id($1).seq }
                for k in sorted.indices.dropFirst() { predecessor[Int(sorted[k])] = sorted[k - 1] }
            }
        }
        for p in ix.processes {
            for d in p.deliveries where d.isFirst {
                let m2 = d.message
                let m1 = predecessor[Int(m2)]
                guard m1 >= 0, let r = p.regularConfiguration(of: d), r.event.id == senderConfiguration[Int(m2)] else {
                    continue
                }
                // Delivered later is an order violation, reported above.
                if !p.delivered(m1) {
                    let sender = ix.sent[Int(m2)]!.sender
                    sink.report(
                        "gap: \(p.id) delivered \(ix.describe(m2)) (log #\(d.logIndex)) in regular \(r.event.id) (or its transitional) "
                            + "but never delivered its predecessor \(ix.describe(m1)) of the same session; the sender \(sender) delivered both there",
                        processes: [p.id, sender], messages: [ix.id(m1), ix.id(m2)])
                }
            }
        }
    }
}
