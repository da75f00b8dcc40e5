import ChorusWire

/// One group's members, with this daemon's open member sessions cached for delivery.
struct GroupEntry: Sendable {
    /// Sorted.
    var members: [SessionID] = []
    /// Sorted: the members that are open sessions of this daemon. Shared (copy-on-write) with
    /// every delivery and view that goes to them, so the hot path does not allocate.
    var localMembers: [SessionID] = []
}

/// The replicated group membership table: which session is in which group, for every daemon's
/// sessions. Every daemon applies the same changes in the same (agreed) order, so every copy is
/// the same; only the cache of local recipients differs.
///
/// Only sessions in at least one group appear; a group with no member has no entry.
struct GroupState: Sendable {
    let me: NodeID
    private(set) var groups: [String: GroupEntry] = [:]
    /// The groups of each session that is in at least one.
    private(set) var memberships: [SessionID: Set<String>] = [:]
    /// This daemon's open sessions, by local number.
    private(set) var open: Set<UInt64> = []

    init(me: NodeID) { self.me = me }

    func isLocalOpen(_ session: SessionID) -> Bool {
        session.daemon == me && open.contains(session.local)
    }

    func members(of group: String) -> [SessionID] { groups[group]?.members ?? [] }

    func localMembers(of group: String) -> [SessionID] { groups[group]?.localMembers ?? [] }

    /// Group names in a deterministic order (the same at every daemon).
    var sortedGroupNames: [String] { groups.keys.sorted() }

    /// Adds `session` to `group`; false if it was already a member.
    mutating func insert(_ session: SessionID, into group: String) -> Bool {
        guard memberships[session, default: []].insert(group).inserted else { return false }
        let local = isLocalOpen(session)
        groups[group, default: GroupEntry()].members.sortedInsert(session)
        if local { groups[group]!.localMembers.sortedInsert(session) }
        return true
    }

    /// Removes `session` from `group`; false if it was not a member.
    mutating func remove(_ session: SessionID, from group: String) -> Bool {
        guard memberships[session]?.remove(group) != nil else { return false }
        if memberships[session]!.isEmpty { memberships[session] = nil }
        removeFromEntry(session, group)
        return true
    }

    /// Removes `session` from every group; returns the groups it was in, sorted.
    mutating func removeAll(_ session: SessionID) -> [String] {
        guard let names = memberships.removeValue(forKey: session) else { return [] }
        for name in names { removeFromEntry(session, name) }
        return names.sorted()
    }

    /// Removes every session of every daemon for which `drop` is true.
    mutating func removeSessions(ofDaemons drop: (NodeID) -> Bool) {
        let doomed = memberships.keys.filter { drop($0.daemon) }
        for session in doomed { _ = removeAll(session) }
    }

    /// Replaces everything known about `daemon`'s sessions with its announcement.
    ///
    /// Entries for other daemons' sessions and names that cannot be joined are skipped, the same
    /// way at every daemon.
    mutating func replaceSessions(of daemon: NodeID, with announced: [SessionMemberships]) {
        removeSessions(ofDaemons: { $0 == daemon })
        addSessions(of: daemon, announced)
    }

    /// Adds a further piece of `daemon`'s announcement (skipping entries as `replaceSessions` does).
    mutating func addSessions(of daemon: NodeID, _ announced: [SessionMemberships]) {
        for entry in announced where entry.session.daemon == daemon {
            for group in entry.groups where GroupNames.isJoinable(group) {
                _ = insert(entry.session, into: group)
            }
        }
    }

    /// Records a new local session (and caches it where the table already has it).
    mutating func openLocal(_ local: UInt64) {
        open.insert(local)
        let session = SessionID(daemon: me, local: local)
        for name in memberships[session] ?? [] { groups[name]!.localMembers.sortedInsert(session) }
    }

    /// Forgets a local session for delivery; its memberships stay until its disconnect is delivered.
    mutating func closeLocal(_ local: UInt64) {
        guard open.remove(local) != nil else { return }
        let session = SessionID(daemon: me, local: local)
        for name in memberships[session] ?? [] { groups[name]!.localMembers.sortedRemove(session) }
    }

    private mutating func removeFromEntry(_ session: SessionID, _ group: String) {
        guard let index = groups.index(forKey: group) else { return }
        groups.values[index].members.sortedRemove(session)
        groups.values[index].localMembers.sortedRemove(session)
        if groups.values[index].members.isEmpty { groups.remove(at: index) }
    }
}

/// Rules on group names that depend on the name alone, so every daemon applies them alike.
enum GroupNames {
    /// Private group names (`#local#dN`) start with this byte.
    static let privatePrefix = UInt8(ascii: "#")

    static func isPrivate(_ name: String) -> Bool { name.utf8.first == privatePrefix }

    /// Whether a session can join `name`: a valid wire name that is not a private name.
    static func isJoinable(_ name: String) -> Bool {
        WireLimits.isValidGroupName(name) && !isPrivate(name)
    }
}
