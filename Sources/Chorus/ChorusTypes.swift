@_exported import enum ChorusSchema.Service
@_exported import struct ChorusProtocol.ErrorCode
@_exported import struct ChorusProtocol.MulticastRequest
import ChorusProtocol
import NIOCore

/// Where a daemon listens for clients.
public enum ChorusEndpoint: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// `chorusd`'s defaults with no configuration: TCP 127.0.0.1:4800.
    public static let local = ChorusEndpoint.tcp(host: "127.0.0.1", port: 4800)

    /// Parses `host:port`, `[v6]:port`, a bare port, or a path starting with `/` (a Unix socket).
    public init?(parsing text: String) {
        if text.hasPrefix("/") {
            self = .unix(path: text)
            return
        }
        if let port = Int(text) {
            self = .tcp(host: "127.0.0.1", port: port)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self = .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): "\(host):\(port)"
        case .unix(let path): path
        }
    }
}

/// Why a client operation failed.
public struct ChorusClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The daemon could not be reached.
        case connectionFailed
        /// The daemon refused a request or ended the session with an error frame (`code`).
        case refused(ErrorCode)
        /// The connection ended.
        case closed
        /// The daemon sent something this client does not understand.
        case protocolViolation
        /// An argument was refused before anything was sent (a bad group name, say).
        case invalidArgument
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String {
        switch kind {
        case .refused(let code): "refused by the daemon (\(code)): \(message)"
        case .connectionFailed: "cannot connect: \(message)"
        case .closed: "connection closed: \(message)"
        case .protocolViolation: "protocol violation: \(message)"
        case .invalidArgument: "invalid argument: \(message)"
        }
    }
}

/// A message delivered to the session.
public struct ChorusMessage: Sendable, Equatable {
    /// The sending session's private group (e.g. `#3#d1`).
    public var sender: String
    /// The groups the sender addressed.
    public var groups: [String]
    public var service: Service
    public var messageType: UInt16
    public var payload: ByteBuffer

    /// The payload as UTF-8 text (invalid bytes replaced).
    public var text: String { String(buffer: payload) }
}

/// A new view of a group the session is in.
public struct ChorusMembership: Sendable, Equatable {
    public typealias Kind = MembershipEvent.Kind
    public typealias Reason = MembershipEvent.Reason
    public var group: String
    /// Equal at every daemon for the same view; increasing per group.
    public var viewID: String
    public var kind: Kind
    public var reason: Reason
    /// Every member's private group, in the same order at every daemon.
    public var members: [String]
    /// Join/leave/disconnect: the member concerned. Network: the members that moved together.
    public var changed: [String]
    /// The members that were not in the previous view of this group the session was shown.
    public var added: [String]
    /// The members of the previous view of this group the session was shown that left this one.
    public var removed: [String]

    init(_ event: MembershipEvent) {
        group = event.group
        viewID = "\(event.viewRingRepresentative)/\(event.viewRingSeq):\(event.viewIndex)"
        kind = event.kind
        reason = event.reason
        members = event.members
        changed = event.changed
        added = event.added
        removed = event.removed
    }
}

/// A join or multicast the daemon did not carry out (its access rules refused it); the session
/// stays open.
public struct ChorusRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why (`accessDenied`).
    public var code: ErrorCode
    /// What was refused: `join` or `multicast`.
    public var request: FrameType?
    /// The group it was refused for (of a multicast to several: the first refused).
    public var group: String
    public var text: String

    init(_ refusal: Refusal) {
        code = refusal.code
        request = FrameType(rawValue: refusal.request)
        group = refusal.group
        text = refusal.text
    }

    public var description: String { "\(code): \(text)" }
}

/// What a session receives.
public enum ChorusEvent: Sendable, Equatable {
    case message(ChorusMessage)
    case membership(ChorusMembership)
    /// The daemon's state as JSON, answering `ChorusSession.requestStatus()`.
    case status(String)
    /// A request of this session was refused; the session goes on.
    case refused(ChorusRefusal)
}
