import ChorusVerify
import Testing

private typealias B = HistoryBuilder
private let a = B.p(1), b = B.p(2), c = B.p(3), d = B.p(4)

/// Processes `ps` share regular configuration 1.
private func base(_ ps: [ProcessID] = [a, b]) -> B {
    var h = B()
    h.regular(B.config(1), members: ps)
    return h
}

@Test func totalOrderSwapIsCaught() {
    var h = base()
    let x = h.send(a, .agreed)
    let y = h.send(b, .safe)
    h.receive(y, at: [a, b])
    h.deliverAll([x, y], at: [a])
    h.deliverAll([y, x], at: [b])
    let history = h.finish(alive: [a, b])
    let violations = Checkers.checkAll(history, options: testOptions)
    #expect(rules(violations) == [.totalOrder], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations[0].processes == [a, b])
    #expect(Set(violations[0].messages) == [x, y])
    #expect(violations[0].message.contains("\(a) delivered \(x) (agreed) before \(y) (safe)"))
    #expect(Checkers.totalOrder(history, options: testOptions).count == 1)
}

@Test func totalOrderIgnoresWeakerServices() {
    var h = base()
    let x = h.send(a, .causal)
    let y = h.send(b, .fifo)
    h.deliverAll([x, y], at: [a])
    h.deliverAll([y, x], at: [b])
    #expect(Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions).isEmpty)
}

@Test func totalOrderThreeWayCycleIsCaught() {
    var h = base([a, b, c])
    let x = h.send(a, .agreed), y = h.send(b, .agreed), z = h.send(c, .agreed)
    h.deliverAll([x, y], at: [a])
    h.deliverAll([y, z], at: [b])
    h.deliverAll([z, x], at: [c])
    let violations = Checkers.totalOrder(h.finish(alive: [a, b, c]), options: testOptions)
    #expect(violations.count == 1)
    #expect(violations.first?.processes == [a, b, c])
}

@Test func configurationChangeAtDifferentPointsIsCaught() {
    var h = base()
    let x = h.send(a, .agreed)
    h.deliver(x, at: [a])
    h.transitional(to: B.config(2), members: [a, b])
    h.deliver(x, at: [b])  // b puts the transitional configuration before x
    h.regular(B.config(2), members: [a, b])
    let history = h.finish(alive: [a, b])
    let order = Checkers.totalOrder(history, options: testOptions)
    #expect(order.count == 1)
    #expect(order.first?.message.contains("by \(b) after transitional") == true)
    // That is also a failure-atomicity violation, in both configurations.
    #expect(rules(Checkers.checkAll(history, options: testOptions)) == [.totalOrder, .failureAtomicity])
}

@Test func fifoReorderIsCaught() {
    var h = base()
    let x1 = h.send(a, .fifo)
    let x2 = h.send(a, .fifo)
    h.deliverAll([x1, x2], at: [a])
    h.deliverAll([x2, x1], at: [b])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.fifo], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.processes == [b])
    #expect(violations.first?.messages == [x2, x1])
}

@Test func fifoAllowsInterleavingOfSessions() {
    var h = base()
    let x1 = h.send(a, .fifo, session: 1)
    let y1 = h.send(a, .fifo, session: 2)
    let x2 = h.send(a, .fifo, session: 1)
    h.deliverAll([x1, y1, x2], at: [a])
    h.deliverAll([x1, x2, y1], at: [b])
    #expect(Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions).isEmpty)
}

@Test func fifoGapIsCaught() {
    var h = base()
    let x1 = h.send(a, .fifo)
    let x2 = h.send(a, .fifo)
    h.deliverAll([x1, x2], at: [a])
    h.deliver(x2, at: [b])  // b skips x1, which the sender delivered in the same configuration
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.fifo], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.message.hasPrefix("gap:") == true)
    #expect(violations.first?.messages == [x1, x2])
}

@Test func fifoGapAcrossConfigurationsIsLegal() {
    // The sender delivered x1 in its own earlier configuration; b joined later and only gets x2.
    var h = B()
    h.regular(B.config(1, 1), members: [a])
    h.regular(B.config(1, 2), members: [b])
    let x1 = h.send(a, .fifo)
    h.deliver(x1, at: [a])
    h.transitional(to: B.config(2), members: [a], at: [a])
    h.transitional(to: B.config(2), members: [b], at: [b])
    h.regular(B.config(2), members: [a, b])
    let x2 = h.send(a, .fifo)
    h.deliver(x2, at: [a, b])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(violations.isEmpty, "\(violations)")
}

