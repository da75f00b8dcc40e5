import NIOCore

/// Constants of the client protocol: the frames a client and its daemon exchange over TCP or a
/// Unix socket. docs/protocol.md is the normative description.
///
/// Every frame is `u32 length` (big-endian; the bytes that follow it, type byte included),
/// `u8 type`, then the body. Integers are big-endian; a string is `u8 length` + UTF-8 bytes
/// unless stated otherwise.
public enum ClientProtocol {
    /// The protocol version this build speaks (3: connect carries a token, refused frames).
    public static let version: UInt16 = 3
    /// The oldest version a daemon still takes (2: a connect without a token).
    public static let oldestVersion: UInt16 = 2
    /// Longest token in a connect frame, in bytes.
    public static let maxTokenLength = 255
    /// Bytes before the body: the length field and the type byte.
    public static let headerSize = 5
    /// Largest frame (type byte and body) a peer may send: a 16 MiB payload plus headers.
    public static let maxFrameLength = (1 << 24) + (1 << 16)
    /// Largest first frame a daemon reads (the connect frame), before a session exists.
    public static let maxConnectFrameLength = 1024
    /// Longest connect name, in UTF-8 bytes.
    public static let maxNameLength = 32
    /// Longest error text, in UTF-8 bytes.
    public static let maxErrorTextLength = 1024
}

/// The type byte of a frame. Client → daemon types are below 0x80, daemon → client at or above.
public enum FrameType: UInt8, Sendable, CaseIterable {
    case connect = 0x01
    case join = 0x02
    case leave = 0x03
    case multicast = 0x04
    case disconnect = 0x05
    case status = 0x06
    case reloadKeys = 0x07

    case welcome = 0x81
    case message = 0x82
    case membership = 0x83
    case error = 0x84
    case statusReply = 0x86
    case refused = 0x87
}

/// One frame cut from the byte stream: its type byte (not yet checked) and its body.
public struct RawFrame: Sendable {
    public var type: UInt8
    public var body: ByteBuffer
    public init(type: UInt8, body: ByteBuffer) {
        self.type = type
        self.body = body
    }
}

/// Why a daemon refused a request or ended a session, as carried in an error frame.
/// After an error frame the daemon closes the session.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A frame could not be decoded (truncated, bad field, trailing bytes).
    public static let malformedFrame = ErrorCode(rawValue: 1)
    /// The type byte names no client frame.
    public static let unknownFrameType = ErrorCode(rawValue: 2)
    /// The length field exceeds `ClientProtocol.maxFrameLength`.
    public static let frameTooLarge = ErrorCode(rawValue: 3)
    /// The connect frame asked for a protocol version the daemon does not speak.
    public static let unsupportedVersion = ErrorCode(rawValue: 4)
    /// The first frame was not a connect, or a second connect came.
    public static let notConnected = ErrorCode(rawValue: 5)
    /// The connect name is empty, too long or has characters outside `A-Z a-z 0-9 _ - .`.
    public static let invalidName = ErrorCode(rawValue: 6)
    /// Another session on this daemon uses that connect name.
    public static let nameInUse = ErrorCode(rawValue: 7)
    /// A group name is empty or too long.
    public static let invalidGroupName = ErrorCode(rawValue: 8)
    /// Names starting with `#` are private groups and cannot be joined or left.
    public static let reservedGroupName = ErrorCode(rawValue: 9)
    /// A multicast names no group, or more than the daemon allows.
    public static let tooManyGroups = ErrorCode(rawValue: 10)
    /// Joining would put the session in more groups than the daemon allows.
    public static let tooManyGroupsForSession = ErrorCode(rawValue: 11)
    /// The payload is larger than the daemon's maximum message size.
    public static let payloadTooLarge = ErrorCode(rawValue: 12)
    /// The daemon has as many sessions as it allows.
    public static let tooManySessions = ErrorCode(rawValue: 13)
    /// The session did not read its messages fast enough and was disconnected.
    public static let slowReceiver = ErrorCode(rawValue: 14)
    /// The daemon is shutting down.
    public static let shuttingDown = ErrorCode(rawValue: 15)
    /// The service byte names no service.
    public static let invalidService = ErrorCode(rawValue: 16)
    /// The connect frame's token is not one the daemon knows, or the daemon requires one on
    /// this listener and none came.
    public static let authenticationFailed = ErrorCode(rawValue: 17)
    /// The access rules do not let this session join, send to, or see the members of a group
    /// (in a refused frame: the session stays open).
    public static let accessDenied = ErrorCode(rawValue: 18)
    /// The key file could not be reloaded (in a refused frame; the keys stay as they were).
    public static let reloadFailed = ErrorCode(rawValue: 19)

    public var description: String {
        switch self {
        case .malformedFrame: "malformed frame"
        case .unknownFrameType: "unknown frame type"
        case .frameTooLarge: "frame too large"
        case .unsupportedVersion: "unsupported protocol version"
        case .notConnected: "not connected"
        case .invalidName: "invalid name"
        case .nameInUse: "name in use"
        case .invalidGroupName: "invalid group name"
        case .reservedGroupName: "reserved group name"
        case .tooManyGroups: "too many groups"
        case .tooManyGroupsForSession: "too many groups for session"
        case .payloadTooLarge: "payload too large"
        case .tooManySessions: "too many sessions"
        case .slowReceiver: "slow receiver"
        case .shuttingDown: "shutting down"
        case .invalidService: "invalid service"
        case .authenticationFailed: "authentication failed"
        case .accessDenied: "access denied"
        case .reloadFailed: "reload failed"
        default: "error \(rawValue)"
        }
    }
}

/// Why bytes could not be decoded as a frame. The daemon answers with an error frame of `code`.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: ErrorCode
    public var detail: String
    public init(_ code: ErrorCode, _ detail: String) {
        self.code = code
        self.detail = detail
    }
    public var description: String { "\(code): \(detail)" }
}
