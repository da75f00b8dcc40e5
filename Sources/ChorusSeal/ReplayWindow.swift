/// Which counters of one sender's incarnation have been taken: the highest so far, and a bitmap
/// of the `size` below it. A counter taken before, or older than the window, is a replay. The
/// window is moved only by datagrams that authenticated, so a forgery cannot push it on.
public struct ReplayWindow: Sendable, Equatable {
    /// Counters the window covers below the highest: legitimate reordering up to this far is kept.
    public static let size: UInt64 = 4096
    private static let words = Int(size / 64)
    /// The highest counter taken; nil before the first.
    public private(set) var highest: UInt64?
    /// Bit `i` (word `i / 64`, bit `i % 64`) says whether `highest - i` was taken.
    private var taken = [UInt64](repeating: 0, count: ReplayWindow.words)

    public init() {}

    /// Whether `counter` would be taken (not seen, not too old). Does not change the window.
    public func admits(_ counter: UInt64) -> Bool {
        guard let highest else { return true }
        if counter > highest { return true }
        let back = highest - counter
        guard back < Self.size else { return false }
        return taken[Int(back / 64)] & (1 << (back % 64)) == 0
    }

    /// Marks `counter` taken; returns false (and changes nothing) when it was not admitted.
    @discardableResult
    public mutating func take(_ counter: UInt64) -> Bool {
        guard admits(counter) else { return false }
        guard let highest else {
            self.highest = counter
            taken[0] = 1
            return true
        }
        if counter > highest {
            shift(by: counter - highest)
            self.highest = counter
            taken[0] |= 1
        } else {
            let back = highest - counter
            taken[Int(back / 64)] |= 1 << (back % 64)
        }
        return true
    }

    /// Moves the bitmap `distance` places towards older counters.
    private mutating func shift(by distance: UInt64) {
        guard distance < Self.size else {
            for index in taken.indices { taken[index] = 0 }
            return
        }
        let wordShift = Int(distance / 64)
        let bitShift = distance % 64
        for index in stride(from: Self.words - 1, through: 0, by: -1) {
            let source = index - wordShift
            var word: UInt64 = source >= 0 ? taken[source] << bitShift : 0
            if bitShift > 0, source - 1 >= 0 { word |= taken[source - 1] >> (64 - bitShift) }
            taken[index] = word
        }
    }
}
