import ChorusWire

/// With more than one site, what the group layer knows of the configuration of sites it
/// delivers in. Group views then span sites: every membership event (a join, a leave, a
/// disconnect, a site's daemons changing, a configuration of sites) comes out of the order
/// across sites at one place of the global order, the same at every daemon of every site.
struct SitesView: Sendable {
    var configuration: SiteConfigurationID
    var sites: [SiteID]
    /// Per site: its daemons, as its last `siteDaemons` message in this configuration listed them
    /// (absent: none delivered yet; each site puts one in its stream first in a configuration).
    var daemons: [SiteID: [NodeID]]
    /// The ordinal of the last ordered delivery (`SiteOrder.ordinal`) and how many view-producing
    /// events came at it: a view's id is `(configuration, ordinal << 20 | count)`, the same at every
    /// daemon, also at one that got the order's state part way through the configuration.
    var ordinal: UInt64
    var eventsAtOrdinal: UInt64 = 0
    /// The ordinal where the views' current configuration began (a daemon joined or left, or 0:
    /// the configuration of sites began). Every such change is a configuration of its own for
    /// clients, as a ring change is inside one site: its views' ring id is `(seq << 40 | epoch)`.
    /// Whether this daemon takes part: `outside` until its site lists it (it got the order's state
    /// part way through; it holds and releases messages where the others do, but shows nothing),
    /// `joining` until the exchange that follows completes, then `inside` (it shows views).
    var standing: Standing = .inside
    /// While `outside`: this daemon's site's messages numbered before it had the order's state (a
    /// list of the site's daemons among them that names this daemon's id names an earlier incarnation).
    var siteSeqAtStart: UInt64 = 0

    enum Standing { case outside, joining, inside }

    /// Every daemon of every site whose daemons are known.
    var allDaemons: Set<NodeID> { Set(daemons.values.joined()) }
    /// How many daemons the sites list (a set of them all is not built for every message).
    var daemonCount: Int { daemons.values.reduce(0) { $0 + $1.count } }
    /// Whether one of the sites lists `daemon`.
    func lists(_ daemon: NodeID) -> Bool { daemons.values.contains { $0.contains(daemon) } }
    /// Whether every site of the configuration has listed its daemons.
    var isComplete: Bool { sites.allSatisfy { daemons[$0] != nil } }
    var epoch: UInt64 = 0

    /// The tag of this configuration's state announcements (the ring field of their message).
    var tag: RingID { Self.tag(configuration) }

    static func tag(_ configuration: SiteConfigurationID) -> RingID {
        RingID(seq: configuration.seq, representative: NodeID(configuration.coordinator.rawValue))
    }

    /// The ring part of view ids in the views' configuration beginning at `epoch`.
    static func viewRing(_ configuration: SiteConfigurationID, epoch: UInt64) -> RingID {
        RingID(seq: configuration.seq << 40 | (epoch & ((1 << 40) - 1)), representative: NodeID(configuration.coordinator.rawValue))
    }

    /// The next view id: one per view-producing event.
    mutating func nextViewID() -> GroupViewID {
        eventsAtOrdinal += 1
        return GroupViewID(ring: Self.viewRing(configuration, epoch: epoch), index: ordinal << 20 | min(eventsAtOrdinal, (1 << 20) - 1))
    }
}

extension GroupLayer {
    /// The id of the next view-producing event: per configuration of sites when views span
    /// sites, else per ring.
    mutating func nextViewID() -> GroupViewID {
        guard sites == nil else { return sites!.nextViewID() }
        viewIndex += 1
        return GroupViewID(ring: ring, index: viewIndex)
    }

    /// A delivery at `ordinal` of the configuration of sites (views made at it take ids from it).
    mutating func deliveredAt(ordinal: UInt64) {
        guard sites != nil, ordinal != sites!.ordinal else { return }
        sites!.ordinal = ordinal
        sites!.eventsAtOrdinal = 0
    }

