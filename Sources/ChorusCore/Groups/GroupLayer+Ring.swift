import ChorusWire
import NIOCore

extension GroupLayer {
    /// The ring delivered a message: apply it and emit the deliveries and views it causes.
    /// A payload that does not decode is counted and reported as `.decodeError`.
    public mutating func ringDelivered(_ delivery: RingDelivery, into actions: inout [GroupAction]) {
        if let data = clientData(in: delivery, into: &actions) { actions.append(.deliver(groupDelivery(data, delivery))) }
    }

    /// As `ringDelivered(_:into:)`, but a client message's delivery goes straight to the engine's
    /// actions (the common case skips one action array; nothing else is pending, so order holds).
    mutating func ringDelivered(
        _ delivery: RingDelivery, position: WideAreaPosition? = nil, ordinal: UInt64 = 0, deliveries: inout [EngineAction],
        into actions: inout [GroupAction]
    ) {
        if position != nil { deliveredAt(ordinal: ordinal) }
        if let data = clientData(in: delivery, position: position, into: &actions) {
            deliveries.append(.deliver(groupDelivery(data, delivery, position: position)))
        }
    }

    /// Decodes what the ring delivered. Client data to deliver now comes back; anything else is
    /// held for the state exchange, applied, or counted and reported as a decode error. Client
    /// data outside a state exchange, the common case, is decoded bare (no `GroupMessage`) and
    /// moves into its delivery; the general decoder reads only what the fast one does not.
    private mutating func clientData(
        in delivery: RingDelivery, position: WideAreaPosition? = nil, into actions: inout [GroupAction]
    ) -> ClientData? {
        let message: GroupMessage
        if let data = GroupMessageCodec.decodeData(delivery.payload, names: &lastGroupNames) {
            if sites != nil, case .initial = phase {
                // Across sites, before the order's state: in no configuration yet (its unreliable
                // messages would come again with the state, among what the others hold).
                ignoredMessages += 1
                return nil
            }
            guard case .synchronizing = phase else { return data }
            message = .data(data)
        } else {
            do throws(WireError) {
                message = try GroupMessageCodec.decode(delivery.payload)
            } catch {
                decodeErrors += 1
                actions.append(.decodeError("group message from \(delivery.sender) in ring \(delivery.ringID): \(error)"))
                return nil
            }
        }
        guard !holdDuringSync(message, delivery, position: position) else { return nil }
        if case .data(let data) = message { return data }
        apply(message, position: position, into: &actions)
        return nil
    }

    @inline(__always) private mutating func groupDelivery(
        _ data: consuming ClientData, _ delivery: RingDelivery, position: WideAreaPosition? = nil
    ) -> GroupDelivery {
        groupDelivery(data, service: delivery.service, ringID: delivery.ringID, position: position)
    }

    @inline(__always) private mutating func groupDelivery(
        _ data: consuming ClientData, service: Service, ringID: RingID, position: WideAreaPosition?
    ) -> GroupDelivery {
        // Recipients first: `data` then moves into the delivery, where it would otherwise be copied.
        let recipients = recipients(for: data)
        guard data.isStandIn, !recipients.isEmpty else {
            return GroupDelivery(data: data, service: service, ringID: ringID, recipients: recipients, position: position)
        }
        // No body to give them (see `GroupDelivery.bodyWithheld`).
        withheldBodies += 1
        var delivery = GroupDelivery(data: data, service: service, ringID: ringID, recipients: [], position: position)
        delivery.bodyWithheld = true
        return delivery
    }

    /// While the state exchange runs, client data and joins, leaves and disconnects wait: they
    /// belong to the new configuration, whose regular views are not out yet. Returns whether
    /// `message` was held.
    private mutating func holdDuringSync(
        _ message: GroupMessage, _ delivery: RingDelivery, position: WideAreaPosition?
    ) -> Bool {
        guard case .synchronizing(var sync) = phase else { return false }
        if case .state = message { return false }
        if case .siteDaemons = message { return false }
        if case .interestsDropped = message { return false }
        if case .data = message, brokenRules.dataDuringStateExchange { return false }
        phase = .initial  // so `sync.held` is uniquely referenced and grows in place
        sync.held.append(
            HeldMessage(message: message, service: delivery.service, ringID: delivery.ringID, position: position))
        phase = .synchronizing(sync)
        return true
    }

    /// Delivers and applies, in order, what waited for the regular views.
    mutating func replay(_ held: [HeldMessage], into actions: inout [GroupAction]) {
        for item in held {
            guard let message = item.message else {
                if let change = item.siteChange { actions.append(.siteConfiguration(change)) }
                continue
            }
            if case .data(let data) = message {
                actions.append(.deliver(groupDelivery(data, service: item.service, ringID: item.ringID, position: item.position)))
            } else {
                apply(message, into: &actions)
            }
        }
    }

    /// A configuration of sites begins here: after what waits for the state exchange, if one runs
    /// (views per ring), or with the views it causes (views span sites).
    public mutating func siteConfiguration(_ change: SiteConfigurationChange, into actions: inout [GroupAction]) {
        if sites != nil {
            sitesConfiguration(change, into: &actions)
            return
        }
        guard case .synchronizing(var sync) = phase else {
            actions.append(.siteConfiguration(change))
            return
        }
        phase = .initial
        sync.held.append(HeldMessage(message: nil, service: .agreed, ringID: ring, siteChange: change))
        phase = .synchronizing(sync)
    }

