/// Which counters of one sender's incarnation have been taken: the highest so far, and a bitmap
/// of the `size` counters up to it. A counter taken before, or older than the window, is a
/// replay. The window is moved only by datagrams that authenticated, so a forgery cannot push it on.
public struct ReplayWindow: Sendable, Equatable {
    /// Counters the window covers below the highest: legitimate reordering up to this far is kept.
    public static let size: UInt64 = 4096
    private static let words = Int(size / 64)
    /// The highest counter taken; nil before the first.
    public private(set) var highest: UInt64?
    /// A ring: bit `c % size` says whether counter `c` (one of the `size` up to `highest`) was
    /// taken. Moving on clears only the bits of the counters passed over, not the whole map.
    private var taken = [UInt64](repeating: 0, count: ReplayWindow.words)

    public init() {}

    /// Whether `counter` would be taken (not seen, not too old). Does not change the window.
    public func admits(_ counter: UInt64) -> Bool {
        guard let highest else { return true }
        if counter > highest { return true }
        guard highest - counter < Self.size else { return false }
        return !isSet(counter)
    }

    /// Marks `counter` taken; returns false (and changes nothing) when it was not admitted.
    @discardableResult
    public mutating func take(_ counter: UInt64) -> Bool {
        guard admits(counter) else { return false }
        if let highest {
            if counter > highest {
                clear(after: highest, through: counter)
                self.highest = counter
            }
        } else {
            highest = counter
        }
        let bit = counter % Self.size
        taken[Int(bit / 64)] |= 1 << (bit % 64)
        return true
    }

    private func isSet(_ counter: UInt64) -> Bool {
        let bit = counter % Self.size
        return taken[Int(bit / 64)] & (1 << (bit % 64)) != 0
    }

    /// Clears the bits of counters `old + 1 ... new`: their places in the ring held counters
    /// `size` lower, now out of the window.
    private mutating func clear(after old: UInt64, through new: UInt64) {
        guard new - old < Self.size else {
            for index in taken.indices { taken[index] = 0 }
            return
        }
        // Counted by what is left (not by counter), so `new` may be UInt64.max.
        var remaining = new - old
        var bit = (old + 1) % Self.size
        while remaining > 0 {
            let offset = bit % 64
            // Bits offset..<(offset + n) of this word, n limited by the word's end and by `new`.
            let n = min(64 - offset, remaining)
            let mask: UInt64 = n == 64 ? ~0 : ((1 << n) - 1) << offset
            taken[Int(bit / 64)] &= ~mask
            remaining -= n
            bit = (bit + n) % Self.size
        }
    }
}