    /// This daemon got the order's state part way through configuration `change` (a daemon
    /// started or restarted): it knows the sites' daemons and the ordinal from the snapshot, but no
    /// group's members. It takes part from the point where its own site lists it (or the next
    /// configuration of sites), when every daemon announces its sessions again.
    public mutating func sitesJoinedLate(
        _ change: SiteConfigurationChange, siteDaemons: [SiteID: [NodeID]], ordinal: UInt64,
        exchange: WideAreaMembershipState.ViewsExchange, siteSeq: UInt64, into actions: inout [GroupAction]
    ) {
        var view = SitesView(configuration: change.id, sites: change.sites, daemons: siteDaemons, ordinal: ordinal)
        view.epoch = exchange.epoch
        view.standing = .outside
        view.siteSeqAtStart = siteSeq
        sites = view
        movedTogether = nil
        actions.append(.siteConfiguration(change))
        guard exchange.running else {
            phase = .operational
            return
        }
        // The others are exchanging sessions: what they hold, this daemon holds too.
        var sync = GroupSync(ring: view.tag, members: [])
        sync.announced = Set(exchange.announced)
        sync.started = Set(exchange.started)
        for (daemon, first) in zip(exchange.announced + exchange.started, exchange.firstSessions) {
            sync.firstSessions[daemon] = first
        }
        for entry in exchange.held {
            guard let message = try? GroupMessageCodec.decode(entry.payload) else {
                decodeErrors += 1
                continue
            }
            sync.held.append(HeldMessage(message: message, service: entry.service, ringID: ring, position: entry.position))
        }
        phase = .synchronizing(sync)
    }

    /// The exchange of sessions as it stands, for a daemon that gets the order's state here.
    public var sitesExchange: WideAreaMembershipState.ViewsExchange {
        guard let view = sites, case .synchronizing(let sync) = phase else { return .init(epoch: sites?.epoch ?? 0) }
        let held = sync.held.compactMap { entry in
            entry.message.map {
                WideAreaMembershipState.ViewsExchange.HeldMessage(
                    service: entry.service, position: entry.position, payload: GroupMessageCodec.encode($0))
            }
        }
        let announced = sync.announced.sorted()
        let started = sync.started.sorted()
        return .init(
            epoch: view.epoch, running: true, announced: announced, started: started,
            firstSessions: (announced + started).map { sync.firstSessions[$0] ?? 0 }, held: held)
    }

    /// Whether this daemon shows views (views across sites: once it takes part).
    var showsViews: Bool { sites.map { $0.standing == .inside } ?? true }

    /// A configuration of sites, where the order delivers it: transitional (the members that move
    /// on together: a transitional view of every group, without the sessions of the sites left
    /// behind) or regular (every daemon announces its sessions; the regular views follow once
    /// every daemon of every site has).
    mutating func sitesConfiguration(_ change: SiteConfigurationChange, into actions: inout [GroupAction]) {
        // What waited for an exchange the change cuts short belongs to the configuration that ends.
        if case .synchronizing(let sync) = phase { finishInterruptedSites(sync, into: &actions) }
        actions.append(.siteConfiguration(change))
        guard var view = sites else { return }
        switch change.kind {
        case .transitional:
            guard case .operational = phase else {
                // Not a member yet (or already transitional): only what is known changes.
                view.daemons = view.daemons.filter { change.sites.contains($0.key) }
                sites = view
                return
            }
            view.daemons = view.daemons.filter { change.sites.contains($0.key) }
            let together = view.allDaemons
            state.removeSessions(ofDaemons: { !together.contains($0) })
            view.sites = change.sites
            sites = view
            emitTransitionalViews(id: GroupViewID(ring: SitesView.viewRing(change.id, epoch: 0), index: 0), into: &actions)
            phase = .transitional(members: together, consistent: together)
        case .regular:
            if case .operational = phase {
                // No transitional configuration came first: every known daemon moved on.
                emitTransitionalViews(id: GroupViewID(ring: SitesView.viewRing(change.id, epoch: 0), index: 0), into: &actions)
            }
            var next = SitesView(configuration: change.id, sites: change.sites, daemons: [:], ordinal: 0)
            next.standing = view.standing
            if view.standing == .outside {
                movedTogether = nil
                next.standing = .joining
            }
            sites = next
            startSitesSync(into: &actions)
        }
    }

