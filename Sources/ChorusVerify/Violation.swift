/// The rules the checkers enforce; one case per checker in `Checkers`.
public enum Rule: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Agreed/safe messages are delivered in one global order, and configuration changes sit at
    /// the same points of that order.
    case totalOrder
    /// No duplicate, unknown, corrupted or re-labelled deliveries.
    case integrity
    /// Processes moving together between two configurations delivered the same messages.
    case failureAtomicity
    /// A process alive at the end delivers its own (reliable or stronger) messages.
    case selfDelivery
    /// Safe messages are delivered only once every member holds them, and then everywhere.
    case safeDelivery
    /// Per-session order and no gaps for fifo-or-stronger messages.
    case fifo
    /// Causal order for causal-or-stronger messages.
    case causal
    /// Group views: increasing ids, transitional followed by regular, same views in the same place.
    case views
    /// Every message falls in the group views of the configuration it was delivered in: never
    /// between a transitional view and the regular view of its own configuration, never before
    /// that regular view, and never after the views of a newer configuration.
    case viewPlacement
    /// Configuration ids, member lists and transitional configurations are consistent.
    case configurationConsistency
    /// After quiescence, one final configuration of all live processes, and delivery everywhere.
    case liveness

    public var description: String { rawValue }
}

/// One broken promise found in a history.
public struct Violation: Sendable, Hashable, CustomStringConvertible {
    public var rule: Rule
    /// What went wrong, naming the processes, messages, configurations and order involved.
    public var message: String
    /// The processes involved (sorted, no duplicates).
    public var processes: [ProcessID]
    /// The messages involved (in the order the message text mentions them).
    public var messages: [MessageID]

    public init(rule: Rule, message: String, processes: [ProcessID] = [], messages: [MessageID] = []) {
        self.rule = rule
        self.message = message
        self.processes = Array(Set(processes)).sorted()
        self.messages = messages
    }

    public var description: String { "[\(rule)] \(message)" }
}
