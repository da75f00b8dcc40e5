/// Which of the last `capacity` seqs from one source were seen: a bitmap below the highest.
/// A seq more than `capacity` below the highest counts as seen (too old to tell; dropping it is
/// the safe side for a duplicate filter).
struct RecentSeqs: Sendable {
    private(set) var highest: UInt64 = 0
    private var bits: [UInt64]
    private let capacity: UInt64

    init(capacity: Int = 1 << 14) {
        let words = max(1, (capacity + 63) / 64)
        bits = Array(repeating: 0, count: words)
        self.capacity = UInt64(words * 64)
    }

    /// Returns true the first time `seq` is seen.
    mutating func firstSighting(_ seq: UInt64) -> Bool {
        if seq > highest {
            if seq - highest >= capacity {
                for index in bits.indices { bits[index] = 0 }
            } else {
                // Clear the slots of the seqs skipped, a word at a time where whole words go.
                var clear = highest + 1
                while clear < seq {
                    let slot = clear % capacity
                    if slot % 64 == 0, seq - clear >= 64 {
                        bits[Int(slot / 64)] = 0
                        clear += 64
                    } else {
                        set(clear, false)
                        clear += 1
                    }
                }
            }
            highest = seq
            set(seq, true)
            return true
        }
        guard highest - seq < capacity else { return false }
        guard !isSet(seq) else { return false }
        set(seq, true)
        return true
    }

    private func isSet(_ seq: UInt64) -> Bool {
        let slot = seq % capacity
        return bits[Int(slot / 64)] & (1 << (slot % 64)) != 0
    }

    private mutating func set(_ seq: UInt64, _ value: Bool) {
        let slot = seq % capacity
        if value {
            bits[Int(slot / 64)] |= 1 << (slot % 64)
        } else {
            bits[Int(slot / 64)] &= ~(1 << (slot % 64))
        }
    }
}
