/// The history model the checkers read. It knows nothing of the engine: the simulator (or a test
/// of real daemons) records what happened, the checkers decide whether it was allowed.
///
/// A *process* is one incarnation of one daemon: a daemon that crashes and restarts comes back as
/// a new process, as extended virtual synchrony requires.

/// One incarnation of one daemon.
public struct ProcessID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var daemon: UInt32
    public var incarnation: UInt32
    public init(daemon: UInt32, incarnation: UInt32) {
        self.daemon = daemon
        self.incarnation = incarnation
    }
    public static func < (lhs: ProcessID, rhs: ProcessID) -> Bool {
        (lhs.daemon, lhs.incarnation) < (rhs.daemon, rhs.incarnation)
    }
    public var description: String { "d\(daemon).\(incarnation)" }
}

/// A client session: the daemon it is attached to and a number unique on that daemon.
public struct SessionKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var daemon: UInt32
    public var local: UInt64
    public init(daemon: UInt32, local: UInt64) {
        self.daemon = daemon
        self.local = local
    }
    public static func < (lhs: SessionKey, rhs: SessionKey) -> Bool { (lhs.daemon, lhs.local) < (rhs.daemon, rhs.local) }
    public var description: String { "#\(local)#d\(daemon)" }
}

/// A message is named by its sending session and the session's send counter (from 1).
public struct MessageID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var session: SessionKey
    public var seq: UInt64
    public init(session: SessionKey, seq: UInt64) {
        self.session = session
        self.seq = seq
    }
    public static func < (lhs: MessageID, rhs: MessageID) -> Bool { (lhs.session, lhs.seq) < (rhs.session, rhs.seq) }
    public var description: String { "\(session):\(seq)" }
}

/// Service levels, weakest to strongest; raw values match the wire.
public enum ServiceLevel: UInt8, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case unreliable = 0, reliable, fifo, causal, agreed, safe
    public static func < (lhs: ServiceLevel, rhs: ServiceLevel) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String {
        ["unreliable", "reliable", "fifo", "causal", "agreed", "safe"][Int(rawValue)]
    }
}

/// A configuration's identity: ring seq then representative, as the engine's ring id orders them.
public struct ConfigurationID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seq: UInt64
    public var representative: UInt32
    public init(seq: UInt64, representative: UInt32) {
        self.seq = seq
        self.representative = representative
    }
    public static func < (lhs: ConfigurationID, rhs: ConfigurationID) -> Bool {
        (lhs.seq, lhs.representative) < (rhs.seq, rhs.representative)
    }
    public var description: String { "d\(representative)/\(seq)" }
}

/// A configuration change event delivered at a process.
public struct ConfigurationEvent: Hashable, Sendable {
    public enum Kind: Sendable, Hashable { case regular, transitional }
    /// For a transitional configuration this is the id of the regular configuration it leads to.
    public var id: ConfigurationID
    public var kind: Kind
    /// Sorted.
    public var members: [ProcessID]
    public init(id: ConfigurationID, kind: Kind, members: [ProcessID]) {
        self.id = id
        self.kind = kind
        self.members = members
    }
}

/// What the sender submitted (ground truth kept by the simulator).
public struct SentMessage: Sendable {
    public var id: MessageID
    public var sender: ProcessID
    public var service: ServiceLevel
    public var groups: [String]
    public var contentHash: UInt64
    public var size: Int
    public var submittedAt: UInt64
    public init(
        id: MessageID, sender: ProcessID, service: ServiceLevel, groups: [String], contentHash: UInt64, size: Int,
        submittedAt: UInt64
    ) {
        self.id = id
        self.sender = sender
        self.service = service
        self.groups = groups
        self.contentHash = contentHash
        self.size = size
        self.submittedAt = submittedAt
    }
}

/// A group membership event as a process computed it.
public struct GroupViewEvent: Hashable, Sendable {
    public enum Kind: Sendable, Hashable { case regular, transitional }
    public enum Reason: Sendable, Hashable { case join, leave, disconnect, network }
    public var group: String
    /// View ids compare by (major, minor).
    public var viewID: ViewIdentifier
    public var kind: Kind
    public var reason: Reason
    /// Sorted.
    public var members: [SessionKey]
    /// The members that moved together with the receiver (network changes), or those joining/leaving.
    public var changed: [SessionKey]
    /// Sorted, if the process reported it: the members not in the group's previous view there.
    public var added: [SessionKey]?
    /// Sorted, if the process reported it: the previous view's members that are not in this one.
    public var removed: [SessionKey]?
    public init(
        group: String, viewID: ViewIdentifier, kind: Kind, reason: Reason, members: [SessionKey], changed: [SessionKey],
        added: [SessionKey]? = nil, removed: [SessionKey]? = nil
    ) {
        self.group = group
        self.viewID = viewID
        self.kind = kind
        self.reason = reason
        self.members = members
        self.changed = changed
        self.added = added
        self.removed = removed
    }
}

public struct ViewIdentifier: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var configuration: ConfigurationID
    public var index: UInt64
    public init(configuration: ConfigurationID, index: UInt64) {
        self.configuration = configuration
        self.index = index
    }
    public static func < (lhs: ViewIdentifier, rhs: ViewIdentifier) -> Bool {
        (lhs.configuration, lhs.index) < (rhs.configuration, rhs.index)
    }
    public var description: String { "\(configuration)#\(index)" }
}

/// One entry of a process's log, in the order it happened at that process.
public enum ProcessEvent: Sendable {
    /// A local session submitted this message (see `History.sent` for its details).
    case submit(MessageID)
    /// The daemon delivered this message (at daemon level, whether or not a local session wants it).
    /// `contentHash` is computed from the bytes actually delivered.
    case deliver(MessageID, service: ServiceLevel, contentHash: UInt64)
    case configuration(ConfigurationEvent)
    case view(GroupViewEvent)
    /// The daemon handed the message to one local session.
    case sessionDeliver(MessageID, to: SessionKey)
    /// The process received (holds) the message's bytes; used for the safe-delivery ground truth.
    case received(MessageID)
}

/// A time-stamped log entry. Times are virtual nanoseconds.
public struct TimedEvent: Sendable {
    public var time: UInt64
    public var event: ProcessEvent
    public init(time: UInt64, event: ProcessEvent) {
        self.time = time
        self.event = event
    }
}

/// Everything recorded in one run.
public struct History: Sendable {
    public var logs: [ProcessID: [TimedEvent]] = [:]
    public var sent: [MessageID: SentMessage] = [:]
    /// When each process crashed (absent: it did not crash; a restart is a new process).
    public var crashedAt: [ProcessID: UInt64] = [:]
    /// Processes alive at the end of the run.
    public var aliveAtEnd: Set<ProcessID> = []
    /// Time after which no fault was injected and the network was whole; nil if faults went on to the end.
    public var quiescentFrom: UInt64?
    /// Virtual time the run ended.
    public var endTime: UInt64 = 0

    public init() {}

    public mutating func record(_ event: ProcessEvent, at process: ProcessID, time: UInt64) {
        logs[process, default: []].append(TimedEvent(time: time, event: event))
    }
}
