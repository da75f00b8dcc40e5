/// The numbers of Spread 4's client protocol (as Spread 4.4's `sp.h` defines them and its
/// daemon uses them), for chorusd's Spread-compatible listener.
public enum Spread {
    /// The version the listener answers with: Spread 4.4.0 (what libspread 4.x expects).
    public static let version: (major: UInt8, minor: UInt8, patch: UInt8) = (4, 4, 0)
    /// Group names and private group names: 32 bytes on the wire, including the NUL.
    public static let groupNameSize = 32
    /// The longest private (connect) name.
    public static let maxPrivateName = 10
    /// The most groups one multicast may name.
    public static let maxGroupsPerMessage = 100
    /// The largest message body Spread 4.4 accepts: 100 packets of 1,440 bytes.
    public static let maxMessageBody = 144_000
    /// The message header's size.
    public static let headerSize = 48
    /// The authentication-method reply: three NUL-padded names of 30 bytes.
    public static let authReplySize = 90
    static let authNameSize = 30

    /// Type bits of a message header.
    public enum TypeBits {
        public static let unreliable: UInt32 = 0x0000_0001
        public static let reliable: UInt32 = 0x0000_0002
        public static let fifo: UInt32 = 0x0000_0004
        public static let causal: UInt32 = 0x0000_0008
        public static let agreed: UInt32 = 0x0000_0010
        public static let safe: UInt32 = 0x0000_0020
        public static let services: UInt32 = 0x0000_003F
        public static let selfDiscard: UInt32 = 0x0000_0040
        public static let causedByJoin: UInt32 = 0x0000_0100
        public static let causedByLeave: UInt32 = 0x0000_0200
        public static let causedByDisconnect: UInt32 = 0x0000_0400
        public static let causedByNetwork: UInt32 = 0x0000_0800
        public static let regularMembership: UInt32 = 0x0000_1000
        public static let transitionalMembership: UInt32 = 0x0000_2000
        public static let join: UInt32 = 0x0001_0000
        public static let leave: UInt32 = 0x0002_0000
        public static let kill: UInt32 = 0x0004_0000
        public static let requests: UInt32 = 0x0007_0000
        public static let reject: UInt32 = 0x0040_0000
        /// Set in the type and hint words by a little-endian writer (symmetric under a byte swap).
        public static let endianMarker: UInt32 = 0x8000_0080
    }

    /// Spread's return codes; the listener sends the refusals as one signed byte during the
    /// handshake (a session refused later is closed, as Spread closes it).
    public enum Code: Int8, Sendable, CustomStringConvertible {
        case acceptSession = 1
        case illegalSpread = -1
        case couldNotConnect = -2
        case rejectQuota = -3
        case rejectNoName = -4
        case rejectIllegalName = -5
        case rejectNotUnique = -6
        case rejectVersion = -7
        case connectionClosed = -8
        case rejectAuth = -9
        case illegalSession = -11
        case illegalService = -12
        case illegalMessage = -13
        case illegalGroup = -14
        case bufferTooShort = -15
        case groupsTooShort = -16
        case messageTooLong = -17
        case netErrorOnSession = -18

        public var description: String {
            switch self {
            case .acceptSession: "ACCEPT_SESSION"
            case .illegalSpread: "ILLEGAL_SPREAD"
            case .couldNotConnect: "COULD_NOT_CONNECT"
            case .rejectQuota: "REJECT_QUOTA"
            case .rejectNoName: "REJECT_NO_NAME"
            case .rejectIllegalName: "REJECT_ILLEGAL_NAME"
            case .rejectNotUnique: "REJECT_NOT_UNIQUE"
            case .rejectVersion: "REJECT_VERSION"
            case .connectionClosed: "CONNECTION_CLOSED"
            case .rejectAuth: "REJECT_AUTH"
            case .illegalSession: "ILLEGAL_SESSION"
            case .illegalService: "ILLEGAL_SERVICE"
            case .illegalMessage: "ILLEGAL_MESSAGE"
            case .illegalGroup: "ILLEGAL_GROUP"
            case .bufferTooShort: "BUFFER_TOO_SHORT"
            case .groupsTooShort: "GROUPS_TOO_SHORT"
            case .messageTooLong: "MESSAGE_TOO_LONG"
            case .netErrorOnSession: "NET_ERROR_ON_SESSION"
            }
        }
    }
}
