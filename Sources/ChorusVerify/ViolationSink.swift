/// Collects the violations of one rule, keeping at most `limit` and counting the rest.
struct ViolationSink {
    let rule: Rule
    let limit: Int
    private(set) var violations: [Violation] = []
    private(set) var suppressed = 0

    init(rule: Rule, limit: Int) {
        self.rule = rule
        self.limit = max(limit, 0)
    }

    var isFull: Bool { violations.count >= limit }

    /// Records a violation; the text is only built if it is kept.
    mutating func report(
        _ message: @autoclosure () -> String, processes: [ProcessID] = [], messages: [MessageID] = []
    ) {
        if isFull {
            suppressed += 1
            return
        }
        violations.append(Violation(rule: rule, message: message(), processes: processes, messages: messages))
    }

    /// The kept violations, plus one summary violation if some were left out.
    func finish() -> [Violation] {
        guard suppressed > 0 else { return violations }
        return violations + [
            Violation(rule: rule, message: "… and \(suppressed) more \(rule) violation(s) not shown")
        ]
    }
}

/// Formats a short list of items, eliding past `limit`.
func listing<T: CustomStringConvertible>(_ items: some Collection<T>, limit: Int = 8) -> String {
    let shown = items.prefix(limit).map(\.description).joined(separator: ", ")
    return items.count > limit ? "[\(shown), … (\(items.count) in all)]" : "[\(shown)]"
}
