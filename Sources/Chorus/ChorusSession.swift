import ChorusProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A connection to a Chorus daemon: one session, with its private group.
///
/// Open one with ``ChorusClient/withSession(to:name:membershipNotices:runningOn:_:)``; it ends
/// when the closure returns or throws, or when its task is cancelled.
///
/// ```swift
/// try await ChorusClient.withSession(to: .local, name: "alice") { session in
///     try await session.join("chat")
///     try await session.multicast("hello", to: ["chat"])
///     for try await event in session.events {
///         if case .message(let message) = event { print(message.sender, message.text) }
///     }
/// }
/// ```
public struct ChorusSession: Sendable {
    /// The session's private group: a message sent to it reaches this session only.
    public let privateGroup: String
    /// The name of the daemon the session is connected to.
    public let daemon: String
    /// Largest payload the daemon accepts.
    public let maxPayload: Int
    /// Messages, membership events and status replies, in the order the daemon delivered them.
    /// Iterate it once, from one task. An error frame from the daemon ends it with a
    /// ``ChorusClientError``.
    public let events: ChorusEvents
    private let connection: SessionConnection

    init(welcome: Welcome, connection: SessionConnection) {
        self.privateGroup = welcome.privateGroup
        self.daemon = welcome.daemon
        self.maxPayload = Int(welcome.maxPayload)
        self.events = ChorusEvents(inbox: connection.inbox)
        self.connection = connection
    }

    /// Joins `group`. The session then gets its messages, and a membership event once the join
    /// is ordered (if membership notices are on).
    public func join(_ group: String) async throws(ChorusClientError) {
        try Self.checkGroup(group, joinable: true)
        try await send(.join(group: group))
    }

    /// Leaves `group`.
    public func leave(_ group: String) async throws(ChorusClientError) {
        try Self.checkGroup(group, joinable: true)
        try await send(.leave(group: group))
    }

    /// Multicasts `payload` to every member of `groups` (a member of several gets it once).
    ///
    /// Suspends while the daemon cannot take more (its send queue is full): a sender never
    /// outruns the ring, and a message the daemon accepted is not dropped. Messages multicast
    /// one after another without other suspensions leave in one write.
    public func multicast(
        _ payload: ByteBuffer, to groups: [String], service: Service = .agreed, messageType: UInt16 = 0,
        selfDiscard: Bool = false
    ) async throws(ChorusClientError) {
        let request = MulticastRequest(
            service: service, selfDiscard: selfDiscard, messageType: messageType, groups: groups, payload: payload)
        let header = try connection.header(for: request, maxPayload: maxPayload)
        var buffer = ByteBufferAllocator().buffer(capacity: 4 + header.bytes.count + payload.readableBytes)
        header.writeFrame(payload: payload, into: &buffer)
        try await connection.send(buffer)
    }

    /// Multicasts UTF-8 text.
    public func multicast(
        _ text: String, to groups: [String], service: Service = .agreed, messageType: UInt16 = 0,
        selfDiscard: Bool = false
    ) async throws(ChorusClientError) {
        try await multicast(
            ByteBuffer(string: text), to: groups, service: service, messageType: messageType, selfDiscard: selfDiscard)
    }

    /// Multicasts several messages with one write (for high rates).
    public func multicast(batch messages: [MulticastRequest]) async throws(ChorusClientError) {
        guard let first = messages.first else { return }
        var header = try connection.header(for: first, maxPayload: maxPayload)
        var buffer = ByteBufferAllocator().buffer(
            capacity: messages.reduce(0) { $0 + 4 + header.bytes.count + $1.payload.readableBytes })
        for message in messages {
            if !header.matches(message) { header = try connection.header(for: message, maxPayload: maxPayload) }
            guard message.payload.readableBytes <= maxPayload else {
                throw ChorusClientError(
                    .invalidArgument, "payload of \(message.payload.readableBytes) bytes exceeds the daemon's limit of \(maxPayload)")
            }
            header.writeFrame(payload: message.payload, into: &buffer)
        }
        try await connection.send(buffer)
    }

    /// Asks the daemon for its state; the answer arrives in ``events`` as `.status(json)`.
    public func requestStatus() async throws(ChorusClientError) {
        try await send(.status)
    }

    /// Asks the daemon to read its key file again (`[security] key_file`). The answer comes in
    /// ``events``: a status (its `security` part shows the keys now) or a refusal (not the
    /// daemon's user or root on its Unix socket, plain mode, or a file that does not load).
    public func requestKeyReload() async throws(ChorusClientError) {
        try await send(.reloadKeys)
    }

    private func send(_ request: ClientRequest) async throws(ChorusClientError) {
        var buffer = ByteBuffer()
        request.encode(into: &buffer)
        try await connection.send(buffer)
    }

    static func map(_ error: any Error) -> ChorusClientError {
        if let error = error as? ChorusClientError { return error }
        if error is CancellationError { return ChorusClientError(.closed, "cancelled") }
        return ChorusClientError(.closed, "\(error)")
    }

