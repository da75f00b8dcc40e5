import ChorusVerify
import Testing

private typealias B = HistoryBuilder

/// A legal run: three daemons in one configuration, a partition {d1, d2} | {d3} with transitional
/// configurations, d3 crashing and coming back as a new incarnation, then a merge of everybody,
/// with every service, group views, causal chains and safe messages along the way.
func legalHistory() -> History {
    let a = B.p(1), b = B.p(2), c = B.p(3), c2 = B.p(3, 1)
    var h = B()
    let c1 = B.config(1)
    h.regular(c1, members: [a, b, c])
    h.view("g", ViewIdentifier(configuration: c1, index: 1), members: [B.session(1), B.session(2)], at: [a, b, c])
    let m1 = h.send(a, .agreed)
    let m2 = h.send(b, .safe)
    let m3 = h.send(c, .fifo)
    let m4 = h.send(c, .fifo)
    let u = h.send(c, .unreliable)
    h.receive(m2, at: [a, b, c])
    h.deliverAll([m1, m2, m3, m4], at: [a, b, c])
    h.deliver(u, at: [c, a])  // unreliable: b may miss it
    h.view(
        "g", ViewIdentifier(configuration: c1, index: 2), reason: .leave, members: [B.session(1)],
        changed: [B.session(2)], at: [a, b, c])
    let m5 = h.send(a, .causal)
    h.deliver(m5, at: [a, b, c])
    let m6 = h.send(b, .causal)  // after b delivered m5: m5 → m6
    h.deliver(m6, at: [a, b, c])

    // Partition {a, b} | {c}.
    let c2id = B.config(2, 1), c3id = B.config(2, 3)
    h.transitional(to: c2id, members: [a, b])
    h.transitional(to: c3id, members: [c])
    let m7 = h.send(a, .safe)
    h.receive(m7, at: [a, b])
    h.deliver(m7, at: [a, b])  // safe, delivered in the transitional configuration
    h.view(
        "g", ViewIdentifier(configuration: c2id, index: 1), .transitional, reason: .network, members: [B.session(1)],
        changed: [B.session(1)], at: [a, b])
    h.regular(c2id, members: [a, b])
    h.regular(c3id, members: [c])
    h.view("g", ViewIdentifier(configuration: c2id, index: 2), reason: .network, members: [B.session(1)], at: [a, b])
    h.view("g", ViewIdentifier(configuration: c3id, index: 1), reason: .network, members: [B.session(1)], at: [c])
    let m8 = h.send(c, .reliable)
    h.deliver(m8, at: [c])
    h.crash(c)

    // d3 restarts as a new process, alone.
    let c4id = B.config(3, 3)
    h.regular(c4id, members: [c2])
    let m9 = h.send(a, .agreed)
    h.deliver(m9, at: [a, b])
    let f1 = h.send(c2, .fifo)
    h.deliver(f1, at: [c2])
    h.quiesce()

    // Merge.
    let c5id = B.config(4, 1)
    h.transitional(to: c5id, members: [a, b])
    h.transitional(to: c5id, members: [c2])
    h.regular(c5id, members: [a, b, c2])
    h.view("g", ViewIdentifier(configuration: c5id, index: 1), reason: .network, members: [B.session(1)], at: [a, b, c2])
    let m10 = h.send(c2, .safe)
    let f2 = h.send(c2, .fifo)  // its predecessor f1 was delivered in another configuration: not required
    h.receive(m10, at: [c2, a, b])
    h.deliver(m10, at: [a, b, c2])
    h.deliver(f2, at: [c2, b, a])
    let m11 = h.send(a, .agreed)
    h.deliver(m11, at: [b, c2, a])
    return h.finish(alive: [a, b, c2])
}

@Test func legalHistoryHasNoViolations() {
    let history = legalHistory()
    let violations = Checkers.checkAll(history, options: testOptions)
    #expect(violations.isEmpty, "\(violations)")
    for rule in Rule.allCases {
        #expect(Checkers.check(rule, history, options: testOptions).isEmpty)
    }
}

@Test func legalHistoryIsActuallyCheckedForLiveness() {
    // The legal history meets the liveness deadline; a bound so short that the final configuration
    // comes after it must be flagged, which shows the liveness rule really ran on it.
    let history = legalHistory()
    let violations = Checkers.liveness(history, options: CheckOptions(livenessBound: 1))
    #expect(!violations.isEmpty)
    #expect(violations.allSatisfy { $0.message.contains("after the liveness deadline") })
}

/// A larger generated run: 8 daemons in one configuration, rounds in which every daemon submits one
/// message (services rotating) and then everybody delivers the round in one order.
func generatedHistory(processes: Int = 8, rounds: Int = 400) -> (History, [[MessageID]]) {
    var h = B()
    let all = (1...processes).map { B.p(UInt32($0)) }
    h.regular(B.config(1), members: all)
    var batches: [[MessageID]] = []
    let services: [ServiceLevel] = [.reliable, .fifo, .causal, .agreed, .safe]
    for round in 0..<rounds {
        var batch: [MessageID] = []
        for (i, p) in all.enumerated() {
            batch.append(h.send(p, services[(round + i) % services.count]))
        }
        for m in batch where h.history.sent[m]!.service == .safe { h.receive(m, at: all) }
        h.deliverAll(batch, at: all)
        batches.append(batch)
    }
    return (h.finish(alive: all), batches)
}

@Test func generatedHistoryIsLegalAndQuick() {
    let (history, _) = generatedHistory()
    let clock = ContinuousClock()
    var violations: [Violation] = []
    let elapsed = clock.measure { violations = Checkers.checkAll(history, options: testOptions) }
    #expect(violations.isEmpty, "\(violations.prefix(3))")
    #expect(elapsed < .seconds(30))
}

@Test func generatedHistoryWithOneSwapIsCaught() {
    var (history, batches) = generatedHistory()
    // Swap, at d5, two agreed/safe messages of the same round (concurrent, from different daemons).
    let round = batches[300]
    let strong = round.filter { history.sent[$0]!.service >= .agreed }
    let (x, y) = (strong[0], strong[1])
    let p = B.p(5)
    var log = history.logs[p]!
    let i = log.firstIndex { if case .deliver(x, _, _) = $0.event { true } else { false } }!
    let j = log.firstIndex { if case .deliver(y, _, _) = $0.event { true } else { false } }!
    log.swapAt(i, j)
    (log[i].time, log[j].time) = (log[j].time, log[i].time)
    history.logs[p] = log
    let violations = Checkers.checkAll(history, options: testOptions)
    #expect(rules(violations) == [.totalOrder], "\(violations)")
    #expect(violations.count == 1)  // one cycle: d5 orders y before x, the others x before y
    #expect(violations.first?.messages.sorted() == [x, y].sorted())
    #expect(violations.first?.processes.contains(p) == true)
}
