import ChorusVerify
import Testing

private typealias B = HistoryBuilder
private let a = B.p(1), b = B.p(2), c = B.p(3)
private let c1 = B.config(1), c2 = B.config(2)
private let s1 = B.session(1), s2 = B.session(2)

private func view(_ config: ConfigurationID, _ index: UInt64) -> ViewIdentifier {
    ViewIdentifier(configuration: config, index: index)
}

@Test func decreasingViewIdsAreCaught() {
    var h = B()
    h.regular(c1, members: [a])
    h.view("g", view(c1, 2), members: [s1], at: [a])
    h.view("g", view(c1, 1), members: [s1], at: [a])
    h.view("other", view(c1, 1), members: [s1], at: [a])  // other groups have their own sequence
    let violations = Checkers.checkAll(h.finish(alive: [a]), options: testOptions)
    #expect(rules(violations) == [.views], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.message.contains("\(view(c1, 2)) then \(view(c1, 1))") == true)
}

@Test func transitionalViewMustBeFollowedByRegularView() {
    var h = B()
    h.regular(c1, members: [a])
    h.view("g", view(c1, 1), .transitional, reason: .network, members: [s1], at: [a])
    h.view("g", view(c1, 2), .transitional, reason: .network, members: [s1], at: [a])
    let violations = Checkers.views(h.finish(alive: [a]), options: testOptions)
    #expect(violations.count == 1)
    #expect(violations.first?.message.contains("followed by another transitional view") == true)
}

/// s1 joins, s2 joins, then a configuration change takes s2 away (transitional, then regular),
/// each view reporting what it added and removed; `wrong` names the view that misreports.
private func differenceHistory(wrong: String? = nil) -> History {
    var h = B()
    h.regular(c1, members: [a])
    h.view("g", view(c1, 1), members: [s1], changed: [s1], added: [s1], removed: [], at: [a])
    h.view(
        "g", view(c1, 2), members: [s1, s2], changed: [s2], added: wrong == "join" ? [s1, s2] : [s2], removed: [],
        at: [a])
    h.transitional(to: c2, members: [a])
    h.view(
        "g", view(c2, 0), .transitional, reason: .network, members: [s1], changed: [s1], added: [],
        removed: wrong == "transitional" ? [] : [s2], at: [a])
    h.regular(c2, members: [a])
    h.view(
        "g", view(c2, 1), reason: .network, members: [s1], changed: [s1], added: wrong == "regular" ? [s2] : [],
        removed: [], at: [a])
    h.view("g", view(c2, 2), reason: .leave, members: [], changed: [s1], added: [], removed: wrong == "leave" ? [] : [s1], at: [a])
    return h.finish(alive: [a])
}

@Test func viewDifferencesThatMatchThePreviousViewAreLegal() {
    #expect(Checkers.views(differenceHistory(), options: testOptions).isEmpty)
    #expect(Checkers.exercise(differenceHistory(), options: testOptions)[.views] >= 5)
}

@Test(arguments: ["join", "transitional", "regular", "leave"])
func aViewThatMisreportsWhatItAddedOrRemovedIsCaught(wrong: String) {
    let violations = Checkers.views(differenceHistory(wrong: wrong), options: testOptions)
    #expect(!violations.isEmpty, "the \(wrong) view's difference is wrong")
    #expect(violations.allSatisfy { $0.message.contains("against the previous view") }, "\(violations)")
}

/// a and b move together from configuration 1 to 2; `shift` delays b's view past one agreed delivery.
private func viewsHistory(shift: Bool, members: [SessionKey] = [s1, s2]) -> History {
    var h = B()
    h.regular(c1, members: [a, b])
    let x = h.send(a, .agreed)
    if !shift { h.view("g", view(c1, 1), members: [s1, s2], at: [a, b]) }
    if shift { h.view("g", view(c1, 1), members: [s1, s2], at: [a]) }
    h.deliver(x, at: [a, b])
    if shift { h.view("g", view(c1, 1), members: members, at: [b]) }
    h.transitional(to: c2, members: [a, b])
    h.regular(c2, members: [a, b])
    return h.finish(alive: [a, b])
}

