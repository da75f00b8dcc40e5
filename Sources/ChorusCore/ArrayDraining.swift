extension Array {
    /// Hands each element, first to last, to `body` as an owned value and leaves the array empty
    /// with its capacity kept. A `for` loop followed by `removeAll` retains each element's
    /// references once and releases them twice; this moves each element out instead, leaving
    /// `filler` (a value that holds no reference) in its place, so each is released once.
    @inlinable
    public mutating func drain(leaving filler: Element, _ body: (consuming Element) throws -> Void) rethrows {
        for index in indices {
            var element = filler
            swap(&element, &self[index])
            try body(element)
        }
        removeAll(keepingCapacity: true)
    }
}

extension RingAction {
    /// Holds no reference: what `drain(leaving:)` leaves behind.
    static let filler = RingAction.setTimer(.tokenLoss, deadline: 0)
}

extension GroupAction {
    /// Holds no reference: what `drain(leaving:)` leaves behind.
    static let filler = GroupAction.decodeError("")
}

extension EngineAction {
    /// Holds no reference: what `drain(leaving:)` leaves behind.
    public static let filler = EngineAction.setTimer(.tokenLoss, deadline: 0)
}
