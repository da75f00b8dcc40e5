import ChorusWire

/// How many payload bytes of this site's messages may wait for the other sites before its
/// clients are told to wait: `gain` times the rate at which the other sites acknowledge them
/// times the shortest time an acknowledgement takes (the bandwidth-delay product, the bound BBR
/// keeps on what it has in flight), never below `floor` nor above `ceiling`.
///
/// A fixed bound big enough for a fast, far link lets a flat-out sender queue seconds of
/// messages behind a thin one (every message then waits that long for its place in the global
/// order); this one keeps the queue to about a round trip while the links stay full.
///
/// Where the links' rates are configured, the bound is at least the slowest of them times the
/// delay (`linkRate`, without headroom): a site that sends less than its links carry is not held
/// back by its own measured rate and its bursts.
///
/// The delay is sampled only from messages taken while the outbox held at most `floor` bytes, so
/// a standing queue never inflates it (a bound of g × rate × delay on a queue it fills would
/// otherwise see g × delay and grow by g every round). When no such sample has come for
/// `refreshAfter` (the queue stood all along), the budget drains: for `drainTime` it allows only
/// `floor`, so messages are taken with a short outbox again and the delay is measured afresh (as
/// BBR's ProbeRTT does).
///
/// A silent site is not a thin link: when some other site of the configuration has sent no
/// heartbeat for `stallTime` (and four of the shortest delays), it is cut off or its
/// representative is failing over, and the bound is `ceiling`, so clients go on until the
/// configuration of sites changes, as with a fixed bound. (Acknowledgements alone would not tell:
/// behind a long queue they stop for a while too, and a bound opened then would only lengthen it.)
///
/// Deterministic and sans-IO: each input carries the driver's clock. Every daemon of a site takes
/// the same messages in the same order, so each keeps its own budget and they agree closely.
struct OutboxBudget: Sendable {
    let floor: Int
    let ceiling: Int
    /// Headroom over the product (2: the product can double each round while the links have room).
    let gain: Int
    let refreshAfter: Duration64
    let drainTime: Duration64
    let stallTime: Duration64
    /// Bytes per second the site's slowest link is configured for (0: not configured).
    let linkRate: Int
    /// Acknowledged bytes are counted per interval of this length; the rate is the largest of the
    /// last `rateIntervals` of them. (Half a second: reports come in bursts, after a heartbeat or
    /// a queue that let go, and a short interval would take a burst for the links' rate.)
    static let rateInterval: Duration64 = 500_000_000
    static let rateIntervals = 6

    /// The shortest acknowledgement delay of a message taken with a short outbox, and when it was last refreshed.
    private(set) var minDelay: Duration64?
    private var minDelayAt: Instant = 0
    /// Bytes acknowledged in each of the last intervals (a ring), and where the newest began.
    private var acknowledged = [Int](repeating: 0, count: OutboxBudget.rateIntervals)
    private var newest = 0
    private var newestStart: Instant?
    /// While draining: until when, and the shortest delay sampled since it began.
    private var drainUntil: Instant?
    private var drainMinimum: Duration64?
    /// Each other site of the configuration, and when it was last heard (a heartbeat taken) or
    /// joined the configuration; `sitesChanged` keeps the keys to exactly those sites.
    private var heardAt: [SiteID: Instant] = [:]
    /// The bound now (recomputed at every input).
    private(set) var limit: Int

    init(
        floor: Int, ceiling: Int, gain: Int = 2, refreshAfter: Duration64 = 10_000_000_000, drainTime: Duration64 = 200_000_000,
        stallTime: Duration64 = 250_000_000, linkRate: Int = 0
    ) {
        self.linkRate = max(0, linkRate)
        self.floor = max(1, min(floor, ceiling))
        self.ceiling = max(1, ceiling)
        self.gain = max(1, gain)
        self.refreshAfter = refreshAfter
        self.drainTime = drainTime
        self.stallTime = stallTime
        limit = self.floor
    }

    /// Bytes acknowledged per second: the busiest recent interval's, scaled.
    var bytesPerSecond: Int {
        (acknowledged.max() ?? 0) * Int(1_000_000_000 / Self.rateInterval)
    }

    /// Whether a message taken now, with `outboxBytes` already waiting, will give a clean delay
    /// sample (no standing queue ahead of it).
    func isClean(outboxBytes: Int) -> Bool { outboxBytes <= floor }

    /// Every other site reported taking a message of `bytes` taken at `takenAt` (nil: taken
    /// before this daemon had the order's state); `clean` as `isClean` said when it was taken.
    /// Call `update` after the last of a report's messages.
    mutating func acknowledged(bytes: Int, takenAt: Instant?, clean: Bool, now: Instant) {
        advance(to: now)
        acknowledged[newest] += bytes
        if let takenAt, clean {
            let delay = now - min(now, takenAt)
            if drainUntil != nil {
                drainMinimum = min(drainMinimum ?? delay, delay)
            } else if minDelay == nil || delay <= minDelay! || now - min(now, minDelayAt) >= refreshAfter {
                minDelay = delay
                minDelayAt = now
            }
        }
    }

    /// The configuration's other sites are now `remote`: those that stay keep when they were last
    /// heard, a site that comes (or comes back) counts as heard now.
    mutating func sitesChanged(_ remote: [SiteID], now: Instant) {
        heardAt = Dictionary(remote.map { ($0, heardAt[$0] ?? now) }, uniquingKeysWith: { first, _ in first })
    }

    /// A heartbeat of `site` was taken (one of another configuration changes nothing).
    mutating func heard(from site: SiteID, now: Instant) {
        if heardAt[site] != nil { heardAt[site] = now }
    }

    /// The clock moved on (a tick, a report taken): the rate's intervals roll, a drain begins or
    /// ends, a silence shows.
    mutating func update(now: Instant) {
        advance(to: now)
        let silence = heardAt.values.reduce(Duration64(0)) { max($0, now - min(now, $1)) }
        if let until = drainUntil, now >= until {
            drainUntil = nil
            if let fresh = drainMinimum { minDelay = fresh }
            minDelayAt = now
            drainMinimum = nil
        } else if drainUntil == nil, minDelay != nil, now - min(now, minDelayAt) >= refreshAfter {
            drainUntil = now + drainTime
            drainMinimum = nil
        }
        if silence >= max(stallTime, 4 * (minDelay ?? 0)) {
            limit = ceiling
            return
        }
        guard drainUntil == nil, let minDelay else {
            // Draining, or no delay measured yet (the first messages are clean: one comes soon).
            limit = floor
            return
        }
        // rate (bytes/s) × delay (ns) / 1e9, in steps that cannot overflow for any real rate.
        // The measured rate with headroom; the configured one (the most the links carry) as is.
        let rate = max(gain * bytesPerSecond, linkRate)
        let product = rate / 1000 * Int(min(minDelay, 1_000_000_000_000) / 1_000_000)
        limit = min(ceiling, max(floor, product))
    }

    private mutating func advance(to now: Instant) {
        guard let start = newestStart else {
            newestStart = now
            return
        }
        guard now >= start + Self.rateInterval else { return }
        let steps = Int(min((now - start) / Self.rateInterval, UInt64(Self.rateIntervals)))
        for _ in 0..<steps {
            newest = (newest + 1) % Self.rateIntervals
            acknowledged[newest] = 0
        }
        newestStart = start + (now - start) / Self.rateInterval * Self.rateInterval
    }
}
