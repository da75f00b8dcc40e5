import NIOCore

/// A client session: its daemon and a number that daemon never gives again, not even after a
/// restart (each incarnation numbers its sessions from a point above every number an earlier
/// one used: the daemon from its start time in microseconds), with the name it connected with
/// (unique on its daemon while it is open), which travels with it so every daemon shows it by name.
public struct SessionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var daemon: NodeID
    public var local: UInt64
    /// The connect name (1 to `WireLimits.maxSessionNameLength` bytes of `!`…`~` but `#`); empty
    /// where a session is only looked up by number.
    public var name: String
    @inlinable public init(daemon: NodeID, local: UInt64, name: String = "") {
        self.daemon = daemon
        self.local = local
        self.name = name
    }
    /// The number identifies the session; the name only travels with it.
    @inlinable public static func == (lhs: SessionID, rhs: SessionID) -> Bool {
        lhs.daemon == rhs.daemon && lhs.local == rhs.local
    }
    @inlinable public func hash(into hasher: inout Hasher) {
        hasher.combine(daemon)
        hasher.combine(local)
    }
    @inlinable public static func < (lhs: SessionID, rhs: SessionID) -> Bool {
        (lhs.daemon.rawValue, lhs.local) < (rhs.daemon.rawValue, rhs.local)
    }
    /// The session's private group on a daemon named `daemonName`, in Spread's shape:
    /// `#alice#d1` (`#7#d1`, by number, for a session without a name). Messages sent to it reach
    /// that session only.
    public func privateGroup(daemonName: String) -> String {
        name.isEmpty ? "#\(local)#\(daemonName)" : "#\(name)#\(daemonName)"
    }
    /// The private group with the daemon shown by its id (`d2`), as the simulator names daemons.
    public var privateGroup: String { privateGroup(daemonName: "\(daemon)") }
    public var description: String { privateGroup }

    /// Whether `name` may name a session: 1 to `maxSessionNameLength` bytes from `!` to `~` but `#`
    /// (so `#name#daemon` reads back unambiguously).
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        return !bytes.isEmpty && bytes.count <= WireLimits.maxSessionNameLength
            && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }
    }
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
    /// A stand-in (wide area): the message's place in the order without its body (`payload`
    /// empty), sent to a site with no member in its groups there.
    public var isStandIn = false

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

extension ClientData {
    /// This message as a stand-in: its sender, number and groups, without its body.
    public var standIn: ClientData {
        var copy = self
        copy.payload = ByteBuffer()
        copy.isStandIn = true
        return copy
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
    /// groups may continue in the next piece). `firstSession`: the lowest session number of the
    /// daemon's current incarnation; a request of one of its sessions numbered below it was sent
    /// by an earlier incarnation (views across sites drop it, see `GroupLayer.admits`).
    case state(daemon: NodeID, configuration: RingID, sessions: [SessionMemberships], more: Bool = false, firstSession: UInt64 = 0)
    /// With more than one site: the daemons of `site` that take part in the order now, put in the
    /// site's stream by its order layer where its ring changed (or a configuration of sites began),
    /// so every daemon of every site changes its group views at the same point of the global order.
    case siteDaemons(site: SiteID, daemons: [NodeID])
    /// With more than one site: `site` has no session left in these groups (ascending, distinct),
    /// put in its stream by its order layer; other sites may prune their messages to them for it
    /// again. Changes no view.
    case interestsDropped(site: SiteID, groups: [String])
}