    static func checkGroup(_ group: String, joinable: Bool) throws(ChorusClientError) {
        let length = group.utf8.count
        guard length > 0, length <= 255 else {
            throw ChorusClientError(.invalidArgument, "group name '\(group)' must be 1 to 255 bytes")
        }
        if joinable, group.hasPrefix("#") {
            throw ChorusClientError(.invalidArgument, "'\(group)' is a private group name; it cannot be joined or left")
        }
    }

    static func checkMulticast(groups: [String], payloadSize: Int, maxPayload: Int) throws(ChorusClientError) {
        guard (1...255).contains(groups.count) else {
            throw ChorusClientError(.invalidArgument, "a message goes to 1 to 255 groups, not \(groups.count)")
        }
        for group in groups { try checkGroup(group, joinable: false) }
        guard payloadSize <= maxPayload else {
            throw ChorusClientError(.invalidArgument, "payload of \(payloadSize) bytes exceeds the daemon's limit of \(maxPayload)")
        }
    }
}

/// The events of a session, as an `AsyncSequence`.
public struct ChorusEvents: AsyncSequence, Sendable {
    public typealias Element = ChorusEvent
    let inbox: SessionInbox

    public struct AsyncIterator: AsyncIteratorProtocol {
        let inbox: SessionInbox
        /// Events taken from the inbox, handed out from `position` on.
        var batch: [ChorusEvent] = []
        var position = 0

        /// The next event; nil once the daemon closed the session or the task was cancelled.
        public mutating func next() async throws -> ChorusEvent? {
            while true {
                if position < batch.count {
                    position += 1
                    return batch[position - 1]
                }
                batch.removeAll(keepingCapacity: true)
                position = 0
                switch inbox.take(into: &batch) {
                case .events: continue
                case .ended(.closed): return nil
                case .ended(.failed(let error)): throw error
                case .empty:
                    if Task.isCancelled { return nil }
                    await inbox.wait()
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inbox: inbox) }
}

/// Where a session's code (the closure given to ``ChorusClient/withSession(to:name:membershipNotices:runningOn:_:)``
/// and the tasks it starts) runs.
public enum SessionExecution: Sendable {
    /// On the thread that reads and writes the session's socket, with no hand-off between
    /// threads for each message: the lowest latency and CPU cost. The closure must not block
    /// (long computations and blocking calls belong in a task of their own, e.g. with
    /// `withTaskExecutorPreference(globalConcurrentExecutor)`), or the session's I/O waits.
    case connectionThread
    /// Where the caller's code runs (the global concurrent executor unless the caller is on an
    /// actor); every send and every event crosses to the socket's thread and back.
    case callerExecutor
}

/// The socket side of a session, shared by the session (any thread) and its event loop.
final class SessionConnection: Sendable {
    let channel: any Channel
    let inbox: SessionInbox
    private let handler: NIOLoopBound<SessionChannelHandler>

    init(channel: any Channel, handler: NIOLoopBound<SessionChannelHandler>, inbox: SessionInbox) {
        self.channel = channel
        self.handler = handler
        self.inbox = inbox
    }

    /// The frame header of the last multicast, reused while the service, type and groups stay.
    private let lastHeader = NIOLockedValueBox<MulticastFrameHeader?>(nil)

    /// The frame header for `request`, checked against the protocol's limits and `maxPayload`.
    func header(for request: MulticastRequest, maxPayload: Int) throws(ChorusClientError) -> MulticastFrameHeader {
        if let cached = lastHeader.withLockedValue({ $0 }), cached.matches(request),
            request.payload.readableBytes <= maxPayload
        {
            return cached
        }
        try ChorusSession.checkMulticast(groups: request.groups, payloadSize: request.payload.readableBytes, maxPayload: maxPayload)
        let header = MulticastFrameHeader(
            service: request.service, selfDiscard: request.selfDiscard, messageType: request.messageType,
            groups: request.groups)
        lastHeader.withLockedValue { $0 = header }
        return header
    }

    /// Writes `buffer` (from the event loop directly) and returns once the socket can take more.
    func send(_ buffer: ByteBuffer) async throws(ChorusClientError) {
        let loop = channel.eventLoop
        let room: EventLoopFuture<Void>?
        if loop.inEventLoop {
            room = try handler.value.write(buffer)
        } else {
            let handler = self.handler
            room = loop.flatSubmit { () -> EventLoopFuture<Void> in
                do throws(ChorusClientError) {
                    return try handler.value.write(buffer) ?? loop.makeSucceededVoidFuture()
                } catch {
                    return loop.makeFailedFuture(error)
                }
            }
        }
        guard let room else { return }
        do {
            try await room.get()
        } catch {
            throw ChorusSession.map(error)
        }
    }

