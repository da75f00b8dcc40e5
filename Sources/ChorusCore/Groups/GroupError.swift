/// Why the group layer refused a local request. Nothing was sent to the ring.
///
/// Shaped like swift-service-lifecycle's errors: an extensible `Code` to switch on and a
/// human-readable `detail`.
public struct GroupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of refusal. New codes may be added; match with `==`, not exhaustively.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case unknownSession, noGroups, tooManyGroups, invalidGroupName, reservedGroupName
            case tooManyGroupsForSession, payloadTooLarge, busy
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The session is not open on this daemon.
        public static let unknownSession = Code(.unknownSession)
        /// A message must name at least one target group.
        public static let noGroups = Code(.noGroups)
        /// More target groups than `GroupLimits.maxGroupsPerMessage`.
        public static let tooManyGroups = Code(.tooManyGroups)
        /// A group name is empty or longer than `GroupLimits.maxGroupNameLength` UTF-8 bytes.
        public static let invalidGroupName = Code(.invalidGroupName)
        /// Names starting with `#` are private group names: they cannot be joined or left.
        public static let reservedGroupName = Code(.reservedGroupName)
        /// Joining would put the session in more than `GroupLimits.maxGroupsPerSession` groups.
        public static let tooManyGroupsForSession = Code(.tooManyGroupsForSession)
        /// The payload is larger than `GroupLimits.maxPayloadBytes`.
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// The daemon already holds as many unsent messages as it may; retry once some are sent.
        public static let busy = Code(.busy)

        public var description: String {
            switch value {
            case .unknownSession: "unknown session"
            case .noGroups: "no target group"
            case .tooManyGroups: "too many groups"
            case .invalidGroupName: "invalid group name"
            case .reservedGroupName: "reserved group name"
            case .tooManyGroupsForSession: "too many groups for session"
            case .payloadTooLarge: "payload too large"
            case .busy: "send queue full"
            }
        }
    }

    /// What went wrong.
    public var code: Code
    /// Specifics (the offending name, count or size).
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