    /// A site's daemons, where the order delivers its `siteDaemons` message. Departed daemons'
    /// sessions leave every group (a transitional view, then a regular one); new daemons know no
    /// group yet, so every daemon announces its sessions again and the regular views wait for that.
    mutating func applySiteDaemons(
        _ site: SiteID, _ listed: [NodeID], at position: WideAreaPosition?, into actions: inout [GroupAction]
    ) {
        let origin = position?.origin
        if brokenRules.viewsIgnoreOtherSites, sites?.daemons[site]?.contains(me) == false { return }
        guard var view = sites, view.sites.contains(site), origin == site else {
            ignoredMessages += 1
            return
        }
        let previous = view.daemons[site]
        view.daemons[site] = listed
        sites = view
        let departed = Set(previous ?? []).subtracting(listed)
        var newcomers = Set(listed).subtracting(previous ?? [])
        if previous == nil, case .synchronizing = phase {
            newcomers = []  // a site's first list in a configuration: every daemon announces anyway
        }
        if view.standing == .outside, listed.contains(me), (position?.seq ?? 0) > view.siteSeqAtStart {
            // This daemon takes part from where its own site lists it (the others see it new and
            // announce again; so does it, with every group its sessions asked for: a join its ring
            // delivered before it had the order's state was never numbered).
            sites!.standing = .joining
        }
        switch phase {
        case .initial:
            ignoredMessages += 1
        case .transitional(let members, _):
            state.removeSessions(ofDaemons: departed.contains)
            phase = .transitional(members: members.subtracting(departed), consistent: members.subtracting(departed))
        case .operational:
            guard !departed.isEmpty || !newcomers.isEmpty else { return }
            state.removeSessions(ofDaemons: departed.contains)
            viewedDaemons.subtract(departed)
            // A configuration of its own for the clients, beginning here.
            sites!.epoch = sites!.ordinal
            emitTransitionalViews(id: GroupViewID(ring: SitesView.viewRing(view.configuration, epoch: sites!.ordinal), index: 0), into: &actions)
            if newcomers.isEmpty {
                phase = .operational
                emitNetworkViews(into: &actions)
            } else {
                startSitesSync(into: &actions)
            }
        case .synchronizing(var sync):
            state.removeSessions(ofDaemons: departed.contains)
            if !newcomers.isEmpty {
                // They know nothing announced so far: every daemon announces again.
                // (One part way through an announcement finishes it: it counts, older but complete.)
                sync.announced = []
                phase = .synchronizing(sync)
                announceSessions(tag: view.tag, into: &actions)
            }
            completeSitesSyncIfDone(into: &actions)
        }
    }

    /// A state announcement while group views span sites: taken from any daemon of the
    /// configuration's sites during an exchange of this configuration.
    mutating func applySitesState(
        daemon: NodeID, tag: RingID, sessions announced: [SessionMemberships], more: Bool, firstSession: UInt64,
        into actions: inout [GroupAction]
    ) {
        guard case .synchronizing(var sync) = phase, let view = sites, tag == view.tag, view.lists(daemon),
            !sync.announced.contains(daemon)
        else {
            ignoredMessages += 1
            return
        }
        phase = .initial  // so `sync.held` stays uniquely referenced
        if sync.started.insert(daemon).inserted {
            sync.firstSessions[daemon] = firstSession
            state.replaceSessions(of: daemon, with: announced)
        } else {
            state.addSessions(of: daemon, announced)
        }
        if !more {
            sync.started.remove(daemon)
            sync.announced.insert(daemon)
        }
        phase = .synchronizing(sync)
        completeSitesSyncIfDone(into: &actions)
    }