@Test func viewsAtTheSamePointAreLegal() {
    let violations = Checkers.checkAll(viewsHistory(shift: false), options: testOptions)
    #expect(violations.isEmpty, "\(violations)")
}

@Test func viewsAtDifferentPointsAreCaught() {
    let violations = Checkers.checkAll(viewsHistory(shift: true), options: testOptions)
    #expect(rules(violations) == [.views], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.processes == [a, b])
    #expect(violations.first?.message.contains("after 0 agreed/safe deliveries") == true)
    #expect(violations.first?.message.contains("after 1 agreed/safe deliveries") == true)
}

/// a and b move together; b delivers the causal message x before the view of its group that a
/// delivered it after.
private func causalAcrossViewHistory(shift: Bool) -> History {
    var h = B()
    h.regular(c1, members: [a, b])
    let x = h.send(a, .causal)
    h.view("g", view(c1, 1), members: [s1, s2], at: [a])
    if shift { h.deliver(x, at: [b]) }
    h.view("g", view(c1, 1), members: [s1, s2], at: [b])
    h.deliver(x, at: shift ? [a] : [a, b])
    h.transitional(to: c2, members: [a, b])
    h.regular(c2, members: [a, b])
    return h.finish(alive: [a, b])
}

@Test func causalMessagesOnTheSameSideOfViewsAreLegal() {
    let violations = Checkers.checkAll(causalAcrossViewHistory(shift: false), options: testOptions)
    #expect(violations.isEmpty, "\(violations)")
}

@Test func causalMessageOnDifferentSidesOfAViewIsCaught() {
    let violations = Checkers.checkAll(causalAcrossViewHistory(shift: true), options: testOptions)
    #expect(rules(violations) == [.views], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.message.contains("but among different views of group g") == true)
}

/// Rule 4 holds whatever happens next: b crashes after misplacing the causal message.
@Test func causalMisplacementBeforeACrashIsCaught() {
    var h = B()
    h.regular(c1, members: [a, b, c])
    let x = h.send(a, .causal)
    h.view("g", view(c1, 1), members: [s1, s2], at: [a, c])
    h.deliver(x, at: [a, b, c])
    h.view("g", view(c1, 1), members: [s1, s2], at: [b])
    h.crash(b)
    let violations = Checkers.views(h.finish(alive: [a, c]), options: testOptions)
    #expect(violations.count == 1, "\(violations)")
    #expect(violations.first?.processes == [a, b])
}

@Test func differentViewMembersAreCaught() {
    var h = B()
    h.regular(c1, members: [a, b])
    h.view("g", view(c1, 1), members: [s1, s2], at: [a])
    h.view("g", view(c1, 1), members: [s1], at: [b])
    h.transitional(to: c2, members: [a, b])
    h.regular(c2, members: [a, b])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.views], "\(violations)")
    #expect(violations.count == 1)
}

@Test func memberListMismatchIsCaught() {
    var h = B()
    h.regular(c1, members: [a, b], at: [a])
    h.regular(c1, members: [a, b, c], at: [b])
    let violations = Checkers.checkAll(h.finish(alive: [a, b]), options: testOptions)
    #expect(rules(violations) == [.configurationConsistency], "\(violations)")
    #expect(violations.count == 1)
    #expect(violations.first?.processes == [a, b])
}

