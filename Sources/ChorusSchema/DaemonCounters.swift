/// What the daemon shell counts beside the ring's own counters (`chorus status` shows both).
public struct DaemonCounters: Sendable, Codable, Equatable {
    /// Ring datagrams read from the UDP sockets.
    public var datagramsReceived = 0
    /// Tokens received (each a visit of the token at this daemon).
    public var tokensReceived = 0
    /// Datagrams dropped because they did not decode (bad checksum, truncated, unknown type…).
    public var badDatagrams = 0
    /// Client messages the daemon accepted for the ring.
    public var messagesAccepted = 0
    /// Client messages delivered in order by the engine (whether or not a local session got them).
    public var messagesDelivered = 0
    /// Message frames written to local sessions (one per recipient).
    public var framesToClients = 0
    /// Membership events written to local sessions.
    public var viewsToClients = 0
    public var sessionsOpened = 0
    public var sessionsClosed = 0
    /// Sessions opened on the Spread-compatible listener (counted in `sessionsOpened` too).
    public var spreadSessionsOpened = 0
    /// Client frames refused as malformed, unknown or out of place (each ends its session).
    public var clientProtocolErrors = 0
    /// Connects refused for a missing or unknown token.
    public var authenticationFailures = 0
    /// Joins and sends the access rules refused (the sessions stayed open).
    public var accessRefusals = 0
    /// Sessions disconnected because they did not read their messages.
    public var slowReceiverDisconnects = 0
    /// Times a sender was paused because the daemon's send queue was full.
    public var sendersPaused = 0
    /// Delivered ring payloads that were not valid group messages.
    public var malformedGroupMessages = 0
    /// Regular configurations installed.
    public var configurations = 0
    public init() {}
}
