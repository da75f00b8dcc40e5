import ChorusCore
import ChorusProtocol
import ChorusWire
import Foundation
import Logging
import NIOCore

/// The daemon's state: the engine, its timers, the ring transport and the client sessions.
///
/// Everything runs on one event loop, so nothing here takes a lock: the UDP handlers, the client
/// handlers and the timers all call in on that loop (hence `@unchecked Sendable`). Each input runs
/// the engine and performs its actions; writes are flushed once per input batch
/// (`endOfInput`), so many packets and client frames leave in few system calls.
///
/// The hot properties are `@exclusivity(unchecked)`: the loop is the only thread that touches
/// them and no access to one of them overlaps another access to it (the engine is a pure value
/// that calls nothing back, and the sockets' callbacks only touch other properties), so the
/// runtime's dynamic exclusivity checks (a tenth of the daemon's CPU under load) prove nothing.
final class DaemonCore: @unchecked Sendable {
    let eventLoop: any EventLoop
    let config: DaemonConfig
    let peer: DaemonConfig.Peer
    var logger: Logger

    @exclusivity(unchecked) private(set) var engine: Engine
    @exclusivity(unchecked) private var actions: [EngineAction] = []
    @exclusivity(unchecked) private var timers = RingTimers()
    var transport: RingTransport?
    /// The wide area (with more than one site): runs the site's router while this daemon is
    /// its site's representative.
    var wideArea: WideAreaService?

    @exclusivity(unchecked) var sessions: [UInt32: ClientSession] = [:]
    private var sessionNames: Set<String> = []
    private var nextLocal: UInt32 = 1
    @exclusivity(unchecked) private var dirty: [ClientSession] = []
    /// The status built for this input batch: a flood of status requests encodes it once, not
    /// once per 5-byte frame.
    @exclusivity(unchecked) private var batchStatus: String?
    @exclusivity(unchecked) private var paused: [ClientSession] = []
    @exclusivity(unchecked) private var inEndOfInput = false
    private var drainDeadline: Scheduled<Void>?
    private var housekeeping: RepeatedTask?

    @exclusivity(unchecked) var counters = DaemonCounters()
    let nodeNames: [NodeID: String]
    private(set) var configuration: RingConfiguration?

    /// `draining`: shutting down, no new input from clients, sending what was accepted.
    enum State { case created, running, draining, leaving, stopped }
    /// The ring and its timers run while running or draining.
    private var ringIsActive: Bool { state == .running || state == .draining }
    @exclusivity(unchecked) private(set) var state = State.created
    let stopped: EventLoopPromise<Void>
    var onStop: [@Sendable () -> Void] = []

