/// Which seqs of a hop link's incoming stream have arrived: everything up to `upTo`, and a bitmap
/// of the `capacity` seqs above it. Seqs known to exist (received, or announced by the sender's
/// highest seq) but missing get a time they were found missing and a time they were last asked
/// for, so that each is NACKed once it is `nackDelay` old (or older than the reordering seen,
/// `reorderWait`) and again each `retry` while missing.
struct ReceiveWindow: Sendable {
    /// Every seq up to here has arrived.
    private(set) var upTo: UInt64 = 0
    /// The highest seq known to exist.
    private(set) var highest: UInt64 = 0
    let capacity: Int
    private let mask: Int
    private var arrived: [Bool]
    private var missingSince: [Instant]
    private var askedAt: [Instant]
    /// The earliest time a missing seq may be due for a NACK (`Instant.max`: none).
    private(set) var nextAsk: Instant = .max
    /// The longest a packet overtaken on the way was missing before it came by itself, over the
    /// last one to two seconds (the longest of this second and of the one before; older
    /// samples no longer count). A gap is reported only once it is older than this, with an
    /// eighth to spare (and `nackDelay`), so reordering alone does not make the sender resend.
    /// (A packet repaired by the retransmission timer before its report was due counts too.)
    func reorderWait(now: Instant) -> Duration64 {
        let longest: Duration64
        if now >= reorder.since + 2_000_000_000 {
            longest = 0
        } else if now >= reorder.since + 1_000_000_000 {
            longest = reorder.current
        } else {
            longest = max(reorder.current, reorder.previous)
        }
        return longest + longest / 8
    }
    private var reorder = (current: Duration64(0), previous: Duration64(0), since: Instant(0))

    init(capacity: Int) {
        var size = 1
        while size < max(capacity, 1) { size <<= 1 }
        self.capacity = capacity
        mask = size - 1
        arrived = Array(repeating: false, count: size)
        missingSince = Array(repeating: 0, count: size)
        askedAt = Array(repeating: 0, count: size)
    }

    /// Whether `seq` lies within what this window can take.
    func accepts(_ seq: UInt64) -> Bool { seq > upTo && seq - upTo <= UInt64(capacity) }

    func hasArrived(_ seq: UInt64) -> Bool { seq <= upTo || (accepts(seq) && arrived[slot(seq)]) }

    /// Notes the arrival of `seq` (which `accepts`); returns false for a duplicate.
    mutating func arrive(_ seq: UInt64, now: Instant, nackDelay: Duration64) -> Bool {
        precondition(accepts(seq))
        guard !arrived[slot(seq)] else { return false }
        if seq <= highest, askedAt[slot(seq)] == 0 {
            let sample = now - min(now, missingSince[slot(seq)])
            if now >= reorder.since + 1_000_000_000 {
                reorder.previous = now >= reorder.since + 2_000_000_000 ? 0 : reorder.current
                reorder.current = 0
                reorder.since = now
            }
            reorder.current = max(reorder.current, sample)
        }
        learn(highest: seq, now: now, nackDelay: nackDelay, arriving: true)
        arrived[slot(seq)] = true
        while upTo < highest, arrived[slot(upTo + 1)] {
            upTo += 1
            arrived[slot(upTo)] = false
        }
        return true
    }

    /// The sender says `seq` exists (`arriving`: it is arriving now): the seqs between the highest
    /// known and it are missing from now.
    mutating func learn(highest seq: UInt64, now: Instant, nackDelay: Duration64, arriving: Bool = false) {
        let seq = min(seq, upTo + UInt64(capacity))
        guard seq > highest else { return }
        var next = highest + 1
        while next < seq {
            missingSince[slot(next)] = now
            askedAt[slot(next)] = 0
            next += 1
        }
        missingSince[slot(seq)] = now
        askedAt[slot(seq)] = 0
        if seq - highest > 1 || !arriving { nextAsk = min(nextAsk, now + max(nackDelay, reorderWait(now: now))) }
        highest = seq
    }

    /// The missing seqs due for a NACK at `now`, as ascending ranges (at most `limit`), each then
    /// marked asked; recomputes `nextAsk`. A seq is due once `nackDelay` old, then every `retry`.
    mutating func due(now: Instant, nackDelay: Duration64, retry: Duration64, limit: Int) -> [ClosedRange<UInt64>] {
        var ranges: [ClosedRange<UInt64>] = []
        var next: Instant = .max
        let wait = max(nackDelay, reorderWait(now: now))
        var seq = upTo + 1
        while seq <= highest {
            let index = slot(seq)
            if !arrived[index] {
                let dueAt = askedAt[index] == 0 ? missingSince[index] + wait : askedAt[index] + retry
                if dueAt <= now, ranges.count < limit || ranges.last?.upperBound == seq - 1 {
                    askedAt[index] = now
                    next = min(next, now + retry)
                    if let last = ranges.last, last.upperBound == seq - 1 {
                        ranges[ranges.count - 1] = last.lowerBound...seq
                    } else {
                        ranges.append(seq...seq)
                    }
                } else {
                    next = min(next, dueAt <= now ? now : dueAt)
                }
            }
            seq += 1
        }
        nextAsk = next
        return ranges
    }

    /// Starts afresh (the sender restarted its numbering).
    mutating func reset() {
        self = ReceiveWindow(capacity: capacity)
    }

    private func slot(_ seq: UInt64) -> Int { Int(truncatingIfNeeded: seq) & mask }
}