    /// Ends the session gracefully: what was written goes out, then the write side closes, so
    /// the daemon reads every request (it may be pausing this client) before it sees the end.
    /// Waits at most 2 s for the daemon to close: a session whose events are not being read may
    /// never get there.
    func close() async {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.finishWriting() }
        let channel = self.channel
        let forceClose = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        forceClose.cancel()
    }
}

/// Opens sessions with a Chorus daemon.
public enum ChorusClient {
    /// Connects to the daemon at `endpoint` as `name`, runs `body` with the session, and closes the
    /// connection when `body` returns or throws (so the session's groups see it leave).
    ///
    /// - Parameters:
    ///   - name: a label for the session, unique on its daemon: 1 to 32 of `A-Z a-z 0-9 _ - .`.
    ///   - membershipNotices: whether ``ChorusSession/events`` includes membership events.
    ///   - token: a shared secret the daemon knows by a name (its `[clients] tokens_file`), which
    ///     its access rules may name; required over TCP when the daemon has a tokens file.
    ///   - tls: TLS for a TCP endpoint (the daemon's `[clients] tls_certificate`); ignored for a
    ///     Unix socket.
    ///   - execution: where `body` runs; by default on the session's own I/O thread (see
    ///     ``SessionExecution``).
    public static func withSession<Result: Sendable>(
        to endpoint: ChorusEndpoint, name: String, membershipNotices: Bool = true, token: String? = nil, tls: ChorusTLS? = nil,
        runningOn execution: SessionExecution = .connectionThread,
        _ body: (ChorusSession) async throws -> Result
    ) async throws -> Result {
        guard ConnectRequest.isValidName(name) else {
            throw ChorusClientError(.invalidArgument, "session name '\(name)': expected 1 to 32 characters of A-Z a-z 0-9 _ - .")
        }
        if let token, token.isEmpty || token.utf8.count > ClientProtocol.maxTokenLength {
            throw ChorusClientError(.invalidArgument, "token: expected 1 to \(ClientProtocol.maxTokenLength) bytes")
        }
        let tlsContext = try tls.map { tls throws(ChorusClientError) in (tls, try tls.context()) }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        switch execution {
        case .connectionThread:
            let executor = EventLoopTaskExecutor(loop)
            return try await withTaskExecutorPreference(executor) {
                try await session(
                    on: loop, executor: executor, to: endpoint, name: name, membershipNotices: membershipNotices, token: token ?? "",
                    tls: tlsContext, body)
            }
        case .callerExecutor:
            return try await session(
                on: loop, executor: nil, to: endpoint, name: name, membershipNotices: membershipNotices, token: token ?? "",
                tls: tlsContext, body)
        }
    }

    private static func session<Result: Sendable>(
        on loop: any EventLoop, executor: EventLoopTaskExecutor?, to endpoint: ChorusEndpoint, name: String,
        membershipNotices: Bool, token: String, tls: (ChorusTLS, NIOSSLContext)?, _ body: (ChorusSession) async throws -> Result
    ) async throws -> Result {
        let welcome = loop.makePromise(of: Welcome.self)
        // Runs on the channel's event loop, before the channel is active.
        @Sendable func initialize(_ channel: any Channel) -> EventLoopFuture<SessionConnection> {
            channel.eventLoop.makeCompletedFuture {
                let inbox = SessionInbox(channel: channel)
                let handler = SessionChannelHandler(inbox: inbox, welcome: welcome, executor: executor)
                try channel.pipeline.syncOperations.addHandler(handler)
                return SessionConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), inbox: inbox)
            }
        }
        let connection: SessionConnection
        do {
            connection = try await connect(on: loop, to: endpoint, tls: tls, initialize)
        } catch {
            welcome.fail(error)
            throw ChorusClientError(.connectionFailed, "\(endpoint): \(error)")
        }
        let accepted: Welcome
        do {
            var connect = ByteBuffer()
            ClientRequest.connect(ConnectRequest(name: name, membershipNotices: membershipNotices, token: token)).encode(into: &connect)
            try await connection.send(connect)
            accepted = try await welcome.futureResult.get()
        } catch {
            connection.channel.close(promise: nil)
            throw ChorusSession.map(error)
        }
        let result: Result
        do {
            result = try await body(ChorusSession(welcome: accepted, connection: connection))
        } catch {
            connection.channel.close(promise: nil)
            throw error
        }
        await connection.close()
        return result
    }

    private static func connect(
        on loop: any EventLoop, to endpoint: ChorusEndpoint, tls: (ChorusTLS, NIOSSLContext)?,
        _ initialize: @escaping @Sendable (any Channel) -> EventLoopFuture<SessionConnection>
    ) async throws -> SessionConnection {
        switch endpoint {
        case .tcp(let host, let port):
            @Sendable func initializeTLS(_ channel: any Channel) -> EventLoopFuture<SessionConnection> {
                guard let (options, context) = tls else { return initialize(channel) }
                do {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: options.hostname(for: host))
                    try channel.pipeline.syncOperations.addHandler(handler)
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                return initialize(channel)
            }
            return try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_sndbuf), value: 256 << 10)
                .connect(host: host, port: port, channelInitializer: initializeTLS)
        case .unix(let path):
            return try await ClientBootstrap(group: loop).connect(unixDomainSocketPath: path, channelInitializer: initialize)
        }
    }
}
