import ChorusWire
import NIOCore

/// The group layer of one daemon: sessions, group membership, views, and who receives what.
///
/// A deterministic sans-IO value: no clock, no randomness, no I/O. The driver (daemon shell or
/// simulator) calls one mutating function per input and performs the `GroupAction`s appended to
/// the array it passes, in order:
///
/// - Local requests (`join`, `leave`, `send`, `closeSession`) are validated and become
///   `.submit` actions: the encoded `GroupMessage` and the service to hand it to the ring with.
///   Joins, leaves, disconnects and state announcements travel agreed.
/// - Ring output (`ringDelivered`, `ringConfiguration`) updates the replicated membership table
///   and yields `.deliver` and `.view` actions at exactly the point of the total order where
///   the message or the event that caused them was delivered.
///
/// Membership is replicated: every daemon applies the same joins, leaves and disconnects in the
/// same agreed order, so every daemon computes the same views with the same ids, whether or not
/// it has local members (so daemons can be compared). After a configuration change the daemons
/// exchange their sessions' groups (see `GroupSync`), then emit one regular view per group.
public struct GroupLayer: Sendable {
    /// This daemon.
    public let me: NodeID
    /// The bounds local requests are checked against.
    public let limits: GroupLimits

    var state: GroupState
    var sessions = LocalSessions()
    var phase: GroupPhase = .initial
    /// The current (or last) regular configuration and its members.
    var ring: RingID = .none
    var regularMembers: [NodeID] = []
    /// The daemons whose sessions the current (or last) regular views cover: every member once a
    /// state exchange completes; only those whose announcement was delivered when it was cut short.
    var viewedDaemons: Set<NodeID> = []
    /// Counts the view-producing events of the current regular configuration.
    var viewIndex: UInt64 = 0
    /// Per group, the members of this daemon's last transitional view (those that moved
    /// together); nil before the first configuration.
    var movedTogether: [String: [SessionID]]? = nil
    var lastTransitionalRing: RingID? = nil
    /// Per group, the members of the last view this daemon emitted of it, against which the next
    /// view's `added` and `removed` are computed. Only views of the current configuration (or the
    /// transitional one before it) count: a group that had none starts from nobody.
    var lastViewMembers: [String: [SessionID]] = [:]
    let allocator = ByteBufferAllocator()
    /// Test switches (see `RingOptions.BrokenRules`); all off.
    var brokenRules = RingOptions.BrokenRules()
    /// The group names of the last data message delivered, reused by the next one to the same groups.
    var lastGroupNames = GroupNameCache()
    /// With more than one site: the configuration of sites views span (nil: one site, views per ring).
    var sites: SitesView?
    /// The lowest session number of this daemon's incarnation: the driver numbers its sessions
    /// from here, above every number an earlier incarnation of this daemon used (the daemon from
    /// its start time in microseconds). Announcements carry it.
    public var firstSession: UInt64 = 1
    /// With views across sites: per daemon, the first session number it gave in the last
    /// completed exchange. A join of one of its sessions numbered below comes from an earlier
    /// incarnation (sent before it crashed, numbered after its restart) and is ignored, the same
    /// way at every daemon.
    var sessionFloors: [NodeID: UInt64] = [:]

    /// Delivered payloads that were not valid `GroupMessage`s.
    public internal(set) var decodeErrors = 0
    /// Valid messages that were ignored: joins of a departed daemon's session, of an earlier
    /// incarnation's session or of an unjoinable name, and state announcements of another
    /// configuration or a duplicate.
    public internal(set) var ignoredMessages = 0
    /// Whether the group layer is in a regular configuration with no state exchange running.
    public var isSettled: Bool {
        if case .operational = phase { return true }
        return false
    }
    /// Stand-ins delivered where sessions are in their groups (`GroupDelivery.bodyWithheld`).
    public internal(set) var withheldBodies = 0

    /// A group layer for daemon `me`, before any configuration.
    /// A group layer for daemon `me`, before any configuration. `spansSites`: the engine runs an
    /// order across sites, and views follow its configurations of sites (not the ring's).
    /// This daemon's name in its sessions' private groups (`#alice#<daemonName>`); by default
    /// its id (`d1`), as the simulator names daemons.
    public var daemonName: String

    public init(me: NodeID, limits: GroupLimits = .default, spansSites: Bool = false) {
        self.me = me
        self.daemonName = "\(me)"
        self.limits = limits
        self.state = GroupState(me: me)
        if spansSites { sites = SitesView(configuration: SiteConfigurationID(seq: 0, coordinator: SiteID(0)), sites: [], daemons: [:], ordinal: 0) }
    }

    // MARK: Inspection

    /// The members of `group` in the replicated table, sorted (empty for an unknown group or a
    /// private group name).
    public func members(of group: String) -> [SessionID] { state.members(of: group) }

    /// The names of every group with at least one member, sorted.
    public var groupNames: [String] { state.sortedGroupNames }

    /// Whether membership is synchronised: a regular configuration is installed and its state
    /// exchange is complete (membership changes now produce views).
    public var isSynchronized: Bool {
        if case .operational = phase { return true }
        return false
    }

    /// Whether `session` is an open session of this daemon.
    public func isOpen(_ session: SessionID) -> Bool { session.daemon == me && sessions[session.local] != nil }

    // MARK: Local sessions

