import ChorusCore
import ChorusProtocol
import ChorusSpread
import ChorusWire
import NIOCore

/// Sessions of the Spread-compatible listener (`spread_port`, `spread_socket`): the same
/// sessions, groups and services as the Chorus protocol's, with Spread's handshake, requests and
/// messages (see `SpreadChannelHandler`, `ChorusSpread`).
extension DaemonCore {
    /// Opens the session a Spread client asked for; the private group, or the code its
    /// handshake is refused with.
    func spreadConnect(_ session: ClientSession, _ connect: SpreadConnect) -> Result<String, SpreadRefusal> {
        // NULL authentication carries no credentials: a daemon that requires tokens refuses it.
        if let refusal = authenticate(session, ConnectRequest(name: connect.name, membershipNotices: connect.membershipNotices)) {
            return .failure(SpreadRefusal(.rejectAuth, refusal.detail))
        }
        var name = connect.name
        if name.isEmpty {
            // As Spread does: a name made up for the session, "r<number>-<number>".
            repeat { name = "r\(UInt16.random(in: 0..<10_000))-\(session.local % 100_000)" } while sessionNames.contains(name)
        }
        // Spread's group names are 32 bytes with the NUL: the private group must fit.
        guard "#\(name)#\(peer.name)".utf8.count < Spread.groupNameSize else {
            return .failure(SpreadRefusal(.rejectIllegalName, "private group '#\(name)#\(peer.name)' is longer than Spread's 31 bytes (a shorter name, or a daemon name of at most \(Spread.groupNameSize - 3 - name.utf8.count) bytes)"))
        }
        guard !sessionNames.contains(name) else {
            return .failure(SpreadRefusal(.rejectNotUnique, "a session named '\(name)' is already connected to daemon \(peer.name)"))
        }
        guard state == .running else { return .failure(SpreadRefusal(.couldNotConnect, "daemon \(peer.name) is shutting down")) }
        guard sessionNames.count < config.maxSessions else {
            return .failure(SpreadRefusal(.rejectQuota, "daemon \(peer.name) has \(config.maxSessions) sessions, its limit"))
        }
        let id = openSession(session, name: name, membershipNotices: connect.membershipNotices)
        counters.spreadSessionsOpened += 1
        logger.debug("Spread session \(privateGroupName(id)) '\(name)' connected (library \(connect.version.0).\(connect.version.1).\(connect.version.2)): \(session.identity)")
        return .success(privateGroupName(id))
    }

    /// Runs a Spread client's request as the Chorus protocol's equivalent.
    func spreadRequest(_ session: ClientSession, _ request: SpreadRequest) {
        switch request {
        case .join(let group): clientRequest(session, .join(group: group))
        case .leave(let group): clientRequest(session, .leave(group: group))
        case .disconnect: clientRequest(session, .disconnect)
        case .multicast(let message):
            clientRequest(
                session,
                .multicast(MulticastRequest(
                    service: Service(rawValue: message.service) ?? .agreed, selfDiscard: message.selfDiscard,
                    messageType: message.messageType, groups: message.groups, payload: message.payload)))
        }
    }

    /// A Spread session broke the protocol after its handshake: Spread closes such a session
    /// without a word, and so does this listener (the log and `clientProtocolErrors` say why).
    func spreadProtocolError(_ session: ClientSession, _ refusal: SpreadRefusal) {
        counters.clientProtocolErrors += 1
        if session.backpressure.endAfterQueue(error: nil, reason: "Spread protocol error: \(refusal)") { return }
        close(session, error: nil, reason: "Spread protocol error: \(refusal)")
    }

    /// A refused join or multicast, sent back the way Spread sends it: a reject message.
    func spreadReject(_ session: ClientSession, _ request: ClientRequest, group: String) {
        session.appendSpread { order, buffer in
            let sender = session.id.map(privateGroupName) ?? ""
            switch request {
            case .multicast(let message):
                let type = (UInt32(1) << UInt32(message.service.rawValue)) | (message.selfDiscard ? Spread.TypeBits.selfDiscard : 0)
                SpreadMessageWriter.writeReject(
                    requestType: type, sender: sender, groups: message.groups, messageType: message.messageType,
                    payload: message.payload, order: order, into: &buffer)
            case .leave:
                SpreadMessageWriter.writeReject(
                    requestType: Spread.TypeBits.leave, sender: sender, groups: [group], messageType: 0, payload: nil, order: order,
                    into: &buffer)
            default:
                SpreadMessageWriter.writeReject(
                    requestType: Spread.TypeBits.join, sender: sender, groups: [group], messageType: 0, payload: nil, order: order,
                    into: &buffer)
            }
        }
        markDirty(session)
    }

    /// Spread tells a session that left a group so, once the leave took effect.
    func spreadSelfLeave(_ local: UInt64, group: String) {
        guard let session = sessions[local], session.spreadOrder != nil, !session.isClosed, session.membershipNotices else { return }
        session.appendSpread { order, buffer in SpreadMessageWriter.writeSelfLeave(group: group, order: order, into: &buffer) }
        markDirty(session)
    }

    /// A group view as Spread's membership messages: a transitional one, or a regular one whose
    /// vs sets are the members that came with this session (first, so its offset is 0), then
    /// the others by daemon (members of one daemon surely came together).
    func appendSpreadView(_ view: GroupView, to session: ClientSession) {
        let groupID = SpreadGroupID(
            daemon: view.viewID.ring.representative.rawValue, time: UInt32(truncatingIfNeeded: view.viewID.ring.seq),
            index: UInt32(truncatingIfNeeded: view.viewID.index))
        guard view.kind == .regular else {
            session.appendSpread { order, buffer in
                SpreadMessageWriter.writeTransitionalMembership(group: view.group, groupID: groupID, order: order, into: &buffer)
            }
            return
        }
        let cause: SpreadCause =
            switch view.reason {
            case .join: .join
            case .leave: .leave
            case .disconnect: .disconnect
            case .network: .network
            }
        var sets = [view.changed.map(privateGroupName)]
        if cause == .network {
            let together = Set(view.changed)
            var byDaemon: [(NodeID, [String])] = []
            for member in view.members where !together.contains(member) {
                if let index = byDaemon.firstIndex(where: { $0.0 == member.daemon }) {
                    byDaemon[index].1.append(privateGroupName(member))
                } else {
                    byDaemon.append((member.daemon, [privateGroupName(member)]))
                }
            }
            sets += byDaemon.map(\.1)
        }
        let members = view.members.map(privateGroupName)
        session.appendSpread { order, buffer in
            SpreadMessageWriter.writeRegularMembership(
                group: view.group, cause: cause, groupID: groupID, members: members, vsSets: sets, localSet: 0, order: order,
                into: &buffer)
        }
    }
}
