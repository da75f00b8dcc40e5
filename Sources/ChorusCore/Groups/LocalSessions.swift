import ChorusWire

/// One open client session of this daemon, as the group layer knows it.
struct LocalSession: Sendable {
    let id: SessionID
    /// The `sessionSeq` of the last message sent (0 before the first).
    var lastSeq: UInt64 = 0
    /// The groups the session asked to be in (joins minus leaves, whether delivered yet or not).
    /// Bounds the session's groups.
    var requested: Set<String> = []
    /// The groups the session is in by the joins and leaves delivered so far: what this daemon
    /// announces after a configuration change. (Announcing `requested` would fold a join still on
    /// its way into the network view, and the session would never get its join view.)
    var joined: Set<String> = []
    /// `[id]`, kept so a message to the private group is delivered without allocating.
    let alone: [SessionID]
    /// Its private group (`#name#daemon`), the name messages to it alone are sent to.
    let privateGroup: String

    init(id: SessionID, privateGroup: String) {
        self.id = id
        self.alone = [id]
        self.privateGroup = privateGroup
    }
}

/// This daemon's open sessions, by local number and by private group name.
struct LocalSessions: Sendable {
    private(set) var byLocal: [UInt64: LocalSession] = [:]
    private var byPrivateName: [String: UInt64] = [:]

    subscript(local: UInt64) -> LocalSession? {
        get { byLocal[local] }
        _modify { yield &byLocal[local] }
    }

    mutating func open(_ id: SessionID, privateGroup: String) {
        precondition(byLocal[id.local] == nil, "session \(id) is already open")
        byLocal[id.local] = LocalSession(id: id, privateGroup: privateGroup)
        byPrivateName[privateGroup] = id.local
    }

    mutating func close(_ local: UInt64) -> LocalSession? {
        guard let session = byLocal.removeValue(forKey: local) else { return nil }
        byPrivateName[session.privateGroup] = nil
        return session
    }

    /// The open session whose private group is `name`, as a one-element array; empty if none.
    func privateRecipients(_ name: String) -> [SessionID] {
        guard let local = byPrivateName[name] else { return [] }
        return byLocal[local]?.alone ?? []
    }

    /// Every open session's joined groups, sorted, for a state announcement (sessions in no
    /// group are left out: announcing them would change nothing).
    ///
    /// `requested`: announce the groups asked for instead. Across sites an announcement takes its
    /// place in the global order behind every request the daemon sent before it (it may count in
    /// a later exchange, after those requests were applied), so it must already include them.
    func announcement(requested: Bool = false) -> [SessionMemberships] {
        byLocal.values
            .filter { !(requested ? $0.requested : $0.joined).isEmpty }
            .sorted { $0.id < $1.id }
            .map { SessionMemberships(session: $0.id, groups: (requested ? $0.requested : $0.joined).sorted()) }
    }
}