    /// Opens a session numbered `local` (at least `firstSession`, never used before by this daemon,
    /// also before a restart; reuse traps),
    /// named `name` (unique among this daemon's open sessions; empty: known by its number). Its
    /// private group is `SessionID.privateGroup(daemonName:)` with `daemonName`. Nothing is sent
    /// until it joins a group.
    public mutating func openSession(local: UInt64, name: String = "") -> SessionID {
        precondition(name.isEmpty || SessionID.isValidName(name), "invalid session name '\(name)'")
        let id = SessionID(daemon: me, local: local, name: name)
        sessions.open(id, privateGroup: id.privateGroup(daemonName: daemonName))
        state.openLocal(local)
        return id
    }

    /// Asks for `session` to join `group`. The view comes when the ring delivers the join;
    /// joining a group the session is already in changes nothing (no view).
    public mutating func join(session: SessionID, group: String, into actions: inout [GroupAction]) throws(GroupError) {
        let local = try openLocal(session)
        try checkJoinable(group)
        let requested = sessions[local]!.requested
        guard requested.contains(group) || requested.count < limits.maxGroupsPerSession else {
            throw GroupError(.tooManyGroupsForSession, "\(session) is in \(requested.count) groups, limit \(limits.maxGroupsPerSession)")
        }
        sessions[local]!.requested.insert(group)
        submit(.join(session: session, group: group), service: .agreed, into: &actions)
    }

    /// Asks for `session` to leave `group`. Leaving a group the session is not in changes nothing.
    public mutating func leave(session: SessionID, group: String, into actions: inout [GroupAction]) throws(GroupError) {
        let local = try openLocal(session)
        try checkJoinable(group)
        sessions[local]!.requested.remove(group)
        submit(.leave(session: session, group: group), service: .agreed, into: &actions)
    }

    /// Multicasts `payload` from `session` to `groups` (group names or private group names; the
    /// session need not be a member: groups are open) with `service`.
    ///
    /// - Returns: the message's `sessionSeq` (the session's messages count from 1).
    @discardableResult
    public mutating func send(
        session: SessionID, service: Service, groups: [String], messageType: UInt16, selfDiscard: Bool,
        payload: ByteBuffer, into actions: inout [GroupAction]
    ) throws(GroupError) -> UInt64 {
        let local = try openLocal(session)
        guard !groups.isEmpty else { throw GroupError(.noGroups, "a message needs at least one target group") }
        guard groups.count <= limits.maxGroupsPerMessage else {
            throw GroupError(.tooManyGroups, "\(groups.count) groups, limit \(limits.maxGroupsPerMessage)")
        }
        for group in groups { try checkName(group) }
        guard payload.readableBytes <= limits.maxPayloadBytes else {
            throw GroupError(.payloadTooLarge, "\(payload.readableBytes) bytes, limit \(limits.maxPayloadBytes)")
        }
        let seq = sessions[local]!.lastSeq + 1
        sessions[local]!.lastSeq = seq
        let data = ClientData(
            sender: session, sessionSeq: seq, messageType: messageType, selfDiscard: selfDiscard, groups: groups,
            payload: payload)
        submit(.data(data), service: service, into: &actions)
        return seq
    }

    /// Closes `session`: it receives nothing more, and leaves every group when the ring delivers
    /// its disconnect (reason `.disconnect`). Closing an unknown session does nothing.
    public mutating func closeSession(_ session: SessionID, into actions: inout [GroupAction]) {
        guard session.daemon == me, let closed = sessions.close(session.local) else { return }
        state.closeLocal(session.local)
        // A session that never was in a group (and asked for none) needs no disconnect.
        if !closed.requested.isEmpty || state.memberships[session] != nil {
            submit(.disconnect(session: session), service: .agreed, into: &actions)
        }
    }

    // MARK: Helpers

    /// Encodes `message` with `PackedBody.headroom` free bytes in front, so a message that travels
    /// alone in a packet becomes the packet's body without a copy. Membership messages are ring
    /// barriers, so causal messages, which may be delivered ahead of the total order, still sit on
    /// the same side of every view at every daemon.
    func submit(_ message: GroupMessage, service: Service, first: Bool = false, into actions: inout [GroupAction]) {
        var buffer = allocator.buffer(capacity: PackedBody.headroom + GroupMessageCodec.encodedSize(message))
        buffer.moveWriterIndex(forwardBy: PackedBody.headroom)
        buffer.moveReaderIndex(forwardBy: PackedBody.headroom)
        GroupMessageCodec.encode(message, into: &buffer)
        let barrier: Bool
        if case .data = message { barrier = false } else { barrier = true }
        actions.append(.submit(service, buffer, barrier: barrier, first: first))
    }

    @inline(__always) private func openLocal(_ session: SessionID) throws(GroupError) -> UInt64 {
        guard session.daemon == me, sessions[session.local] != nil else {
            throw GroupError(.unknownSession, "\(session) is not open on \(me)")
        }
        return session.local
    }

    private func checkName(_ group: String) throws(GroupError) {
        let length = group.utf8.count
        guard length > 0, length <= limits.maxGroupNameLength else {
            throw GroupError(.invalidGroupName, "\(length) bytes, must be 1...\(limits.maxGroupNameLength)")
        }
    }

    private func checkJoinable(_ group: String) throws(GroupError) {
        try checkName(group)
        guard !GroupNames.isPrivate(group) else {
            throw GroupError(.reservedGroupName, "\"\(group)\": names starting with # are private groups")
        }
    }
}
