import ChorusWire

/// Where the group layer stands in the configuration sequence (extended virtual synchrony).
enum GroupPhase: Sendable {
    /// No configuration installed yet.
    case initial
    /// A regular configuration whose group state is synchronised: changes produce views.
    case operational
    /// After a transitional configuration, before its regular one: changes apply without views.
    /// `members` move together; `consistent` are those whose sessions every member knows alike
    /// (after an interrupted state exchange, the rest are known to their old partition only).
    case transitional(members: Set<NodeID>, consistent: Set<NodeID>)
    /// A regular configuration whose state exchange is in progress: client data, joins, leaves
    /// and disconnects wait in `GroupSync.held` until its regular views are out.
    case synchronizing(GroupSync)
}

/// A group message delivered during a state exchange, kept until the regular views are out.
struct HeldMessage: Sendable {
    /// nil: a configuration of sites (`siteChange`) that waits in line with the messages.
    var message: GroupMessage?
    var service: Service
    var ringID: RingID
    var position: WideAreaPosition? = nil
    var siteChange: SiteConfigurationChange? = nil
}

/// The state exchange after a regular configuration: every member announces its sessions'
/// groups (`GroupMessage.state`); once all announcements are delivered, the merged membership
/// is complete and the regular views are emitted.
struct GroupSync: Sendable {
    /// The regular configuration being synchronised.
    let ring: RingID
    /// Members whose announcement is not delivered yet.
    var awaiting: Set<NodeID>
    /// Members whose announcement is delivered.
    var announced: Set<NodeID> = []
    /// What the ring delivered since the configuration, in order, apart from announcements.
    /// Every member sends its announcement ahead of anything else on the new ring, so these are
    /// (but for reliable and unreliable messages, which need no order) from announced daemons.
    var held: [HeldMessage] = []

    init(ring: RingID, members: [NodeID]) {
        self.ring = ring
        self.awaiting = Set(members)
    }

    /// Members whose announcement has begun (some pieces delivered).
    var started: Set<NodeID> = []
    /// With views across sites: the first session number each announcing daemon gave (see
    /// `GroupLayer.sessionFloors`).
    var firstSessions: [NodeID: UInt64] = [:]

    /// What a piece of an announcement does to this exchange.
    enum Piece { case ignored, first, further }

    /// Records a piece of `daemon`'s announcement for `configuration` (the last one if `!more`);
    /// `.ignored` if it does not belong to this exchange (another configuration, not a member, or
    /// a duplicate).
    mutating func accept(_ daemon: NodeID, configuration: RingID, more: Bool) -> Piece {
        guard configuration == ring, awaiting.contains(daemon) else { return .ignored }
        let piece: Piece = started.insert(daemon).inserted ? .first : .further
        if !more {
            awaiting.remove(daemon)
            announced.insert(daemon)
        }
        return piece
    }

    var isComplete: Bool { awaiting.isEmpty }
}

extension GroupLayer {
    /// A transitional configuration: `members` move together to the regular configuration `ring`.
    mutating func enterTransitional(ring next: RingID, members: [NodeID], into actions: inout [GroupAction]) {
        if case .synchronizing(let sync) = phase { finishInterrupted(sync, into: &actions) }
        let together = Set(members)
        // The daemons whose sessions all of `together` know alike. After an interrupted state
        // exchange only those whose announcement was delivered: the others' sessions are known
        // to their old partition only. Their sessions stay in the table (local delivery needs
        // them) but are left out of the transitional views, which must agree everywhere.
        let consistent: Set<NodeID>
        switch phase {
        case .initial: consistent = together
        case .operational: consistent = viewedDaemons.intersection(together)
        case .transitional(_, let known): consistent = known.intersection(together)
        case .synchronizing: preconditionFailure("an interrupted state exchange was finished above")
        }
        state.removeSessions(ofDaemons: { !together.contains($0) })

        // View ids must increase: a transitional configuration must lead to a newer ring than any
        // seen (a ring that breaks this gets no transitional views rather than out-of-order ones).
        let emit = next > ring && lastTransitionalRing.map { $0 < next } ?? true
        lastTransitionalRing = next
        let id = GroupViewID(ring: next, index: 0)
        var moved: [String: [SessionID]] = [:]
        // A group without a transitional view here starts afresh in the next configuration.
        let previousViews = lastViewMembers
        lastViewMembers.removeAll()
        for name in state.sortedGroupNames {
            let entry = state.groups[name]!
            var members = entry.members
            var recipients = entry.localMembers
            if consistent.count != together.count {
                members = members.filter { consistent.contains($0.daemon) }
                recipients = recipients.filter { consistent.contains($0.daemon) }
            }
            guard !members.isEmpty else { continue }
            moved[name] = members
            guard emit else { continue }
            let view = GroupView(
                group: name, viewID: id, kind: .transitional, reason: .network, members: members, changed: members,
                recipients: recipients)
            emitView(view, previous: previousViews[name] ?? [], into: &actions)
        }
        movedTogether = moved
        phase = .transitional(members: together, consistent: consistent)
    }

