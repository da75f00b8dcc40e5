import ChorusVerify
import Testing

private typealias B = HistoryBuilder
private let a = B.p(1), b = B.p(2), c = B.p(3)

private func base(_ ps: [ProcessID] = [a, b]) -> B {
    var h = B()
    h.regular(B.config(1), members: ps)
    return h
}

@Test func duplicateDeliveryIsCaught() {
    var h = base()
    let x = h.send(a, .agreed)
    h.deliver(x, at: [a, b])
    let y = h.send(a, .agreed)
    h.deliver(y, at: [a, b])
    h.deliver(x, at: [b])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.integrity], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.message.contains("\(b) delivered \(x) twice") == true)
}

@Test func corruptedDeliveryIsCaught() {
    var h = base()
    let x = h.send(a, .reliable)
    h.deliver(x, at: [a])
    h.deliver(x, at: [b], hash: 0xdead)
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.integrity], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.message.contains("0xdead") == true)
    #expect(violations.first?.processes == [a, b])
}

@Test func unknownAndRelabelledDeliveriesAreCaught() {
    var h = base()
    let x = h.send(a, .fifo)
    h.deliver(x, at: [a])
    h.deliver(x, at: [b], service: .agreed)
    let ghost = MessageID(session: B.session(9), seq: 1)
    h.deliver(ghost, at: [b])
    let violations = Checkers.integrity(h.finish(alive: [a, b]), options: testOptions)
    #expect(violations.count == 2, "\(violations)")
    #expect(violations.contains { $0.message.contains("as agreed, but it was sent as fifo") })
    #expect(violations.contains { $0.messages == [ghost] && $0.message.contains("no such message was ever sent") })
}

@Test func failureAtomicityViolationIsCaught() {
    var h = base()
    let x = h.send(a, .reliable)
    h.deliver(x, at: [a])  // b misses x, yet moves on with a
    h.transitional(to: B.config(2), members: [a, b])
    h.regular(B.config(2), members: [a, b])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.failureAtomicity], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.messages == [x])
    #expect(violations.first?.message.contains("only \(a) delivered [\(x)]; only \(b) delivered []") == true)
}

@Test func failureAtomicityIgnoresUnreliableAndSeparatedProcesses() {
    var h = base([a, b, c])
    let u = h.send(a, .unreliable)
    let x = h.send(a, .reliable)
    h.deliver(u, at: [a])
    h.deliver(x, at: [a, b])  // c is cut off before x and goes its own way: legal
    h.transitional(to: B.config(2), members: [a, b])
    h.transitional(to: B.config(2, 3), members: [c])
    h.regular(B.config(2), members: [a, b])
    h.regular(B.config(2, 3), members: [c])
    #expect(Checkers.checkAll(h.finish(alive: [a, b, c]), options: testOptions).isEmpty)
}

@Test func missingSelfDeliveryIsCaught() {
    var h = base()
    let x = h.send(a, .fifo)
    _ = x
    let history = h.finish(alive: [a, b], extra: 10 * testBound)
    let violations = Checkers.checkAll(history, options: testOptions)
    #expect(rules(violations) == [.selfDelivery], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.messages == [x])
    #expect(violations.first?.processes == [a])
}

@Test func selfDeliveryAllowsMessagesStillInFlightOrUnreliableOrCrashed() {
    var h = base()
    h.send(a, .unreliable)
    h.send(b, .reliable)
    h.crash(b)
    h.send(a, .agreed)  // too recent: the run ends right after
    #expect(Checkers.checkAll(h.finish(alive: [a], extra: testBound / 2), options: testOptions).isEmpty)
}

@Test func safeDeliveredBeforeAMemberReceivedIsCaught() {
    var h = base()
    let x = h.send(a, .safe)
    h.deliver(x, at: [a])  // a delivers before b holds x
    h.receive(x, at: [b])
    h.deliver(x, at: [b])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.safeDelivery], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.message.contains("member \(b) only received it at t=") == true)
}

@Test func safeNeverDeliveredByALiveMemberIsCaught() {
    var h = base()
    let x = h.send(a, .safe)
    h.receive(x, at: [b])
    h.deliver(x, at: [a])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.safeDelivery], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.message.contains("never delivered it") == true)
    // A member that crashed owes nothing.
    var crashed = h
    crashed.crash(b)
    #expect(Checkers.safeDelivery(crashed.finish(alive: [a]), options: testOptions).isEmpty)
}