    /// Applies a membership message (anything but client data).
    private mutating func apply(_ message: GroupMessage, position: WideAreaPosition? = nil, into actions: inout [GroupAction]) {
        switch message {
        case .data:
            preconditionFailure("client data is delivered, not applied")
        case .join(let session, let group):
            applyJoin(session, group, into: &actions)
        case .leave(let session, let group):
            applyLeave(session, group, into: &actions)
        case .disconnect(let session):
            applyDisconnect(session, into: &actions)
        case .state(let daemon, let configuration, let announced, let more, let firstSession):
            if sites != nil {
                applySitesState(
                    daemon: daemon, tag: configuration, sessions: announced, more: more, firstSession: firstSession, into: &actions)
            } else {
                applyState(daemon: daemon, configuration: configuration, sessions: announced, more: more, into: &actions)
            }
        case .siteDaemons(let site, let daemons):
            applySiteDaemons(site, daemons, at: position, into: &actions)
        case .interestsDropped:
            break  // for the order layer (`SiteOrder+Pruning`)
        }
    }

    /// The ring is about to install `configuration`: a state exchange it cuts short is finished
    /// now (see `finishInterrupted`), so its views and messages fall in the configuration that ends.
    public mutating func ringConfigurationWillChange(_ configuration: RingConfiguration, into actions: inout [GroupAction]) {
        guard sites == nil, case .synchronizing(let sync) = phase, configuration.ringID != ring else { return }
        finishInterrupted(sync, into: &actions)
    }

    /// The ring installed a configuration.
    ///
    /// Transitional: every group drops the sessions of daemons not in it and each group that
    /// still has members gets a transitional view. Regular: this daemon announces its sessions'
    /// groups; once every member's announcement is delivered, each group gets a regular view.
    public mutating func ringConfiguration(_ configuration: RingConfiguration, into actions: inout [GroupAction]) {
        // With views across sites, a ring's changes reach views through the site's stream (`siteDaemons`).
        guard sites == nil else { return }
        switch configuration.kind {
        case .transitional:
            enterTransitional(ring: configuration.ringID, members: configuration.members, into: &actions)
        case .regular:
            enterRegular(configuration, into: &actions)
        }
    }

    // MARK: Membership changes

    /// Whether a join from `session` is applied now: its daemon is in the current configuration
    /// (a departed daemon's join may still be delivered in the transitional configuration;
    /// applying it would bring back a session that is gone), and with views across sites, the
    /// session is not of an earlier incarnation of its daemon (`sessionFloors`).
    private func admits(_ session: SessionID) -> Bool {
        guard session.local >= sessionFloors[session.daemon, default: 0] || brokenRules.sessionsOfEarlierIncarnations else {
            return false
        }
        let daemon = session.daemon
        return switch phase {
        case .initial: sites == nil
        case .transitional(let members, _): members.contains(daemon)
        case .operational: viewedDaemons.contains(daemon)
        case .synchronizing: regularMembers.contains(daemon)
        }
    }

    mutating func applyJoin(_ session: SessionID, _ group: String, into actions: inout [GroupAction]) {
        guard GroupNames.isJoinable(group), admits(session) else {
            ignoredMessages += 1
            return
        }
        if session.daemon == me { sessions[session.local]?.joined.insert(group) }
        guard state.insert(session, into: group) else { return }
        emitViews(for: CollectionOfOne(group), reason: .join, session: session, into: &actions)
    }

    mutating func applyLeave(_ session: SessionID, _ group: String, into actions: inout [GroupAction]) {
        if session.daemon == me { sessions[session.local]?.joined.remove(group) }
        guard state.remove(session, from: group) else { return }
        emitViews(for: CollectionOfOne(group), reason: .leave, session: session, into: &actions)
    }

    mutating func applyDisconnect(_ session: SessionID, into actions: inout [GroupAction]) {
        let left = state.removeAll(session)
        guard !left.isEmpty else { return }
        emitViews(for: left, reason: .disconnect, session: session, into: &actions)
    }

    /// One view-producing event: one new view id, one view per affected group. Outside the
    /// operational phase changes only update the table (the next regular views include them).
    private mutating func emitViews(
        for names: some Collection<String>, reason: GroupView.Reason, session: SessionID,
        into actions: inout [GroupAction]
    ) {
        guard case .operational = phase else { return }
        let id = nextViewID()
        for name in names {
            let entry = state.groups[name] ?? GroupEntry()
            let view = GroupView(
                group: name, viewID: id, kind: .regular, reason: reason, members: entry.members, changed: [session],
                recipients: entry.localMembers)
            emitView(view, into: &actions)
        }
    }

    /// Emits `view` with its `added` and `removed`: the difference from `previous`, the members of
    /// the group's last view here (by default `lastViewMembers`, which every local member that
    /// stayed in the group was shown).
    mutating func emitView(_ view: GroupView, previous: [SessionID]? = nil, into actions: inout [GroupAction]) {
        guard showsViews else { return }
        var view = view
        let previous = previous ?? lastViewMembers[view.group] ?? []
        view.added = view.members.sortedSubtracting(previous)
        view.removed = previous.sortedSubtracting(view.members)
        lastViewMembers[view.group] = view.members.isEmpty ? nil : view.members
        actions.append(.view(view))
    }
}
