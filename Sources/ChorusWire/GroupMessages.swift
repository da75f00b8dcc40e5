import NIOCore

/// A client session: its daemon and a number unique on that daemon for the daemon's lifetime.
public struct SessionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var daemon: NodeID
    public var local: UInt32
    @inlinable public init(daemon: NodeID, local: UInt32) {
        self.daemon = daemon
        self.local = local
    }
    @inlinable public static func < (lhs: SessionID, rhs: SessionID) -> Bool {
        (lhs.daemon.rawValue, lhs.local) < (rhs.daemon.rawValue, rhs.local)
    }
    /// The session's private group name, e.g. `#7#d2`. Messages sent to it reach that session only.
    public var privateGroup: String { "#\(local)#\(daemon)" }
    public var description: String { privateGroup }
}

/// A client message as it travels inside the ring: what the group layer needs to deliver it.
public struct ClientData: Sendable, Equatable {
    public var sender: SessionID
    /// Counts the sender session's messages from 1 (fifo and checkers use it).
    public var sessionSeq: UInt64
    public var messageType: UInt16
    public var selfDiscard: Bool
    /// One or more target groups (a private group name reaches one session).
    public var groups: [String]
    public var payload: ByteBuffer

    public init(
        sender: SessionID, sessionSeq: UInt64, messageType: UInt16, selfDiscard: Bool, groups: [String],
        payload: ByteBuffer
    ) {
        self.sender = sender
        self.sessionSeq = sessionSeq
        self.messageType = messageType
        self.selfDiscard = selfDiscard
        self.groups = groups
        self.payload = payload
    }
}

/// One session's memberships, as a daemon announces them after a configuration change.
public struct SessionMemberships: Sendable, Equatable {
    public var session: SessionID
    public var groups: [String]
    public init(session: SessionID, groups: [String]) {
        self.session = session
        self.groups = groups
    }
}

/// Everything the group layer sends through the ring. Joins, leaves and state travel agreed,
/// so every daemon applies them at the same point of the total order.
public enum GroupMessage: Sendable, Equatable {
    case data(ClientData)
    case join(session: SessionID, group: String)
    case leave(session: SessionID, group: String)
    /// The session closed: it leaves every group (reason: disconnect).
    case disconnect(session: SessionID)
    /// After a regular configuration is installed each daemon announces its own sessions' groups.
    /// `configuration` is the ring the announcement belongs to. A large announcement travels in
    /// pieces, each within one ring message: every piece but the last has `more` set (a session's
    /// groups may continue in the next piece).
    case state(daemon: NodeID, configuration: RingID, sessions: [SessionMemberships], more: Bool = false)
    /// With more than one site: the daemons of `site` that take part in the order now, put in the
    /// site's stream by its order layer where its ring changed (or a configuration of sites began),
    /// so every daemon of every site changes its group views at the same point of the global order.
    case siteDaemons(site: SiteID, daemons: [NodeID])
}
