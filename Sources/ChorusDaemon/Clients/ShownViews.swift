import ChorusWire

/// What each local session was last shown of each group, so that the `added` and `removed` a
/// client gets are against the previous view that session saw. (The engine's own are against
/// the daemon's previous view, which a session can miss: after a state exchange cut short before
/// this daemon's announcement arrived, its sessions are out of the views until the next one.)
struct ShownViews {
    private struct Shown {
        var serial: UInt64
        var members: [SessionID]
        /// Local sessions with an entry in `seen` for this group.
        var holders: Int
    }

    private var groups: [String: Shown] = [:]
    /// Per local session, per group: the serial of the last view of the group it was shown.
    private var seen: [UInt64: [String: UInt64]] = [:]
    private var nextSerial: UInt64 = 0

    /// The members of the last view of `group` that `session` was shown, if it saw the latest one
    /// shown here (nil: its first view of the group).
    func previous(of session: UInt64, in group: String) -> [SessionID]? {
        guard let serial = seen[session]?[group], let shown = groups[group], shown.serial == serial else { return nil }
        return shown.members
    }

    /// `recipients` were shown a view of `group` with `members`.
    mutating func show(_ members: [SessionID], of group: String, to recipients: some Sequence<UInt64>) {
        nextSerial += 1
        var shown = groups[group] ?? Shown(serial: 0, members: [], holders: 0)
        shown.serial = nextSerial
        shown.members = members
        for session in recipients where seen[session, default: [:]].updateValue(nextSerial, forKey: group) == nil {
            shown.holders += 1
        }
        groups[group] = shown
    }

    /// `session` left `group`: its next view of it is a first one.
    mutating func forget(_ session: UInt64, in group: String) {
        guard seen[session]?.removeValue(forKey: group) != nil else { return }
        release(group)
    }

    /// `session` closed.
    mutating func forget(_ session: UInt64) {
        guard let groupsSeen = seen.removeValue(forKey: session) else { return }
        for group in groupsSeen.keys { release(group) }
    }

    private mutating func release(_ group: String) {
        guard var shown = groups[group] else { return }
        shown.holders -= 1
        groups[group] = shown.holders > 0 ? shown : nil
    }
}
