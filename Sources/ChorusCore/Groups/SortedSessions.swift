import ChorusWire

/// Binary-search helpers for the sorted `[SessionID]` arrays the group layer keeps.
extension Array where Element == SessionID {
    /// The index of the first element not less than `session`.
    @inlinable
    func insertionIndex(of session: SessionID) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid] < session { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Whether the sorted array holds `session`.
    @inlinable
    func sortedContains(_ session: SessionID) -> Bool {
        let index = insertionIndex(of: session)
        return index < count && self[index] == session
    }

    /// Inserts `session` keeping the array sorted; false if it was already there.
    @inlinable
    @discardableResult
    mutating func sortedInsert(_ session: SessionID) -> Bool {
        let index = insertionIndex(of: session)
        if index < count && self[index] == session { return false }
        insert(session, at: index)
        return true
    }

    /// Removes `session` from the sorted array; false if it was not there.
    @inlinable
    @discardableResult
    mutating func sortedRemove(_ session: SessionID) -> Bool {
        let index = insertionIndex(of: session)
        guard index < count && self[index] == session else { return false }
        remove(at: index)
        return true
    }

    /// The elements of this sorted array that are also in the sorted array `other`.
    func sortedIntersection(_ other: [SessionID]) -> [SessionID] {
        var result: [SessionID] = []
        var i = 0
        var j = 0
        while i < count && j < other.count {
            if self[i] < other[j] {
                i += 1
            } else if other[j] < self[i] {
                j += 1
            } else {
                result.append(self[i])
                i += 1
                j += 1
            }
        }
        return result
    }

    /// The elements of this sorted array that are not in the sorted array `other`.
    public func sortedSubtracting(_ other: [SessionID]) -> [SessionID] {
        var result: [SessionID] = []
        var j = 0
        for session in self {
            while j < other.count && other[j] < session { j += 1 }
            if j < other.count && other[j] == session { continue }
            result.append(session)
        }
        return result
    }
}