    /// Starts (or starts again) the exchange of sessions: this daemon announces its own.
    private mutating func startSitesSync(into actions: inout [GroupAction]) {
        var sync = GroupSync(ring: sites!.tag, members: [])
        if case .synchronizing(let running) = phase {
            sync.held = running.held
            sync.started = running.started
            sync.firstSessions = running.firstSessions
        }
        phase = .synchronizing(sync)
        announceSessions(tag: sites!.tag, into: &actions)
    }

    private mutating func announceSessions(tag: RingID, into actions: inout [GroupAction]) {
        guard sites?.standing != .outside else { return }
        let pieces = Self.announcementPieces(sessions.announcement(requested: true), limit: limits.maxAnnouncementBytes)
        for (index, piece) in pieces.enumerated() {
            let announcement = GroupMessage.state(
                daemon: me, configuration: tag, sessions: piece, more: index < pieces.count - 1, firstSession: firstSession)
            submit(announcement, service: .agreed, into: &actions)
        }
    }

    /// Once every site has listed its daemons and every one of them announced: the regular views,
    /// then what waited for them.
    private mutating func completeSitesSyncIfDone(into actions: inout [GroupAction]) {
        guard case .synchronizing(let sync) = phase, let view = sites, view.isComplete,
            sync.announced.count >= view.daemonCount
        else { return }
        let everyone = view.allDaemons
        guard everyone.isSubset(of: sync.announced) else { return }
        finishSitesSync(sync, showing: everyone, into: &actions)
    }

    /// The exchange was cut short by a configuration of sites: the sessions of the daemons that
    /// announced in it are shown (the same at every daemon moving on), then what waited. (One
    /// that joined this exchange saw every announcement it counts.)
    private mutating func finishInterruptedSites(_ sync: GroupSync, into actions: inout [GroupAction]) {
        finishSitesSync(sync, showing: sync.announced, into: &actions)
    }

    /// Ends an exchange: the sessions of `shown` daemons only, their regular views, then what was held.
    private mutating func finishSitesSync(_ sync: GroupSync, showing shown: Set<NodeID>, into actions: inout [GroupAction]) {
        state.removeSessions(ofDaemons: { !shown.contains($0) })
        phase = .operational
        viewedDaemons = shown
        sessionFloors = sync.firstSessions.filter { shown.contains($0.key) }
        if sites!.standing == .joining { sites!.standing = .inside }
        emitNetworkViews(into: &actions)
        replay(sync.held, into: &actions)
    }

    /// A transitional view of every group with members, `id`; `movedTogether` records them.
    private mutating func emitTransitionalViews(id: GroupViewID, into actions: inout [GroupAction]) {
        var moved: [String: [SessionID]] = [:]
        let previousViews = lastViewMembers
        lastViewMembers.removeAll()
        for name in state.sortedGroupNames {
            let entry = state.groups[name]!
            guard !entry.members.isEmpty else { continue }
            moved[name] = entry.members
            let view = GroupView(
                group: name, viewID: id, kind: .transitional, reason: .network, members: entry.members,
                changed: entry.members, recipients: entry.localMembers)
            emitView(view, previous: previousViews[name] ?? [], into: &actions)
        }
        movedTogether = moved
    }
}

extension GroupLayer {
    /// Where views across sites stand, for traces: the configuration, each site's daemons, and
    /// the exchange (who announced) if one runs.
    public var sitesDescription: String {
        guard let view = sites else { return "views per ring" }
        let daemons = view.sites.map { site in "\(site):\(view.daemons[site].map { "\($0.map(\.rawValue))" } ?? "?")" }
        var text = "views of \(view.configuration) \(view.standing) \(daemons.joined(separator: " "))"
        switch phase {
        case .synchronizing(let sync):
            text += " exchanging: announced \(sync.announced.map(\.rawValue).sorted()), part way \(sync.started.map(\.rawValue).sorted()), \(sync.held.count) held"
        case .operational: text += " operational"
        case .transitional: text += " transitional"
        case .initial: text += " initial"
        }
        return text
    }
}
