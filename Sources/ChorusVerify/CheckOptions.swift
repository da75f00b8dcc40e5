/// Tuning and switches for `Checkers.checkAll`.
public struct CheckOptions: Sendable {
    /// Virtual nanoseconds. For liveness: after `History.quiescentFrom` the system has this long to
    /// settle. It is also the grace period granted to "eventually delivers" promises (self delivery,
    /// safe delivery everywhere, liveness delivery): they are only checked for messages whose
    /// submission (or first delivery) is at least this long before `History.endTime`.
    public var livenessBound: UInt64
    /// Virtual nanoseconds a message (or view) may take to reach everyone once the system is
    /// whole: "eventually delivers" promises are only checked for messages at least this long
    /// before `History.endTime`. Nil: `livenessBound`. Shorter than `livenessBound`, it lets the
    /// liveness rule's message clause run on a quiet tail shorter than twice the settling bound.
    public var deliveryGrace: UInt64?
    /// Rules `checkAll` skips.
    public var disabledRules: Set<Rule>
    /// At most this many violations are reported per rule; if more were found, one extra violation
    /// of that rule says how many were left out.
    public var maxViolationsPerRule: Int

    public init(livenessBound: UInt64 = 10_000_000_000, disabledRules: Set<Rule> = [], maxViolationsPerRule: Int = 20) {
        self.livenessBound = livenessBound
        self.disabledRules = disabledRules
        self.maxViolationsPerRule = maxViolationsPerRule
    }

    public func isEnabled(_ rule: Rule) -> Bool { !disabledRules.contains(rule) }

    /// Returns a copy with `rules` disabled.
    public func disabling(_ rules: Rule...) -> CheckOptions {
        var copy = self
        copy.disabledRules.formUnion(rules)
        return copy
    }
}

extension CheckOptions {
    /// `deliveryGrace`, or `livenessBound` where none is set.
    var grace: UInt64 { deliveryGrace ?? livenessBound }

    /// Whether at least `grace` passed between `time` and `endTime`.
    func hasGrace(after time: UInt64, endTime: UInt64) -> Bool {
        time <= endTime && endTime - time >= grace
    }
}
