import ChorusCore
import ChorusWire

/// How one direction of a simulated wide-area link treats datagrams.
public struct WideAreaImpairment: Sendable, Equatable {
    /// One-way propagation delay, ns.
    public var delay: Duration64 = 30_000_000
    /// Extra delay drawn uniformly from 0 up to this, per datagram (so datagrams can overtake).
    public var jitter: Duration64 = 0
    /// Probability a datagram is lost.
    public var loss: Double = 0
    /// Probability a datagram arrives twice.
    public var duplication: Double = 0
    /// Bytes per second the link carries (datagrams queue behind each other); 0: no limit.
    public var bandwidth: UInt64 = 0
    /// Queueing delay beyond which the link drops a datagram (a router's full buffer).
    public var maxQueueing: Duration64 = 200_000_000

    public init(delay: Duration64 = 30_000_000, jitter: Duration64 = 0, loss: Double = 0, bandwidth: UInt64 = 0) {
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
        self.bandwidth = bandwidth
    }
}

/// One direction of a simulated wide-area link: serialization at its bandwidth, a queue that
/// overflows, propagation delay, jitter, loss, duplication, and cuts.
public struct WideAreaChannel: Sendable {
    public var impairment: WideAreaImpairment
    /// While cut, every datagram is lost.
    public var isCut = false
    private var busyUntil: Instant = 0
    public private(set) var lost = 0
    public private(set) var overflowed = 0

    public init(_ impairment: WideAreaImpairment) {
        self.impairment = impairment
    }

    /// When the copies of a `size`-byte datagram sent at `now` arrive (none if it is lost).
    public mutating func transit(size: Int, now: Instant, random: inout SimRandom) -> [Instant] {
        guard !isCut else {
            lost += 1
            return []
        }
        var departure = now
        if impairment.bandwidth > 0 {
            let start = max(now, busyUntil)
            guard start - now <= impairment.maxQueueing else {
                overflowed += 1
                return []
            }
            busyUntil = start + UInt64(size) * 1_000_000_000 / impairment.bandwidth
            departure = busyUntil
        }
        guard !random.chance(impairment.loss) else {
            lost += 1
            return []
        }
        let copies = random.chance(impairment.duplication) ? 2 : 1
        return (0..<copies).map { _ in
            let jitter = impairment.jitter > 0 ? UInt64(random.int(below: Int(impairment.jitter) + 1)) : 0
            return departure + impairment.delay + jitter
        }
    }
}

extension Dictionary where Key == SiteLink, Value == [SiteID: WideAreaChannel] {
    /// When the copies of a `size`-byte datagram `from` sends to `to` at `now` arrive (none if it
    /// is lost or no link joins them): the channels of each link, by sending end.
    mutating func transit(from: SiteID, to: SiteID, size: Int, now: Instant, random: inout SimRandom) -> [Instant] {
        let link = SiteLink(from, to)
        guard self[link]?[from] != nil else { return [] }
        return self[link]![from]!.transit(size: size, now: now, random: &random)
    }
}
