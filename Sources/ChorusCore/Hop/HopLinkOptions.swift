import ChorusWire

/// A hop link's tunables. Durations are nanoseconds.
public struct HopLinkOptions: Sendable, Equatable {
    /// A control packet goes out when nothing else was sent for this long: the peer hears from
    /// this end at least this often.
    public var helloInterval: Duration64 = 100_000_000
    /// The peer is taken as gone (the link is down) when nothing came from it for this long.
    public var deadInterval: Duration64 = 800_000_000
    /// Received data is acknowledged within this long, on the next outgoing packet or alone;
    /// also how long after its last data packet a sender probes for a loss at the tail.
    public var ackDelay: Duration64 = 4_000_000
    /// A gap is reported (NACKed) once it is this old: packets overtaken on the way arrive first.
    public var nackDelay: Duration64 = 2_000_000
    /// Packets sent and not yet acknowledged; also how far above its cumulative ack a receiver
    /// takes packets. Both ends must use the same value.
    public var window: Int = 4096
    /// Bytes per second this end sends at most (headers included); 0: no limit.
    public var rate: UInt64 = 0
    /// Bytes the rate limit lets go at once after a pause; 0: 10 ms at `rate`, at least 64 KiB.
    public var burst: Int = 0
    /// Payload bytes waiting to be sent beyond which `HopLink.send` refuses more.
    public var maxQueuedBytes: Int = 64 << 20
    /// The round trip assumed before the first sample.
    public var initialRoundTrip: Duration64 = 100_000_000
    /// Bounds of the retransmission timeout (which doubles while nothing is acknowledged).
    public var minRetransmitTimeout: Duration64 = 10_000_000
    public var maxRetransmitTimeout: Duration64 = 2_000_000_000

    public init() {}

    var effectiveBurst: Int64 {
        if burst > 0 { return Int64(burst) }
        return max(64 << 10, Int64(clamping: rate / 100))
    }
}