@Test func causalInversionIsCaught() {
    var h = base([a, b, c])
    let x = h.send(a, .causal)
    h.deliver(x, at: [a, b])
    let y = h.send(b, .causal)  // b delivered x first: x → y
    h.deliver(y, at: [a, b, c])
    h.deliver(x, at: [c])  // c: y before x
    let violations = Checkers.checkAll(h.finish(alive: [a, b, c]), options: testOptions)
    #expect(rules(violations) == [.causal], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.processes == [c])
    #expect(violations.first?.messages == [x, y])
}

@Test func transitiveCausalInversionIsCaught() {
    var h = base([a, b, c, d])
    let x = h.send(a, .agreed)
    h.deliver(x, at: [a, b])
    let y = h.send(b, .causal)
    h.deliver(y, at: [b, c])
    let z = h.send(c, .safe)
    h.receive(z, at: [a, b, c, d])
    h.deliver(z, at: [c, d])
    h.deliver(x, at: [d])  // x → y → z, d never sees y but delivers z before x
    let causal = Checkers.causal(h.finish(alive: [a, b, c, d]), options: testOptions)
    #expect(causal.count == 1, "\(causal)")
    #expect(causal.first?.messages == [x, z])
}

@Test func concurrentCausalMessagesMayBeDeliveredInAnyOrder() {
    var h = base([a, b, c])
    let x = h.send(a, .causal)
    let y = h.send(b, .causal)
    h.deliverAll([x, y], at: [a, c])
    h.deliverAll([y, x], at: [b])
    #expect(Checkers.checkAll(h.finish(alive: [a, b, c]), options: testOptions).isEmpty)
}

@Test func sameSessionCausalOrderIsCaughtEvenWithoutDeliveryAtTheSender() {
    var h = base()
    let x1 = h.send(a, .causal)
    let x2 = h.send(a, .causal)
    h.deliverAll([x1, x2], at: [a])
    h.deliverAll([x2, x1], at: [b])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    // Both the session order and causality are broken.
    #expect(rules(violations) == [.fifo, .causal], "\(violations)")
}

/// a, b and c show view 1 of g; a's causal x reaches a and b, b then sends y; c delivers y and
/// `cDeliversX` decides whether it delivered x first. c crashes right after, so only the causal
/// rule speaks for c's deliveries (no failure atomicity with the survivors).
private func skippedPredecessorHistory(cDeliversX: Bool, cShowsTheView: Bool = true) -> History {
    var h = base([a, b, c])
    let view = ViewIdentifier(configuration: B.config(1), index: 1)
    let members = [B.session(1), B.session(2), B.session(3)]
    h.view("g", view, members: members, changed: [B.session(3)], at: cShowsTheView ? [a, b, c] : [a, b])
    let x = h.send(a, .causal)
    h.deliver(x, at: [a, b])
    let y = h.send(b, .causal)  // b delivered x first: x → y
    if cDeliversX { h.deliver(x, at: [c]) }
    h.deliver(y, at: [a, b, c])
    h.crash(c)
    return h.finish(alive: [a, b])
}

@Test func aCausalPredecessorDeliveredFirstIsLegal() {
    #expect(Checkers.checkAll(skippedPredecessorHistory(cDeliversX: true), options: testOptions).isEmpty)
}

@Test func aSkippedCausalPredecessorIsCaught() {
    let violations = Checkers.checkAll(skippedPredecessorHistory(cDeliversX: false), options: testOptions)
    #expect(rules(violations) == [.causal], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.processes == [c])
    #expect(violations.first?.message.contains("without its causal predecessor") == true, "\(violations)")
}

/// Without a view of g at c, nothing says c was addressed by x: no violation.
@Test func aSkippedPredecessorOutsideAnyViewIsNotJudged() {
    let history = skippedPredecessorHistory(cDeliversX: false, cShowsTheView: false)
    #expect(Checkers.causal(history, options: testOptions).isEmpty)
}
