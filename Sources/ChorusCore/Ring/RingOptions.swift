import ChorusWire

/// The ring's tunables. Durations are nanoseconds.
///
/// Timeouts must nest: `tokenRetransmitTimeout` < `idleHold` < `tokenTimeout`, and
/// `tokenTimeout` must cover an idle hold plus one rotation of the ring.
public struct RingOptions: Sendable, Equatable {
    public var tokenTimeout: Duration64 = 200_000_000
    public var tokenRetransmitTimeout: Duration64 = 20_000_000
    public var joinTimeout: Duration64 = 20_000_000
    public var consensusTimeout: Duration64 = 120_000_000
    /// A gather that keeps changing ends after this, failing whoever has not agreed.
    public var maxGatherTime: Duration64 = 600_000_000
    public var mergeProbeInterval: Duration64 = 250_000_000
    public var idleHold: Duration64 = 40_000_000
    /// How long the representative holds a token it kept after a single idle rotation (so the
    /// next message goes out at once) before passing it round again; also how long a member that
    /// is the ring's only sender holds it between its messages.
    public var earlyIdleHold: Duration64 = 1_000_000
    /// The daemon holding the idle token (the representative, or a member that was the ring's
    /// only sender) sequences and sends a local message at once and keeps the token (for at most
    /// `holdWhileSending`), instead of passing it with the message.
    public var sendWhileHolding = true
    /// How long the holder keeps the idle token once it sends its own messages while holding it
    /// (members wake it at once when they have something to send or miss a packet).
    public var holdWhileSending: Duration64 = 10_000_000
    /// A token that went through every member since its aru was set carries that aru on as
    /// stable (`Token.stableSeq`), so safe messages go out up to a rotation sooner than on the
    /// two-visit rule alone.
    public var confirmStabilityInOnePass = true
    /// The member that confirms a rotation's stability (`confirmStabilityInOnePass`) announces it
    /// to the others at once (`Packet.stable`): they deliver safe messages a hop after it instead
    /// of when the token next reaches them, and the aru's setter may hold the token at once.
    public var announceStability = true
    /// With `announceStability`, members also report what they hold once they hold every safe
    /// packet they know of, so a safe message is stable everywhere a hop after its last member
    /// received it. Off by default: on the 2-core test machine the extra datagrams (two per
    /// member per safe message with three daemons) cost more CPU than the hop they save
    /// (docs/latency.md); where each daemon has a core of its own they should pay.
    public var reportArrivals = false
    /// Reliable, fifo and causal packets may be delivered ahead of the in-order cursor (so a loss
    /// outside their promise never holds them back). Off with more than one site: the order
    /// layer numbers the ring's stream, which must then be the same at every member.
    public var earlyDelivery = true
    /// At most one such report per daemon per this many nanoseconds (under load the token's
    /// rules deliver as soon; reports only bring stability forward).
    public var stabilityReportInterval: Duration64 = 100_000
    /// Packets the whole ring may send in one rotation (retransmissions included).
    public var windowSize: Int = 200
    /// Packets one daemon may send per token visit.
    public var maxPacketsPerToken: Int = 60
    /// New packets sent before the token is passed on; the rest follow while it travels.
    public var acceleratedPackets: Int = 3
    /// Highest `seq - aru` the ring lets build up, bounding every daemon's buffers.
    public var maxOutstanding: UInt64 = 2000
    /// How far above its oldest kept packet a daemon stores packets (a multiple of `maxOutstanding`).
    public var logWindow: UInt64 { maxOutstanding * 8 }
    /// Bytes of client data one packet carries. A datagram adds at most
    /// `PacketCodec.recoveryDatagramOverhead` (122) bytes, when a recovery packet wraps a whole
    /// old one, so 1350 keeps every datagram within 1472 bytes.
    public var maxPacketPayload: Int = 1350
    /// Largest client message accepted; larger ones are refused at submission.
    public var maxMessageSize: Int = WireLimits.maxMessageSize
    /// Rotations a daemon may hold the aru down, while others advance, before it is removed.
    public var failToReceiveRotations: Int = 60
    /// Longest retransmission request list a token carries.
    public var maxRetransmitRequests: Int = 256
    /// Base of the exponential back-off before merging again with a daemon that was failed.
    public var mergeBackoff: Duration64 = 250_000_000
    /// Cap on client messages waiting to be sent: the engine refuses client requests (`busy`)
    /// beyond it; the group layer's own messages are queued regardless.
    public var maxPendingMessages: Int = 100_000
    /// Cap on the bytes of client messages waiting to be sent, as `maxPendingMessages` (one
    /// message is always accepted into an empty queue, whatever its size).
    public var maxPendingBytes: Int = 256 << 20
    /// Rules the ring breaks on purpose, so tests can show the checkers catch it. All off.
    var brokenRules = BrokenRules()

    /// Test switches, each breaking one promise.
    struct BrokenRules: Sendable, Equatable {
        /// Causal packets go in sender order without waiting for their causal past.
        var causalPast = false
        /// Causal packets may overtake barriers (group membership messages), so they can fall in
        /// different views at different daemons.
        var barriers = false
        /// Safe packets go as soon as they are in order, stable or not.
        var stability = false
        /// The group layer hands client data to its sessions during a state exchange, before the
        /// regular views are out (so messages of the new configuration fall in the old views).
        var dataDuringStateExchange = false
        /// No merge probes: rings split by a partition stay apart after it heals, which liveness
        /// must see. (Unanswered retransmission requests would not do: fail-to-receive removes
        /// the member that misses a packet and the next ring's recovery brings it back.)
        var merges = false
        /// Across sites: the group layer ignores other sites' daemon changes after their first
        /// list, so views keep the sessions of a remote daemon that crashed (set from
        /// `SiteOrderOptions.BrokenRules.viewsIgnoreOtherSites`).
        var viewsIgnoreOtherSites = false
        /// Across sites: joins of an earlier incarnation's sessions are admitted (set from
        /// `SiteOrderOptions.BrokenRules.sessionsOfEarlierIncarnations`).
        var sessionsOfEarlierIncarnations = false
    }

    public init() {}

    /// Timeouts suited to a real LAN (used by the daemon by default).
    public static var lan: RingOptions {
        var o = RingOptions()
        o.tokenTimeout = 1_000_000_000
        o.tokenRetransmitTimeout = 50_000_000
        o.joinTimeout = 50_000_000
        o.consensusTimeout = 600_000_000
        o.maxGatherTime = 3_000_000_000
        o.mergeProbeInterval = 1_000_000_000
        o.idleHold = 200_000_000
        o.mergeBackoff = 1_000_000_000
        return o
    }
}
