/// The last `capacity` ids inserted, to tell a second copy from a new one (older ones are
/// forgotten: a copy arriving after that many others passes again).
struct RecentIDs: Sendable {
    private var ring: [UInt64] = []
    private var next = 0
    private var members: Set<UInt64> = []
    let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// The ids remembered, oldest first (a snapshot carries them to a daemon that gets the state).
    var inOrder: [UInt64] { ring.count < capacity ? ring : Array(ring[next...] + ring[..<next]) }

    /// Remembers `ids`, oldest first.
    init(_ ids: [UInt64], capacity: Int = 4096) {
        self.init(capacity: capacity)
        for id in ids.suffix(self.capacity) { _ = insert(id) }
    }

    /// Inserts `id`; returns false if it is among the recent ones already.
    mutating func insert(_ id: UInt64) -> Bool {
        guard members.insert(id).inserted else { return false }
        if ring.count < capacity {
            ring.append(id)
        } else {
            members.remove(ring[next])
            ring[next] = id
            next = (next + 1) % capacity
        }
        return true
    }
}
