import ChorusWire

/// Bounds the group layer enforces on local requests before anything reaches the ring.
///
/// Every value is clamped to what the wire can carry (`WireLimits`), so a configured limit can
/// never produce a message the codec refuses.
public struct GroupLimits: Sendable, Equatable {
    /// Target groups of one message (1...this).
    public var maxGroupsPerMessage: Int
    /// UTF-8 bytes of one group name (1...this).
    public var maxGroupNameLength: Int
    /// Groups one session may be in (or have asked to join) at once.
    public var maxGroupsPerSession: Int
    /// Bytes of one message's payload.
    public var maxPayloadBytes: Int
    /// Bytes of one piece of a state announcement (the engine sets the ring's message size):
    /// larger announcements go in pieces, so none is ever refused by the ring.
    public var maxAnnouncementBytes: Int = 1 << 16

    /// Limits, each clamped to `1...` what `WireLimits` allows.
    public init(
        maxGroupsPerMessage: Int = 128,
        maxGroupNameLength: Int = 128,
        maxGroupsPerSession: Int = 1024,
        maxPayloadBytes: Int = 1 << 24
    ) {
        self.maxGroupsPerMessage = min(max(maxGroupsPerMessage, 1), WireLimits.maxGroupsPerMessage)
        self.maxGroupNameLength = min(max(maxGroupNameLength, 1), WireLimits.maxGroupNameLength)
        self.maxGroupsPerSession = min(max(maxGroupsPerSession, 1), WireLimits.maxGroupsPerSession)
        // The whole encoded message (header, names, payload) must stay within one ring message.
        let namesOverhead = WireLimits.maxGroupsPerMessage * (1 + WireLimits.maxGroupNameLength)
        let largestPayload = WireLimits.maxMessageSize - namesOverhead - 64
        self.maxPayloadBytes = min(max(maxPayloadBytes, 0), largestPayload)
    }

    /// The defaults: 128 groups per message, 128-byte names, 1024 groups per session, 1 MiB payloads.
    public static let `default` = GroupLimits()
}
