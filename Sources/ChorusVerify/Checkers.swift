/// Entry points: `checkAll` runs every enabled rule on one shared index of the history; the
/// per-rule functions run one rule (they ignore `disabledRules`) and exist so tests can target them.
public enum Checkers {
    /// Runs every rule not in `options.disabledRules`, in `Rule.allCases` order.
    public static func checkAll(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        let index = HistoryIndex(history)
        return Rule.allCases.filter(options.isEnabled).flatMap { run($0, index, options) }
    }

    /// Runs one rule.
    public static func check(_ rule: Rule, _ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        run(rule, HistoryIndex(history), options)
    }

    public static func totalOrder(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.totalOrder, history, options: options)
    }
    public static func integrity(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.integrity, history, options: options)
    }
    public static func failureAtomicity(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.failureAtomicity, history, options: options)
    }
    public static func selfDelivery(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.selfDelivery, history, options: options)
    }
    public static func safeDelivery(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.safeDelivery, history, options: options)
    }
    public static func fifo(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.fifo, history, options: options)
    }
    public static func causal(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.causal, history, options: options)
    }
    public static func views(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.views, history, options: options)
    }
    public static func viewPlacement(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.viewPlacement, history, options: options)
    }
    public static func configurationConsistency(_ history: History, options: CheckOptions = CheckOptions())
        -> [Violation]
    {
        check(.configurationConsistency, history, options: options)
    }
    public static func liveness(_ history: History, options: CheckOptions = CheckOptions()) -> [Violation] {
        check(.liveness, history, options: options)
    }

    static func run(_ rule: Rule, _ index: HistoryIndex, _ options: CheckOptions) -> [Violation] {
        var sink = ViolationSink(rule: rule, limit: options.maxViolationsPerRule)
        switch rule {
        case .totalOrder: checkTotalOrder(index, &sink)
        case .integrity: checkIntegrity(index, &sink)
        case .failureAtomicity: checkFailureAtomicity(index, options, &sink)
        case .selfDelivery: checkSelfDelivery(index, options, &sink)
        case .safeDelivery: checkSafeDelivery(index, options, &sink)
        case .fifo: checkFifo(index, &sink)
        case .causal:
            checkCausal(index, &sink)
            checkCausalCompleteness(index, &sink)
        case .views: checkViews(index, options, &sink)
        case .viewPlacement: checkViewPlacement(index, &sink)
        case .configurationConsistency: checkConfigurationConsistency(index, &sink)
        case .liveness: checkLiveness(index, options, &sink)
        }
        return sink.finish()
    }
}
