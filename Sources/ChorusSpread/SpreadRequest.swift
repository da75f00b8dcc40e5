import NIOCore

/// A request a Spread client sent after its handshake.
public enum SpreadRequest: Sendable, Equatable {
    case join(group: String)
    case leave(group: String)
    /// SP_disconnect.
    case disconnect
    /// A message for `groups` with `service` (0 unreliable … 5 safe, Chorus's numbering).
    case multicast(SpreadMulticast)
}

public struct SpreadMulticast: Sendable, Equatable {
    /// 0 unreliable, 1 reliable, 2 fifo, 3 causal, 4 agreed, 5 safe.
    public var service: UInt8
    public var selfDiscard: Bool
    /// The application's 16-bit message type.
    public var messageType: UInt16
    public var groups: [String]
    public var payload: ByteBuffer

    public init(service: UInt8, selfDiscard: Bool, messageType: UInt16, groups: [String], payload: ByteBuffer) {
        self.service = service
        self.selfDiscard = selfDiscard
        self.messageType = messageType
        self.groups = groups
        self.payload = payload
    }
}

/// What the connect handshake asked for.
public struct SpreadConnect: Sendable, Equatable {
    /// The library's version (major, minor, patch).
    public var version: (UInt8, UInt8, UInt8)
    public var membershipNotices: Bool
    public var priority: UInt8
    /// The private name asked for; empty: the daemon picks one.
    public var name: String

    public init(version: (UInt8, UInt8, UInt8), membershipNotices: Bool, priority: UInt8, name: String) {
        self.version = version
        self.membershipNotices = membershipNotices
        self.priority = priority
        self.name = name
    }

    public static func == (lhs: SpreadConnect, rhs: SpreadConnect) -> Bool {
        lhs.version == rhs.version && lhs.membershipNotices == rhs.membershipNotices && lhs.priority == rhs.priority
            && lhs.name == rhs.name
    }
}

/// Why a Spread session was refused or cut off: the code a refused handshake sends, and a
/// sentence for the log.
public struct SpreadRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Spread.Code
    public var detail: String
    public init(_ code: Spread.Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
    public var description: String { "\(code): \(detail)" }
}
