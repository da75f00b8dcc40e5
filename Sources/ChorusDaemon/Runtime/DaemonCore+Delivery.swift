import ChorusCore
import ChorusProtocol
import ChorusWire
import Foundation
import Logging
import NIOCore

/// What the engine asks of the daemon: packets, timers, deliveries and views to its clients.
extension DaemonCore {
    // MARK: Engine actions

    func performActions() {
        guard !actions.isEmpty else { return }
        var batch: [EngineAction] = []
        swap(&batch, &actions)
        batch.drain(leaving: .filler) { action in
            switch action {
            case .send(let packet, let destination):
                transport?.send(packet, to: destination)
            case .setTimer(let timer, let deadline):
                timers.arm(timer, at: deadline)
            case .configuration(let configuration):
                configurationChanged(configuration)
            case .deliver(let delivery):
                deliver(delivery)
            case .view(let view):
                deliverView(view)
            case .decodeError(let text):
                counters.malformedGroupMessages += 1
                logger.warning("dropped a malformed group message: \(text)")
            case .wideArea(let request):
                wideArea(request)
            }
        }
        if actions.isEmpty { swap(&batch, &actions) } else { performActions() }
    }

    func configurationChanged(_ configuration: RingConfiguration) {
        self.configuration = configuration
        let names = configuration.members.map { nodeNames[$0] ?? "\($0)" }
        logger[metadataKey: "ring"] = "\(configuration.ringID)"
        switch configuration.kind {
        case .regular:
            counters.configurations += 1
            logger.notice("regular configuration \(configuration.ringID): \(names.count) daemons [\(names.joined(separator: ", "))]")
        case .transitional:
            logger.notice("transitional configuration to \(configuration.ringID): \(names.count) daemons moved together [\(names.joined(separator: ", "))]")
        }
    }

    func deliver(_ delivery: GroupDelivery) {
        counters.messagesDelivered += 1
        if let latencyProbe {
            latencyProbe.record(
                delivery.data.sender.daemon.rawValue == peer.id ? .deliveredOwn : .deliveredOther,
                payload: delivery.data.payload, now: now)
        }
        guard !delivery.recipients.isEmpty else { return }
        let header = deliveryCache.header(for: delivery.data, service: delivery.service) { privateGroupName($0) }
        let recipients = deliveryCache.sessions(for: delivery.recipients, version: sessionsVersion) { sessions[$0] }
        for session in recipients where !session.isClosed {
            if let order = session.spreadOrder {
                let spread = spreadHeaders.header(for: delivery.data, service: delivery.service, order: order) { privateGroupName($0) }
                session.appendSpreadMessage(header: spread, payload: delivery.data.payload)
            } else {
                session.appendMessage(header: header, payload: delivery.data.payload)
            }
            counters.framesToClients += 1
            markDirty(session)
        }
    }


    /// `#<name>#<daemon name>`, made once per session and kept. (A session's number is never
    /// given twice, but for a wall clock stepped back across a restart: the name is compared too.)
    func privateGroupName(_ session: SessionID) -> String {
        if let cached = senderNames[session], cached.name == session.name { return cached.privateGroup }
        if senderNames.count >= 65_536 { senderNames.removeAll(keepingCapacity: true) }
        let name = session.privateGroup(daemonName: nodeNames[session.daemon] ?? "\(session.daemon)")
        senderNames[session] = (session.name, name)
        return name
    }

    func deliverView(_ view: GroupView) {
        if view.reason == .leave {
            for session in view.changed where session.daemon.rawValue == peer.id {
                shownViews.forget(session.local, in: view.group)
                spreadSelfLeave(session.local, group: view.group)
            }
        }
        guard !view.recipients.isEmpty else { return }
        let reason: MembershipEvent.Reason =
            switch view.reason {
            case .join: .join
            case .leave: .leave
            case .disconnect: .disconnect
            case .network: .network
            }
        let members = view.members.map(privateGroupName)
        let changed = view.changed.map(privateGroupName)
        /// The frame for sessions whose previous view of the group had `previous` (nil: none).
        func event(against previous: [SessionID]) -> DaemonEvent {
            .membership(MembershipEvent(
                group: view.group, viewRingSeq: view.viewID.ring.seq,
                viewRingRepresentative: view.viewID.ring.representative.rawValue, viewIndex: view.viewID.index,
                kind: view.kind == .regular ? .regular : .transitional, reason: reason,
                members: members, changed: changed,
                added: view.members.sortedSubtracting(previous).map(privateGroupName),
                removed: previous.sortedSubtracting(view.members).map(privateGroupName)))
        }
        // At most two frames: for the sessions that saw the last view shown here, and for those
        // seeing their first view of the group.
        var followingOn: DaemonEvent?
        var first: DaemonEvent?
        for recipient in view.recipients {
            guard let session = sessions[recipient.local], !session.isClosed, session.membershipNotices,
                allows(session, .members, view.group)
            else { continue }
            if session.spreadOrder != nil {
                appendSpreadView(view, to: session)
                counters.viewsToClients += 1
                markDirty(session)
                continue
            }
            if let previous = shownViews.previous(of: recipient.local, in: view.group) {
                if followingOn == nil { followingOn = event(against: previous) }
                session.append(followingOn!)
            } else {
                if first == nil { first = event(against: []) }
                session.append(first!)
            }
            counters.viewsToClients += 1
            markDirty(session)
        }
        shownViews.show(view.members, of: view.group, to: view.recipients.lazy.map(\.local))
    }

}
