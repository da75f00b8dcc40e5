import ChorusCore
import ChorusSeal
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

    @exclusivity(unchecked) var engine: Engine
    @exclusivity(unchecked) var actions: [EngineAction] = []
    @exclusivity(unchecked) var timers = RingTimers()
    var transport: RingTransport?
    /// The wide area (with more than one site): runs the site's router while this daemon is
    /// its site's representative.
    var wideArea: WideAreaService?
    /// Seals ring and hop datagrams (nil: plain mode).
    var sealing: DatagramSealing?

    @exclusivity(unchecked) var sessions: [UInt64: ClientSession] = [:]
    var sessionNames: Set<String> = []
    /// The next session's number: from the start time in microseconds (as ring seqs), so a
    /// restarted daemon never gives a number an earlier incarnation gave (see `SessionID`).
    var nextLocal: UInt64
    @exclusivity(unchecked) var dirty: [ClientSession] = []
    /// The status built for this input batch: a flood of status requests encodes it once, not
    /// once per 5-byte frame.
    @exclusivity(unchecked) var batchStatus: String?
    @exclusivity(unchecked) var paused: [ClientSession] = []
    @exclusivity(unchecked) var inEndOfInput = false
    var drainDeadline: Scheduled<Void>?
    var housekeeping: RepeatedTask?

    @exclusivity(unchecked) var counters = DaemonCounters()
    let nodeNames: [NodeID: String]
    /// The client tokens (`[clients] tokens_file`); nil: none.
    let tokens: ClientTokens?
    var configuration: RingConfiguration?

    /// `draining`: shutting down, no new input from clients, sending what was accepted.
    enum State { case created, running, draining, leaving, stopped }
    /// The ring and its timers run while running or draining.
    var ringIsActive: Bool { state == .running || state == .draining }
    @exclusivity(unchecked) private(set) var state = State.created
    let stopped: EventLoopPromise<Void>
    var onStop: [@Sendable () -> Void] = []

    init(eventLoop: any EventLoop, config: DaemonConfig, peer: DaemonConfig.Peer, logger: Logger) {
        self.eventLoop = eventLoop
        self.config = config
        self.peer = peer
        self.logger = logger
        self.nodeNames = Dictionary(uniqueKeysWithValues: config.daemons.map { (NodeID($0.id), $0.name) })
        // Checked when the configuration was loaded; a file spoiled since is a start-up failure
        // that refuses every token, never a daemon that lets everyone in.
        do {
            self.tokens = try config.tokensFile.map { path throws(KeyFileError) in try TokenFile.load(path: path) }
        } catch {
            logger.critical("the tokens file does not load (\(error)); every client that needs a token is refused")
            self.tokens = TokenFile.refuseAll
        }
        // Ring ids and session numbers must never repeat across restarts: start above any this
        // daemon used before, taken from the wall clock in microseconds.
        let floor = max(1, UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000)))
        self.nextLocal = floor
        var order: SiteOrder?
        if config.sites.count > 1 {
            // Tick stamps from the wall clock, so the stamps of different hosts compare.
            var options = config.siteOrder
            // The slowest link with a configured rate touching this site bounds what it sends.
            let rates = config.links.filter { $0.sites.0 == peer.site || $0.sites.1 == peer.site }.map(\.rate)
            options.slowestLinkBytesPerSecond = rates.contains(0) ? 0 : Int(clamping: rates.min() ?? 0)
            let wall = UInt64(max(0, Date().timeIntervalSince1970 * 1e9))
            options.stampOffset = wall &- NIODeadline.now().uptimeNanoseconds
            order = SiteOrder(
                me: NodeID(peer.id), site: SiteID(peer.site), sites: config.sites.map { SiteID($0.id) },
                siteSize: config.siteDaemons(of: peer).count, options: options)
        }
        self.engine = Engine(
            me: NodeID(peer.id), site: config.siteDaemons(of: peer).map { NodeID($0.id) }, ringOptions: config.ring,
            groupLimits: config.groupLimits, ringSeqFloor: floor, wideArea: order, firstSession: floor)
        // Private groups read `#<session name>#<daemon name>`, as Spread's do.
        engine.daemonName = peer.name
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
            [self] _ in
            self.checkSlowReceivers()
            if let sealing = self.sealing {
                sealing.tick(now: self.now)
                if sealing.announcementDue(now: self.now) { self.transport?.announceKeys() }
            }
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
    func leaveIfDrained() {
        guard state == .draining, engine.ring.isQuiet, paused.allSatisfy(\.isClosed) else { return }
        drainDeadline?.cancel()
        leave()
    }

    /// The longest a graceful shutdown waits for accepted messages to go out.
    static let drainTimeout: UInt64 = 2_000_000_000

    func leave() {
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

    func finishStop() {
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
        var buffer = buffer
        if let sealing {
            guard let opened = sealing.open(buffer, channel: .ring, now: now) else { return }
            guard opened.readableBytes > 0 else { return }  // a key announcement (`RingTransport.announceKeys`)
            buffer = opened
        }
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
    func traceMembership(_ packet: Packet) {
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

    func wideArea(_ request: WideAreaAction) {
        switch request {
        case .originate(let body, let sites): wideArea?.originate(body, to: sites)
        case .representative(let represent): wideArea?.setRepresentative(represent)
        case .configuration(let change):
            let names = change.sites.map { wideArea?.siteName($0) ?? "\($0)" }
            logger.notice("\(change.kind) configuration of sites \(change.id): \(names.count) sites [\(names.joined(separator: ", "))]")
        }
    }

    func timersDue() {
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

    func finishInputBatch() {
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
                // Spread cuts off a session with too many messages it could not write yet (counted
                // while its socket is full: a batch being written to a reading client is not a backlog).
                if session.spreadOrder != nil, session.queuedMessages >= config.spreadMaxSessionMessages, !session.channel.isWritable {
                    slowReceiver(session, "\(session.queuedMessages) messages not yet taken by its socket (Spread's limit, spread_max_session_messages = \(config.spreadMaxSessionMessages))")
                }
            }
        }
        transport?.flush()
        if ringIsActive {
            timers.reschedule(on: eventLoop, now: now) { [self] in self.timersDue() }
        }
    }

    func markDirty(_ session: ClientSession) {
        if !session.isDirty {
            session.isDirty = true
            dirty.append(session)
        }
    }

    /// Frame headers and recipient sessions reused from one delivery to the next.
    @exclusivity(unchecked) var deliveryCache = DeliveryCache()
    /// The same for sessions of the Spread-compatible listener.
    @exclusivity(unchecked) var spreadHeaders = SpreadHeaderCache()
    /// Changes whenever a session opens or closes (it invalidates the cached recipients).
    @exclusivity(unchecked) var sessionsVersion = 0

    /// Private group names of senders, built once per session rather than once per message.
    @exclusivity(unchecked) var senderNames: [SessionID: (name: String, privateGroup: String)] = [:]
    /// Where bench messages' time goes (docs/latency.md); nil unless CHORUS_LATENCY_PROBE is set.
    lazy var latencyProbe = LatencyProbe.fromEnvironment(daemon: peer.name)
    /// What each session was last shown of each group (the `added` and `removed` it gets).
    var shownViews = ShownViews()
}
