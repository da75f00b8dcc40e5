import ChorusCore
import ChorusProtocol
import ChorusWire
import Foundation
import Logging
import NIOCore

/// Client sessions: connect, requests (paused while the daemon cannot take them), slow
/// receivers and closing.
extension DaemonCore {
    // MARK: Clients

    /// A client connected; it must send a connect frame first.
    func clientConnected(_ channel: any Channel) -> ClientSession {
        // Numbers count up from the start time in microseconds (never reached by 2^64); skip any
        // still open all the same.
        while sessions[nextLocal] != nil { nextLocal &+= 1 }
        let session = ClientSession(channel: channel, local: nextLocal, identity: identity(of: channel))
        readPeerCredentials(session)
        session.acceptedAt = now
        nextLocal &+= 1
        sessions[session.local] = session
        sessionsVersion &+= 1
        return session
    }

    func clientFrame(_ session: ClientSession, _ frame: RawFrame) {
        guard !session.isClosed else { return }
        let request: ClientRequest
        do {
            request = try ClientRequest.decode(frame, groups: &session.groupNames)
        } catch {
            protocolError(session, error)
            return
        }
        clientRequest(session, request)
    }

    /// Runs `request` now, or queues it while the session is paused.
    func clientRequest(_ session: ClientSession, _ request: ClientRequest) {
        guard !session.isClosed else { return }
        if session.isPaused {
            session.backpressure.enqueue(request)
            return
        }
        if !handle(session, request) {
            // The send queue is full: stop reading this client (TCP pushes back on it) and keep
            // the request until the ring has sent enough.
            session.backpressure.pause(refused: request)
            paused.append(session)
            counters.sendersPaused += 1
            session.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    func protocolError(_ session: ClientSession, _ error: ProtocolError) {
        counters.clientProtocolErrors += 1
        // The requests before the bad frame still take effect, in order.
        if session.backpressure.endAfterQueue(error: (error.code, error.detail), reason: "protocol error: \(error)") { return }
        close(session, error: (error.code, error.detail), reason: "protocol error: \(error)")
    }

    /// Runs one request; returns false, having done nothing, when the send queue is full.
    func handle(_ session: ClientSession, _ request: ClientRequest) -> Bool {
        guard let id = session.id else {
            guard case .connect(let connect) = request else {
                protocolError(session, ProtocolError(.notConnected, "the first frame must be a connect frame"))
                return true
            }
            self.connect(session, connect)
            return true
        }
        do throws(GroupError) {
            switch request {
            case .connect:
                protocolError(session, ProtocolError(.notConnected, "the session is already connected"))
            case .join(let group):
                guard allows(session, .join, group) else {
                    refuse(session, .join, group, .join, request: request)
                    return true
                }
                try engine.join(session: id, group: group, now: now, into: &actions)
                session.groups.insert(group)
                performActions()
            case .leave(let group):
                try engine.leave(session: id, group: group, now: now, into: &actions)
                session.groups.remove(group)
                performActions()
            case .multicast(let message):
                // A session that is not reading what it was sent stops being read until it has:
                // a client that sends faster than it reads then waits, not disconnected for its
                // own backlog (a client that reads nothing is still disconnected at the bound).
                if session.outstanding > senderPauseBacklog { return false }
                if !config.access.allowsEverything, let denied = message.groups.first(where: { !allows(session, .send, $0) }) {
                    refuse(session, .multicast, denied, .send, request: request)
                    return true
                }
                latencyProbe?.record(.read, payload: message.payload, now: now)
                try engine.send(
                    session: id, service: message.service, groups: message.groups, messageType: message.messageType,
                    selfDiscard: message.selfDiscard, payload: message.payload, now: now, into: &actions)
                counters.messagesAccepted += 1
                session.messagesSent += 1
                performActions()
            case .disconnect:
                close(session, error: nil, reason: "client disconnected")
            case .reloadKeys:
                reloadKeys(for: session)
            case .status:
                if config.access.allowsEverything {
                    if batchStatus == nil { batchStatus = statusJSON() }
                    session.append(.statusReply(json: batchStatus!))
                } else {
                    // Only the groups whose members this session may see.
                    session.append(.statusReply(json: statusJSON(for: session)))
                }
                markDirty(session)
                // Replies count against the backlog as they are made, not only at the batch's end.
                if session.outstanding > config.maxClientBacklog {
                    slowReceiver(session, "\(session.outstanding) bytes of status replies unread (limit \(config.maxClientBacklog))")
                }
            }
        } catch {
            if error.code == .busy { return false }
            counters.clientProtocolErrors += 1
            close(session, error: (Self.errorCode(for: error.code), error.detail), reason: "refused request: \(error)")
        }
        return true
    }

    /// Unread bytes above which a session's own multicasts wait (a quarter of the disconnection bound).
    var senderPauseBacklog: Int { config.maxClientBacklog / 4 }

    static func errorCode(for code: GroupError.Code) -> ErrorCode {
        switch code {
        case .invalidGroupName: .invalidGroupName
        case .reservedGroupName: .reservedGroupName
        case .noGroups, .tooManyGroups: .tooManyGroups
        case .tooManyGroupsForSession: .tooManyGroupsForSession
        case .payloadTooLarge: .payloadTooLarge
        default: .malformedFrame
        }
    }

    func connect(_ session: ClientSession, _ connect: ConnectRequest) {
        guard (ClientProtocol.oldestVersion...ClientProtocol.version).contains(connect.version) else {
            return protocolError(session, ProtocolError(.unsupportedVersion, "the daemon speaks protocol versions \(ClientProtocol.oldestVersion) to \(ClientProtocol.version), the client asked for \(connect.version)"))
        }
        if let refusal = authenticate(session, connect) {
            let failures = counters.authenticationFailures
            if failures & (failures - 1) == 0 {  // 1st, 2nd, 4th…: a flood of bad connects cannot fill the disk
                logger.warning("refused a session from \(session.identity): \(refusal.detail) (\(failures) so far)")
            }
            return protocolError(session, refusal)
        }
        guard ConnectRequest.isValidName(connect.name) else {
            return protocolError(session, ProtocolError(.invalidName, "'\(connect.name)': expected 1 to \(ClientProtocol.maxNameLength) characters of A-Z a-z 0-9 _ - ."))
        }
        guard !sessionNames.contains(connect.name) else {
            return protocolError(session, ProtocolError(.nameInUse, "a session named '\(connect.name)' is already connected to daemon \(peer.name)"))
        }
        guard state == .running else {
            return protocolError(session, ProtocolError(.shuttingDown, "daemon \(peer.name) is shutting down"))
        }
        guard sessionNames.count < config.maxSessions else {
            return protocolError(session, ProtocolError(.tooManySessions, "daemon \(peer.name) has \(config.maxSessions) sessions, its limit"))
        }
        let id = openSession(session, name: connect.name, membershipNotices: connect.membershipNotices)
        session.append(.welcome(Welcome(
            privateGroup: privateGroupName(id), daemon: peer.name, maxPayload: UInt32(engine.groups.limits.maxPayloadBytes))))
        markDirty(session)
        logger.debug("session \(privateGroupName(id)) '\(connect.name)' connected: \(session.identity)")
    }

    /// Opens the engine's session for an accepted connect.
    func openSession(_ session: ClientSession, name: String, membershipNotices: Bool) -> SessionID {
        let id = engine.openSession(local: session.local, name: name)
        session.id = id
        session.name = name
        session.membershipNotices = membershipNotices
        sessionNames.insert(name)
        counters.sessionsOpened += 1
        return id
    }

    /// Ends a session: an optional error frame, then the connection closes and the session leaves
    /// its groups (the others see a disconnect view).
    func close(_ session: ClientSession, error: (ErrorCode, String)?, reason: String) {
        guard !session.isClosed else { return }
        session.isClosed = true
        sessions[session.local] = nil
        sessionsVersion &+= 1
        shownViews.forget(session.local)
        if session.isPaused {
            paused.removeAll { $0 === session }
            session.backpressure.drop()
        }
        let channel = session.channel
        // Spread closes a session without a word (its refusals are sent by the handshake).
        if let (code, text) = error, session.spreadOrder == nil {
            session.append(.error(code: code, text: text))
            if channel.isWritable {
                session.flush { _ in }
                channel.close(mode: .output, promise: nil)
                // Give the client a moment to read the error before the connection goes.
                channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        } else {
            channel.close(promise: nil)
        }
        if let id = session.id {
            sessionNames.remove(session.name)
            counters.sessionsClosed += 1
            logger.debug("session \(privateGroupName(id)) '\(session.name)' closed: \(reason)")
            engine.closeSession(id, now: now, into: &actions)
            performActions()
        }
    }

    func clientClosed(_ session: ClientSession) {
        // Frames read before the end of the stream were accepted: run them first.
        if !session.isClosed, session.backpressure.endAfterQueue(error: nil, reason: "connection closed", whileResuming: true) { return }
        close(session, error: nil, reason: "connection closed")
    }

    func writabilityChanged(_ session: ClientSession, isWritable: Bool) {
        if isWritable {
            session.unwritableSince = nil
        } else if session.unwritableSince == nil {
            session.unwritableSince = now
        }
    }

    func slowReceiver(_ session: ClientSession, _ detail: String) {
        counters.slowReceiverDisconnects += 1
        logger.warning("disconnecting slow receiver \(session.id.map(privateGroupName) ?? "?") '\(session.name)': \(detail)")
        close(session, error: (.slowReceiver, detail), reason: "slow receiver: \(detail)")
    }

    /// A connection must send its connect frame within this.
    static let connectTimeout: UInt64 = 10_000_000_000

    func checkSlowReceivers() {
        let now = self.now
        for session in Array(sessions.values) where session.id == nil && now - session.acceptedAt > Self.connectTimeout {
            counters.clientProtocolErrors += 1
            close(session, error: (.notConnected, "no connect frame within \(Self.connectTimeout / 1_000_000_000) s"), reason: "connect timeout")
        }
        for session in Array(sessions.values) {
            guard let since = session.unwritableSince, now - since > config.slowReceiverTimeout else { continue }
            slowReceiver(session, "socket full for \((now - since) / 1_000_000) ms (limit \(config.slowReceiverTimeout / 1_000_000) ms), \(session.outstanding) bytes unread")
        }
        endOfInput()
    }

    /// Runs the requests of paused senders once the send queue has room again.
    func resumePaused() {
        guard !paused.isEmpty, ringIsActive,
            SenderBackpressure.hasRoom(
                pendingMessages: engine.pendingMessages, pendingBytes: engine.ring.pendingBytes,
                maxMessages: config.ring.maxPendingMessages, maxBytes: config.ring.maxPendingBytes)
        else { return }
        let list = paused
        paused.removeAll()
        for session in list where !session.isClosed {
            let outcome = session.backpressure.resume(run: { handle(session, $0) }, isClosed: { session.isClosed })
            if session.isClosed { continue }
            switch outcome {
            case .stillPaused:
                paused.append(session)
            case .ended:
                let ending = session.backpressure.ending!
                close(session, error: ending.error, reason: ending.reason)
            case .drained:
                if state == .running {
                    session.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
                    session.channel.read()
                }
            }
        }
    }
}
