/// Bounds the decoder enforces. The encoder requires them too (a violation is a programmer error).
///
/// They keep a hostile or corrupt datagram from making the decoder allocate much, and give the
/// engine numbers to size packets against.
public enum WireLimits {
    /// Members in a join's proc or fail set, and in a commit token.
    public static let maxMembers = 1024
    /// Sequence numbers in one token's retransmit request list.
    public static let maxRetransmitRequests = 4096
    /// UTF-8 bytes of one group name (a u8 length prefix on the wire). Names are never empty.
    public static let maxGroupNameLength = 255
    /// A session's name as it travels with the session (the client protocol's connect names).
    public static let maxSessionNameLength = 32
    /// Target groups of one client message.
    public static let maxGroupsPerMessage = 1024
    /// Groups of one session in a state announcement.
    public static let maxGroupsPerSession = 65_535
    /// Sessions in one state announcement.
    public static let maxSessionsPerState = 1 << 20
    /// Largest ring message (`DataPacket.totalLength` of a fragmented message): a 16 MiB client
    /// payload plus the largest group envelope (names and header) fits.
    public static let maxMessageSize = (1 << 24) + (1 << 19)
    /// Bytes of one hop packet's payload: a UDP datagram's, less the hop framing.
    /// (`sealReserve` is kept free for sealing, so a sealed hop datagram fits in UDP too.)
    public static let maxHopPayload = 65_507 - HopPacketCodec.dataOverhead - sealReserve
    /// Bytes sealing adds to a daemon datagram (`ChorusSeal.SealFormat.overhead`).
    public static let sealReserve = 52
    /// Missing-seq ranges in one hop control packet.
    public static let maxHopMissingRanges = 128
    /// Sites of the wide area, and so links in one site's link-state report.
    public static let maxSites = 1024

    /// Whether `name` can travel as a group name: non-empty and at most `maxGroupNameLength` UTF-8 bytes.
    @inlinable
    public static func isValidGroupName(_ name: String) -> Bool {
        let count = name.utf8.count
        return count > 0 && count <= maxGroupNameLength
    }
}
