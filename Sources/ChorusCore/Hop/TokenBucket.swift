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
    /// not yet earned (the clock advances only by the time the whole bytes took).
    mutating func refill(now: Instant) {
        guard rate > 0, now > updatedAt else { return }
        let elapsed = min(now - updatedAt, 10_000_000_000)
        let earned = elapsed.multipliedFullWidth(by: rate)
        let bytes = Int64(clamping: rate == 0 ? 0 : (earned.high == 0 ? earned.low / 1_000_000_000 : UInt64.max))
        guard bytes > 0 else { return }
        if tokens + bytes >= burst {
            tokens = burst
            updatedAt = now
        } else {
            tokens += bytes
            updatedAt += UInt64(bytes) * 1_000_000_000 / rate
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