    /// A regular configuration: start the state exchange by announcing this daemon's sessions.
    mutating func enterRegular(_ configuration: RingConfiguration, into actions: inout [GroupAction]) {
        switch phase {
        case .operational, .synchronizing:
            // The same configuration announced twice: nothing changed.
            if configuration.ringID == ring { return }
        case .initial, .transitional:
            break
        }
        switch phase {
        case .initial:
            movedTogether = nil  // first configuration: only this daemon's sessions moved "together"
        case .operational, .synchronizing:
            // The ring skipped the transitional configuration: assume the daemons of both moved together.
            let both = regularMembers.filter { configuration.members.contains($0) }
            enterTransitional(ring: configuration.ringID, members: both.contains(me) ? both : both + [me], into: &actions)
        case .transitional:
            break
        }
        ring = configuration.ringID
        viewIndex = 0
        regularMembers = configuration.members
        phase = .synchronizing(GroupSync(ring: configuration.ringID, members: configuration.members))
        // Pieces go ahead of everything queued, in order: the last is put in front first.
        let pieces = Self.announcementPieces(sessions.announcement(), limit: limits.maxAnnouncementBytes)
        for (index, piece) in pieces.enumerated().reversed() {
            let announcement = GroupMessage.state(
                daemon: me, configuration: configuration.ringID, sessions: piece, more: index < pieces.count - 1,
                firstSession: firstSession)
            submit(announcement, service: .agreed, first: true, into: &actions)
        }
    }

    /// Cuts an announcement into pieces of at most `limit` encoded bytes (and at most
    /// `WireLimits.maxSessionsPerState` sessions), splitting a session's groups where needed.
    /// Always at least one piece (an empty announcement still completes the exchange).
    static func announcementPieces(_ entries: [SessionMemberships], limit: Int) -> [[SessionMemberships]] {
        let base = GroupMessageCodec.encodedSize(.state(daemon: NodeID(0), configuration: .none, sessions: []))
        var pieces: [[SessionMemberships]] = []
        var current: [SessionMemberships] = []
        var size = base
        for entry in entries {
            // A session's entry without its groups: its number and its name's bytes.
            let entryBase = GroupMessageCodec.encodedSize(
                .state(daemon: NodeID(0), configuration: .none, sessions: [SessionMemberships(session: entry.session, groups: [])]))
                - base
            var groups = entry.groups[...]
            repeat {
                let next = 1 + (groups.first?.utf8.count ?? 0)
                if !current.isEmpty && (size + entryBase + next > limit || current.count == WireLimits.maxSessionsPerState) {
                    pieces.append(current)
                    current = []
                    size = base
                }
                size += entryBase
                var taken: [String] = []
                while let group = groups.first, taken.isEmpty || size + 1 + group.utf8.count <= limit {
                    taken.append(group)
                    size += 1 + group.utf8.count
                    groups = groups.dropFirst()
                }
                current.append(SessionMemberships(session: entry.session, groups: taken))
            } while !groups.isEmpty
        }
        pieces.append(current)
        return pieces
    }

    /// A state announcement was delivered.
    mutating func applyState(
        daemon: NodeID, configuration: RingID, sessions announced: [SessionMemberships], more: Bool,
        into actions: inout [GroupAction]
    ) {
        guard case .synchronizing(var sync) = phase else {
            ignoredMessages += 1
            return
        }
        phase = .initial  // so `sync.held` stays uniquely referenced (no copy per announcement piece)
        switch sync.accept(daemon, configuration: configuration, more: more) {
        case .ignored:
            ignoredMessages += 1
            phase = .synchronizing(sync)
            return
        case .first:
            state.replaceSessions(of: daemon, with: announced)
        case .further:
            state.addSessions(of: daemon, announced)
        }
        guard sync.isComplete else {
            phase = .synchronizing(sync)
            return
        }
        phase = .operational
        viewedDaemons = Set(regularMembers)
        emitNetworkViews(into: &actions)
        replay(sync.held, into: &actions)
    }

    /// The ring moved on before every announcement of `sync` was delivered. Every daemon that
    /// moves on together with this one was delivered the same messages of that configuration (its
    /// regular part ends at the same point everywhere), so all of them show the same regular views
    /// now: the sessions of the daemons whose announcement came, in a view of their own, and then
    /// what waited for it. The other daemons' sessions are left out (their next announcement
    /// brings them back), so no client ever gets a message of the new configuration in the views
    /// of the old one, nor a message from a sender its views do not explain.
    mutating func finishInterrupted(_ sync: GroupSync, into actions: inout [GroupAction]) {
        state.removeSessions(ofDaemons: { !sync.announced.contains($0) })
        phase = .operational
        viewedDaemons = sync.announced
        // Daemons that did not move on together may have got different announcements before the
        // ring moved on, so their views of this configuration differ: an index of its own for
        // each announced set keeps one view id meaning one membership.
        viewIndex = Self.cutShortIndex(announced: sync.announced) - 1
        emitNetworkViews(into: &actions)
        replay(sync.held, into: &actions)
    }

    /// The view index of the regular views of a configuration whose state exchange was cut short
    /// with `announced` delivered: the top bit set (above any index of a completed exchange) and a
    /// hash of the set, the same at every daemon.
    static func cutShortIndex(announced: Set<NodeID>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for node in announced.sorted() {
            hash = (hash ^ UInt64(node.rawValue)) &* 0x0000_0100_0000_01b3
        }
        return 1 << 63 | (hash >> 2) | 1
    }

    /// One regular network view per group with members: the state exchange's result.
    mutating func emitNetworkViews(into actions: inout [GroupAction]) {
        // A view-producing event only if some group has members.
        let id = state.groups.isEmpty ? GroupViewID(ring: ring, index: viewIndex) : nextViewID()
        // A group without a regular view here (no members left) starts afresh at its next join.
        let previousViews = lastViewMembers
        lastViewMembers.removeAll()
        for name in state.sortedGroupNames {
            let entry = state.groups[name]!
            let changed: [SessionID]
            if let moved = movedTogether {
                changed = entry.members.sortedIntersection(moved[name] ?? [])
            } else {
                changed = entry.members.filter { $0.daemon == me }
            }
            let view = GroupView(
                group: name, viewID: id, kind: .regular, reason: .network, members: entry.members, changed: changed,
                recipients: entry.localMembers)
            emitView(view, previous: previousViews[name] ?? [], into: &actions)
        }
        movedTogether = [:]
    }
}