@Test func configurationStructureViolationsAreCaught() {
    var h = B()
    h.transitional(to: c1, members: [a], at: [a])  // first event transitional
    h.regular(c1, members: [a])
    h.regular(B.config(0, 9), members: [a])  // id goes down
    h.regular(c2, members: [b], at: [a])  // a not a member
    h.transitional(to: B.config(3), members: [a, c], at: [a])  // c not in the previous configuration
    h.regular(B.config(3), members: [a])  // ... nor in the next one
    let violations = Checkers.configurationConsistency(h.finish(alive: [a]), options: testOptions)
    let texts = violations.map(\.message)
    #expect(violations.count == 5, "\(texts)")
    #expect(texts.contains { $0.contains("first configuration event is transitional") })
    #expect(texts.contains { $0.contains("ids do not increase") })
    #expect(texts.contains { $0.contains("without being a member") })
    #expect(texts.contains { $0.contains("not in the preceding regular configuration") })
    #expect(texts.contains { $0.contains("not in regular configuration") })
}

@Test func transitionalMustLeadToItsRegularConfiguration() {
    var h = B()
    h.regular(c1, members: [a])
    h.transitional(to: c2, members: [a])
    h.regular(B.config(3), members: [a])
    let violations = Checkers.checkAll(h.finish(alive: [a]), options: testOptions)
    #expect(rules(violations) == [.configurationConsistency])
    #expect(violations.count == 1)
}

@Test func missingFinalConfigurationIsCaught() {
    var h = B()
    h.regular(c1, members: [a, b])
    h.transitional(to: B.config(2, 1), members: [a], at: [a])
    h.transitional(to: B.config(2, 2), members: [b], at: [b])
    h.regular(B.config(2, 1), members: [a])
    h.regular(B.config(2, 2), members: [b])
    h.quiesce()  // the network is whole again, but they never merge
    let violations = Checkers.checkAll(h.finish(alive: [a, b], extra: 10 * testBound), options: testOptions)
    #expect(rules(violations) == [.liveness], "\(violations)")
    #expect(violations.count == 3, "\(violations)")  // a's members, b's members, no convergence
    #expect(violations.contains { $0.message.contains("did not converge") })
    // Not checked before the deadline.
    #expect(Checkers.liveness(h.finish(alive: [a, b], extra: testBound / 2), options: testOptions).isEmpty)
}

/// a and b together in c1 and quiet; a reliable message of a, delivered by a only.
private func quietPairWithOneMessageLost() -> (B, MessageID) {
    var h = B()
    h.regular(c1, members: [a, b])
    h.quiesce()
    h.wait(2 * testBound)
    let x = h.send(a, .reliable)
    h.deliver(x, at: [a])
    return (h, x)
}

@Test func messageLostAfterQuiescenceIsCaught() {
    let (h, x) = quietPairWithOneMessageLost()
    let violations = Checkers.checkAll(h.finish(alive: [a, b], extra: 10 * testBound), options: testOptions)
    // Both stayed in c1 to the end: failure atomicity now compares that last stretch too.
    #expect(rules(violations) == [.failureAtomicity, .liveness], "\(violations)")
    #expect(violations.count == 2)
    let liveness = violations.first { $0.rule == .liveness }
    #expect(liveness?.processes == [a, b])
    #expect(liveness?.messages == [x])
    // A message sent within the grace period of the end is not compared yet.
    let (late, _) = quietPairWithOneMessageLost()
    #expect(Checkers.failureAtomicity(late.finish(alive: [a, b], extra: testBound / 2), options: testOptions).isEmpty)
}

@Test func violationsAreCappedPerRule() {
    var h = B()
    h.regular(c1, members: [a])
    let x = h.send(a, .reliable)
    for _ in 0..<31 { h.deliver(x, at: [a]) }
    let history = h.finish(alive: [a])
    let violations = Checkers.checkAll(history, options: CheckOptions(livenessBound: testBound, maxViolationsPerRule: 5))
    #expect(violations.count == 6)
    #expect(violations.last?.message.contains("25 more integrity") == true)
    let disabled = Checkers.checkAll(history, options: testOptions.disabling(.integrity))
    #expect(disabled.isEmpty)
}
