import ChorusProtocol
import NIOCore
import NIOPosix

/// A connection to a Chorus daemon: one session, with its private group.
///
/// Open one with ``ChorusClient/withSession(to:name:membershipNotices:_:)``; it ends when the
/// closure returns or throws, or when its task is cancelled.
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
    /// Iterate it once. An error frame from the daemon ends it with a ``ChorusClientError``.
    public let events: ChorusEvents
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    init(welcome: Welcome, events: ChorusEvents, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.privateGroup = welcome.privateGroup
        self.daemon = welcome.daemon
        self.maxPayload = Int(welcome.maxPayload)
        self.events = events
        self.outbound = outbound
    }

    /// Joins `group`. The session then gets its messages, and a membership event once the join
    /// is ordered (if membership notices are on).
    public func join(_ group: String) async throws(ChorusClientError) {
        try Self.checkGroup(group, joinable: true)
        try await write(.join(group: group))
    }

    /// Leaves `group`.
    public func leave(_ group: String) async throws(ChorusClientError) {
        try Self.checkGroup(group, joinable: true)
        try await write(.leave(group: group))
    }

    /// Multicasts `payload` to every member of `groups` (a member of several gets it once).
    ///
    /// Suspends while the daemon cannot take more (its send queue is full): a sender never
    /// outruns the ring, and a message the daemon accepted is not dropped.
    public func multicast(
        _ payload: ByteBuffer, to groups: [String], service: Service = .agreed, messageType: UInt16 = 0,
        selfDiscard: Bool = false
    ) async throws(ChorusClientError) {
        try Self.checkMulticast(groups: groups, payloadSize: payload.readableBytes, maxPayload: maxPayload)
        try await write(.multicast(MulticastRequest(
            service: service, selfDiscard: selfDiscard, messageType: messageType, groups: groups, payload: payload)))
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
        for message in messages {
            try Self.checkMulticast(groups: message.groups, payloadSize: message.payload.readableBytes, maxPayload: maxPayload)
        }
        // One buffer for the whole batch: one write, one pass through the channel.
        var buffer = ByteBufferAllocator().buffer(
            capacity: messages.reduce(0) { $0 + $1.payload.readableBytes + 16 + $1.groups.count * 32 })
        for message in messages { ClientRequest.multicast(message).encode(into: &buffer) }
        do {
            try await outbound.write(buffer)
        } catch {
            throw Self.map(error)
        }
    }

    /// Asks the daemon for its state; the answer arrives in ``events`` as `.status(json)`.
    public func requestStatus() async throws(ChorusClientError) {
        try await write(.status)
    }

    private func write(_ request: ClientRequest) async throws(ChorusClientError) {
        var buffer = ByteBuffer()
        request.encode(into: &buffer)
        do {
            try await outbound.write(buffer)
        } catch {
            throw Self.map(error)
        }
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
    let inbound: NIOAsyncChannelInboundStream<[DaemonEvent]>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: NIOAsyncChannelInboundStream<[DaemonEvent]>.AsyncIterator
        var batch: [DaemonEvent] = []
        var position = 0

        public mutating func next() async throws -> ChorusEvent? {
            while true {
                if position == batch.count {
                    do {
                        guard let next = try await base.next() else { return nil }
                        batch = next
                        position = 0
                    } catch {
                        throw ChorusSession.map(error)
                    }
                    continue
                }
                let event = batch[position]
                position += 1
                switch event {
                case .message(let message):
                    return .message(ChorusMessage(
                        sender: message.sender, groups: message.groups, service: message.service,
                        messageType: message.messageType, payload: message.payload))
                case .membership(let membership): return .membership(ChorusMembership(membership))
                case .statusReply(let json): return .status(json)
                case .error(let code, let text): throw ChorusClientError(.refused(code), text)
                case .welcome: throw ChorusClientError(.protocolViolation, "a second welcome frame")
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: inbound.makeAsyncIterator()) }
}

/// Opens sessions with a Chorus daemon.
public enum ChorusClient {
    /// Connects to the daemon at `endpoint` as `name`, runs `body` with the session, and closes the
    /// connection when `body` returns or throws (so the session's groups see it leave).
    ///
    /// - Parameters:
    ///   - name: a label for the session, unique on its daemon: 1 to 32 of `A-Z a-z 0-9 _ - .`.
    ///   - membershipNotices: whether ``ChorusSession/events`` includes membership events.
    public static func withSession<Result: Sendable>(
        to endpoint: ChorusEndpoint, name: String, membershipNotices: Bool = true,
        _ body: (ChorusSession) async throws -> Result
    ) async throws -> Result {
        guard ConnectRequest.isValidName(name) else {
            throw ChorusClientError(.invalidArgument, "session name '\(name)': expected 1 to 32 characters of A-Z a-z 0-9 _ - .")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let welcome = group.next().makePromise(of: Welcome.self)
        @Sendable func initialize(_ channel: any Channel) -> EventLoopFuture<NIOAsyncChannel<[DaemonEvent], ByteBuffer>> {
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(DaemonEventHandler(welcome: welcome))
                return try NIOAsyncChannel(
                    wrappingChannelSynchronously: channel,
                    configuration: .init(
                        backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), isOutboundHalfClosureEnabled: true))
            }
        }
        let channel: NIOAsyncChannel<[DaemonEvent], ByteBuffer>
        do {
            switch endpoint {
            case .tcp(let host, let port):
                channel = try await ClientBootstrap(group: group)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelOption(.socketOption(.so_sndbuf), value: 256 << 10)
                    .connect(host: host, port: port, channelInitializer: initialize)
            case .unix(let path):
                channel = try await ClientBootstrap(group: group)
                    .connect(unixDomainSocketPath: path, channelInitializer: initialize)
            }
        } catch {
            welcome.fail(error)
            throw ChorusClientError(.connectionFailed, "\(endpoint): \(error)")
        }
        let underlying = channel.channel
        return try await channel.executeThenClose { inbound, outbound in
            var connect = ByteBuffer()
            ClientRequest.connect(ConnectRequest(name: name, membershipNotices: membershipNotices)).encode(into: &connect)
            try await outbound.write(connect)
            let accepted = try await welcome.futureResult.get()
            let session = ChorusSession(welcome: accepted, events: ChorusEvents(inbound: inbound), outbound: outbound)
            let result = try await body(session)
            // Close gracefully: half-close after every buffered write is out, so the daemon reads
            // all of them (it may be pausing us) before it sees the end and closes. Wait for that
            // a little; a session whose events are not being read may never get there.
            outbound.finish()
            let forceClose = underlying.eventLoop.scheduleTask(in: .seconds(2)) { underlying.close(promise: nil) }
            try? await underlying.closeFuture.get()
            forceClose.cancel()
            return result
        }
    }
}