    init(eventLoop: any EventLoop, config: DaemonConfig, peer: DaemonConfig.Peer, logger: Logger) {
        self.eventLoop = eventLoop
        self.config = config
        self.peer = peer
        self.logger = logger
        self.nodeNames = Dictionary(uniqueKeysWithValues: config.daemons.map { (NodeID($0.id), $0.name) })
        // Ring ids must never repeat across restarts: start above any seq this daemon used
        // before, taken from the wall clock in microseconds.
        let floor = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000))
        var order: SiteOrder?
        if config.sites.count > 1 {
            // Tick stamps from the wall clock, so the stamps of different hosts compare.
            var options = config.siteOrder
            let wall = UInt64(max(0, Date().timeIntervalSince1970 * 1e9))
            options.stampOffset = wall &- NIODeadline.now().uptimeNanoseconds
            order = SiteOrder(
                me: NodeID(peer.id), site: SiteID(peer.site), sites: config.sites.map { SiteID($0.id) },
                siteSize: config.siteDaemons(of: peer).count, options: options)
        }
        self.engine = Engine(
            me: NodeID(peer.id), site: config.siteDaemons(of: peer).map { NodeID($0.id) }, ringOptions: config.ring,
            groupLimits: config.groupLimits, ringSeqFloor: floor, wideArea: order)
        self.stopped = eventLoop.makePromise()
        actions.reserveCapacity(256)
    }

    var now: Instant { NIODeadline.now().uptimeNanoseconds }

    // MARK: Lifecycle

    func start() {
        eventLoop.preconditionInEventLoop()
        guard state == .created else { return }  // shut down before it started
        state = .running
        engine.start(now: now, into: &actions)
        performActions()
        endOfInput()
        housekeeping = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(200)) {
            [self] _ in self.checkSlowReceivers()
        }
        logger.info("daemon \(peer.name) started: ring \(peer.address):\(peer.port) (token \(peer.tokenPort)), \(config.siteDaemons(of: peer).count) daemons in its site")
    }

    /// Whether the daemon is serving (not yet stopping).
    var isRunning: Bool { state == .running }

    /// Graceful stop: stop reading clients, send what was accepted (at most `drainTimeout`),
    /// then leave the ring so the others reconfigure at once, end the sessions, close.
    func beginShutdown() {
        guard state == .running else {
            if state == .created { finishStop() }
            return
        }
        state = .draining
        for session in sessions.values {
            session.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        logger.notice("daemon \(peer.name) shutting down: sending \(engine.pendingMessages) queued messages first")
        // The drain ends on an event: every input batch checks it (see `endOfInput`); this
        // deadline ends it otherwise.
        drainDeadline = eventLoop.scheduleTask(in: .nanoseconds(Int64(Self.drainTimeout))) { [self] in
            guard state == .draining else { return }
            logger.warning("leaving with \(engine.pendingMessages) messages unsent after \(Self.drainTimeout / 1_000_000) ms")
            leave()
        }
        leaveIfDrained()
    }

    /// Sent is not enough: the drain is over once the ring shows everything received everywhere
    /// and no paused session still has requests to run.
    private func leaveIfDrained() {
        guard state == .draining, engine.ring.isQuiet, paused.allSatisfy(\.isClosed) else { return }
        drainDeadline?.cancel()
        leave()
    }

    /// The longest a graceful shutdown waits for accepted messages to go out.
    static let drainTimeout: UInt64 = 2_000_000_000

    private func leave() {
        guard state == .draining else { return }
        state = .leaving
        logger.notice("daemon \(peer.name) leaving the ring (graceful shutdown)")
        engine.leave(now: now, into: &actions)
        // The leave is one datagram; send it twice so one loss does not cost the others a timeout.
        let leaveActions = actions
        performActions()
        actions = leaveActions
        performActions()
        for session in Array(sessions.values) {
            close(session, error: (.shuttingDown, "daemon \(peer.name) is shutting down"), reason: "daemon shutdown")
        }
        endOfInput()
        eventLoop.scheduleTask(in: .milliseconds(30)) { [self] in self.finishStop() }
    }

    private func finishStop() {
        guard state != .stopped else { return }
        state = .stopped
        timers.cancelAll()
        housekeeping?.cancel()
        wideArea?.stop()
        for action in onStop { action() }
        latencyProbe?.write()
        stopped.succeed()
    }

    // MARK: Ring input

    func datagram(_ buffer: ByteBuffer) {
        guard ringIsActive else { return }
        counters.datagramsReceived += 1
        let packet: Packet
        do {
            packet = try PacketCodec.decode(buffer)
        } catch {
            counters.badDatagrams += 1
            if counters.badDatagrams & (counters.badDatagrams - 1) == 0 {  // 1st, 2nd, 4th, 8th… only
                logger.warning("dropped a bad ring datagram (\(counters.badDatagrams) so far): \(error)")
            }
            return
        }
        if case .token = packet { counters.tokensReceived += 1 }
        if logger.logLevel <= .trace { traceMembership(packet) }
        engine.receive(packet, now: now, into: &actions)
        performActions()
    }

    /// Membership packets at trace level: enough to follow a gather from the logs.
    private func traceMembership(_ packet: Packet) {
        switch packet {
        case .join(let join):
            logger.trace("join from \(join.sender): ring \(join.ringID) max seq \(join.maxRingSeq) proc \(join.procSet) fail \(join.failSet)")
        case .commit(let commit):
            logger.trace("commit token for \(commit.ringID) members \(commit.members) rotation \(commit.rotation)")
        case .leave(let leave):
            logger.trace("leave from \(leave.sender) of ring \(leave.ringID)")
        default: break
        }
    }

    // MARK: Wide-area input

    /// A routed body from another site, from this daemon's router.
    func wideAreaReceived(_ body: ByteBuffer) {
        guard ringIsActive else { return }
        engine.wideAreaReceived(body, now: now, into: &actions)
        performActions()
        endOfInput()
    }

    /// The router's topology changed or a link came up.
    func wideAreaTopologyChanged(reached: [SiteID]) {
        guard ringIsActive else { return }
        engine.wideAreaTopologyChanged(reached: reached, now: now, into: &actions)
        performActions()
        endOfInput()
    }

    private func wideArea(_ request: WideAreaAction) {
        switch request {
        case .originate(let body, let sites): wideArea?.originate(body, to: sites)
        case .representative(let represent): wideArea?.setRepresentative(represent)
        case .configuration(let change):
            let names = change.sites.map { wideArea?.siteName($0) ?? "\($0)" }
            logger.notice("\(change.kind) configuration of sites \(change.id): \(names.count) sites [\(names.joined(separator: ", "))]")
        }
    }

    private func timersDue() {
        guard ringIsActive else { return }
        let now = self.now
        for timer in timers.takeDue(now: now) {
            engine.timerFired(timer, now: now, into: &actions)
            performActions()
        }
        endOfInput()
    }

    /// Ends an input batch: resumes paused senders, flushes the sockets, re-arms the timer.
    /// Closing a session can re-enter (its channel goes inactive at once); the outer call then
    /// finishes the work, so no session is left marked dirty and never flushed.
    func endOfInput() {
        guard !inEndOfInput else { return }
        finishInputBatch()
        leaveIfDrained()
    }

    private func finishInputBatch() {
        batchStatus = nil
        inEndOfInput = true
        defer { inEndOfInput = false }
        resumePaused()
        while !dirty.isEmpty {
            transport?.flush()
            var batch: [ClientSession] = []
            swap(&batch, &dirty)
            for session in batch {
                session.isDirty = false
                guard !session.isClosed else { continue }
                if session.outstanding > config.maxClientBacklog {
                    slowReceiver(session, "\(session.outstanding) bytes unread (limit \(config.maxClientBacklog))")
                    continue
                }
                session.flush { [self] bytes in
                    self.eventLoop.assertInEventLoop()
                    session.taken(bytes)
                    // A sender paused for its own backlog goes on once it has read enough.
                    if session.isPaused, session.outstanding <= senderPauseBacklog { endOfInput() }
                }
            }
        }
        transport?.flush()
        if ringIsActive {
            timers.reschedule(on: eventLoop, now: now) { [self] in self.timersDue() }
        }
    }

    private func markDirty(_ session: ClientSession) {
        if !session.isDirty {
            session.isDirty = true
            dirty.append(session)
        }
    }

    // MARK: Engine actions

    private func performActions() {
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

    private func configurationChanged(_ configuration: RingConfiguration) {
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

    private func deliver(_ delivery: GroupDelivery) {
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
            session.appendMessage(header: header, payload: delivery.data.payload)
            counters.framesToClients += 1
            markDirty(session)
        }
    }

    /// Frame headers and recipient sessions reused from one delivery to the next.
    @exclusivity(unchecked) private var deliveryCache = DeliveryCache()
    /// Changes whenever a session opens or closes (it invalidates the cached recipients).
    @exclusivity(unchecked) private var sessionsVersion = 0

    /// Private group names of senders, built once per session rather than once per message.
    @exclusivity(unchecked) private var senderNames: [SessionID: String] = [:]
    /// Where bench messages' time goes (docs/latency.md); nil unless CHORUS_LATENCY_PROBE is set.
    private lazy var latencyProbe = LatencyProbe.fromEnvironment(daemon: peer.name)
    /// What each session was last shown of each group (the `added` and `removed` it gets).
    private var shownViews = ShownViews()

    private func privateGroupName(_ session: SessionID) -> String {
        if let name = senderNames[session] { return name }
        if senderNames.count >= 65_536 { senderNames.removeAll(keepingCapacity: true) }
        let name = session.privateGroup
        senderNames[session] = name
        return name
    }

    private func deliverView(_ view: GroupView) {
        if view.reason == .leave {
            for session in view.changed where session.daemon.rawValue == peer.id { shownViews.forget(session.local, in: view.group) }
        }
        guard !view.recipients.isEmpty else { return }
        let reason: MembershipEvent.Reason =
            switch view.reason {
            case .join: .join
            case .leave: .leave
            case .disconnect: .disconnect
            case .network: .network
            }
        let members = view.members.map(\.privateGroup)
        let changed = view.changed.map(\.privateGroup)
        /// The frame for sessions whose previous view of the group had `previous` (nil: none).
        func event(against previous: [SessionID]) -> DaemonEvent {
            .membership(MembershipEvent(
                group: view.group, viewRingSeq: view.viewID.ring.seq,
                viewRingRepresentative: view.viewID.ring.representative.rawValue, viewIndex: view.viewID.index,
                kind: view.kind == .regular ? .regular : .transitional, reason: reason,
                members: members, changed: changed,
                added: view.members.sortedSubtracting(previous).map(\.privateGroup),
                removed: previous.sortedSubtracting(view.members).map(\.privateGroup)))
        }
        // At most two frames: for the sessions that saw the last view shown here, and for those
        // seeing their first view of the group.
        var followingOn: DaemonEvent?
        var first: DaemonEvent?
        for recipient in view.recipients {
            guard let session = sessions[recipient.local], !session.isClosed, session.membershipNotices else { continue }
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

    // MARK: Clients

    /// A client connected; it must send a connect frame first.
    func clientConnected(_ channel: any Channel) -> ClientSession {
        // Numbers wrap after 2^32 connections: skip those still open (a closed session's
        // disconnect was delivered long before its number comes round again).
        while sessions[nextLocal] != nil { nextLocal &+= 1 }
        let session = ClientSession(channel: channel, local: nextLocal)
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
    private func handle(_ session: ClientSession, _ request: ClientRequest) -> Bool {
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
                latencyProbe?.record(.read, payload: message.payload, now: now)
                try engine.send(
                    session: id, service: message.service, groups: message.groups, messageType: message.messageType,
                    selfDiscard: message.selfDiscard, payload: message.payload, now: now, into: &actions)
                counters.messagesAccepted += 1
                session.messagesSent += 1
                performActions()
            case .disconnect:
                close(session, error: nil, reason: "client disconnected")
            case .status:
                if batchStatus == nil { batchStatus = statusJSON() }
                session.append(.statusReply(json: batchStatus!))
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

    private func connect(_ session: ClientSession, _ connect: ConnectRequest) {
        guard connect.version == ClientProtocol.version else {
            return protocolError(session, ProtocolError(.unsupportedVersion, "the daemon speaks protocol version \(ClientProtocol.version), the client asked for \(connect.version)"))
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
        let id = engine.openSession(local: session.local)
        session.id = id
        session.name = connect.name
        session.membershipNotices = connect.membershipNotices
        sessionNames.insert(connect.name)
        counters.sessionsOpened += 1
        session.append(.welcome(Welcome(
            privateGroup: id.privateGroup, daemon: peer.name, maxPayload: UInt32(engine.groups.limits.maxPayloadBytes))))
        markDirty(session)
        logger.debug("session \(id.privateGroup) '\(connect.name)' connected from \(session.channel.remoteAddress?.description ?? "unix socket")")
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
        if let (code, text) = error {
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
            logger.debug("session \(id.privateGroup) '\(session.name)' closed: \(reason)")
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

    private func slowReceiver(_ session: ClientSession, _ detail: String) {
        counters.slowReceiverDisconnects += 1
        logger.warning("disconnecting slow receiver \(session.id?.privateGroup ?? "?") '\(session.name)': \(detail)")
        close(session, error: (.slowReceiver, detail), reason: "slow receiver: \(detail)")
    }

    /// A connection must send its connect frame within this.
    static let connectTimeout: UInt64 = 10_000_000_000

    private func checkSlowReceivers() {
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
    private func resumePaused() {
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
