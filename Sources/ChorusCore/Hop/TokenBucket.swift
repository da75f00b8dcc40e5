/// A token (leaky) bucket: bytes flow out at `rate` per second on average, at most `burst` at once.
/// A packet may go while any token is left, and its size is then taken even if that leaves a
/// deficit, so a packet larger than the burst still goes (after the deficit of the one before).
struct TokenBucket: Sendable {
    /// Bytes per second; 0: unlimited.
    let rate: UInt64
    let burst: Int64
    private(set) var tokens: Int64
    private var updatedAt: Instant

    init(rate: UInt64, burst: Int64, now: Instant) {
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updatedAt = now
    }

    /// Adds what `rate` earned since the last refill, up to `burst`. Keeps the fraction of a byte
    /// not yet earned (the clock advances only by the time the whole bytes took). Never
    /// overflows: the elapsed time counts at most 10 s, and the sum is compared, not formed.
    mutating func refill(now: Instant) {
        guard rate > 0, now > updatedAt else { return }
        let elapsed = min(now - updatedAt, 10_000_000_000)
        let earned = UInt64(1_000_000_000).dividingFullWidth(elapsed.multipliedFullWidth(by: rate)).quotient
        guard earned > 0 else { return }
        let room = UInt64(burst - min(tokens, burst))  // tokens may be negative: room can exceed burst
        if earned >= room {
            tokens = burst
            updatedAt = now
        } else {
            tokens += Int64(earned)
            updatedAt += rate.dividingFullWidth(earned.multipliedFullWidth(by: 1_000_000_000)).quotient
        }
    }

    var canSend: Bool { rate == 0 || tokens > 0 }

    mutating func spend(_ bytes: Int) {
        if rate > 0 { tokens -= Int64(bytes) }
    }

    /// When a packet may go again (now or earlier if it may go now).
    var readyAt: Instant {
        guard rate > 0, tokens <= 0 else { return updatedAt }
        return updatedAt + (UInt64(1 - tokens) * 1_000_000_000 + rate - 1) / rate
    }
}
