@testable import ChorusCore
import ChorusWire
import Testing

/// The bound on what a site keeps for the others follows the links: twice rate × delay.
@Suite struct OutboxBudgetTests {
    static let ms: UInt64 = 1_000_000
    static let other = SiteID(2)

    /// A budget for a configuration of this site and `other`, from time 0.
    static func budget(linkRate: Int = 0, stallTime: Duration64 = 250_000_000) -> OutboxBudget {
        var budget = OutboxBudget(floor: 128 << 10, ceiling: 8 << 20, stallTime: stallTime, linkRate: linkRate)
        budget.sitesChanged([other], now: 0)
        return budget
    }

    /// A link that acknowledges `bytesPerTick` every `tick` with messages taken `delay` earlier;
    /// `queued` bytes wait ahead of each new message (a standing queue when above the floor).
    static func run(
        _ budget: inout OutboxBudget, from start: UInt64, until end: UInt64, tick: UInt64 = 10 * ms, delay: UInt64,
        bytesPerTick: Int, queued: Int
    ) {
        var now = start
        while now < end {
            now += tick
            // Acknowledgements begin one delay after the first message.
            if now - start >= delay {
                let clean = budget.isClean(outboxBytes: queued)
                budget.acknowledged(bytes: bytesPerTick, takenAt: now - delay, clean: clean, now: now)
            }
            budget.heard(from: Self.other, now: now)
            budget.update(now: now)
        }
    }

    @Test func theLimitIsTwiceRateTimesDelayWithinItsBounds() {
        var budget = Self.budget()
        #expect(budget.limit == 128 << 10)  // nothing measured yet
        // 125 kB every 10 ms = 12.5 MB/s acknowledged 70 ms after being taken, short outbox.
        Self.run(&budget, from: 0, until: 2_000 * Self.ms, delay: 70 * Self.ms, bytesPerTick: 125_000, queued: 0)
        #expect(budget.minDelay == 70 * Self.ms)
        #expect(budget.bytesPerSecond == 12_500_000)
        #expect(budget.limit == 2 * 12_500 * 70)  // 1.75 MB, not 8 MiB
        // A slow link: 1 kB per 10 ms: the floor.
        var slow = Self.budget()
        Self.run(&slow, from: 0, until: 2_000 * Self.ms, delay: 70 * Self.ms, bytesPerTick: 1_000, queued: 0)
        #expect(slow.limit == 128 << 10)
        // A fast, far one: the ceiling.
        var fast = Self.budget()
        Self.run(&fast, from: 0, until: 2_000 * Self.ms, delay: 300 * Self.ms, bytesPerTick: 1_250_000, queued: 0)
        #expect(fast.limit == 8 << 20)
    }

    /// A standing queue does not inflate the delay (no drift by the gain each round), and after
    /// `refreshAfter` without a clean sample the budget drains to the floor and measures again.
    @Test func aStandingQueueNeitherInflatesTheDelayNorKeepsItForever() {
        var budget = Self.budget()
        Self.run(&budget, from: 0, until: 1_000 * Self.ms, delay: 70 * Self.ms, bytesPerTick: 125_000, queued: 0)
        let limit = budget.limit
        // Now queued: every message waits 140 ms behind 1.75 MB; samples are not clean.
        Self.run(&budget, from: 1_000 * Self.ms, until: 9_000 * Self.ms, delay: 140 * Self.ms, bytesPerTick: 125_000, queued: limit)
        #expect(budget.minDelay == 70 * Self.ms)
        #expect(budget.limit == limit)
        // Past 10 s since the last clean sample: a drain at the floor, then the delay measured again
        // (the path got longer: 90 ms).
        var now = 9_000 * Self.ms
        var drained = false
        while now < 11_500 * Self.ms {
            now += 10 * Self.ms
            let queued = drained ? 0 : limit
            budget.acknowledged(
                bytes: 125_000, takenAt: now - (drained ? 90 : 140) * Self.ms, clean: budget.isClean(outboxBytes: queued), now: now)
            budget.heard(from: Self.other, now: now)
            budget.update(now: now)
            if budget.limit == 128 << 10 { drained = true }
        }
        #expect(drained)
        #expect(budget.minDelay == 90 * Self.ms)
        #expect(budget.limit == 2 * 12_500 * 90)
    }

    /// Another site silent (a cut, a representative failing over): the ceiling, so clients go on
    /// until the configuration changes, as with a fixed bound. Acknowledgements that stop while
    /// heartbeats still come (a queue) do not open it.
    @Test func aSilentSiteIsNotAThinLink() {
        var budget = Self.budget(stallTime: 1_000_000_000)
        Self.run(&budget, from: 0, until: 1_000 * Self.ms, delay: 70 * Self.ms, bytesPerTick: 125_000, queued: 0)
        let limit = budget.limit
        #expect(limit < 8 << 20)
        // Heartbeats on, acknowledgements stopped for half a second: the same bound.
        for tick in UInt64(1)...50 {
            budget.heard(from: Self.other, now: (1_000 + 10 * tick) * Self.ms)
            budget.update(now: (1_000 + 10 * tick) * Self.ms)
        }
        #expect(budget.limit == limit)
        // Silent for 950 ms: not yet (the stall time is a second); 1050 ms: the ceiling.
        budget.update(now: 2_450 * Self.ms)
        #expect(budget.limit == limit)
        budget.update(now: 2_550 * Self.ms)
        #expect(budget.limit == 8 << 20)
        // Heard again: back to the product.
        budget.heard(from: Self.other, now: 2_560 * Self.ms)
        budget.update(now: 2_560 * Self.ms)
        #expect(budget.limit == limit)
        // A site never heard counts from when it was first among the others.
        budget.sitesChanged([Self.other, SiteID(3)], now: 2_570 * Self.ms)
        budget.update(now: 2_570 * Self.ms)
        budget.heard(from: Self.other, now: 3_500 * Self.ms)
        budget.update(now: 3_500 * Self.ms)
        #expect(budget.limit < 8 << 20)
        budget.heard(from: Self.other, now: 3_600 * Self.ms)
        budget.update(now: 3_600 * Self.ms)
        #expect(budget.limit == 8 << 20)
        // Site 3 leaves the configuration: only the others count; a heartbeat of a site outside it
        // changes nothing; when site 3 comes back, it counts from its return, not its old silence.
        budget.sitesChanged([Self.other], now: 3_610 * Self.ms)
        budget.heard(from: SiteID(3), now: 3_610 * Self.ms)
        budget.update(now: 3_610 * Self.ms)
        #expect(budget.limit < 8 << 20)
        budget.heard(from: Self.other, now: 6_000 * Self.ms)
        budget.sitesChanged([Self.other, SiteID(3)], now: 6_000 * Self.ms)
        budget.update(now: 6_000 * Self.ms)
        #expect(budget.limit < 8 << 20)
    }

    /// By default a site is silent after a quarter second or four of the shortest delays, the
    /// longer: a cut holds clients back that long at most, not a second.
    @Test func theDefaultSilenceIsAQuarterSecondOrFourDelays() {
        var budget = OutboxBudget(floor: 128 << 10, ceiling: 8 << 20)
        budget.sitesChanged([Self.other], now: 0)
        Self.run(&budget, from: 0, until: 1_000 * Self.ms, delay: 70 * Self.ms, bytesPerTick: 125_000, queued: 0)
        let limit = budget.limit
        #expect(limit < 8 << 20)
        budget.heard(from: Self.other, now: 1_000 * Self.ms)
        // Four delays are 280 ms: silent 270 ms is not yet, 290 ms is.
        budget.update(now: 1_270 * Self.ms)
        #expect(budget.limit == limit)
        budget.update(now: 1_290 * Self.ms)
        #expect(budget.limit == 8 << 20)
    }

    /// Links configured for a rate: the bound never assumes they carry less, so a site sending
    /// below it is not held back by its own small rate.
    @Test func aConfiguredLinkRateIsTheLeastRateAssumed() {
        var budget = Self.budget(linkRate: 12_500_000)
        Self.run(&budget, from: 0, until: 2_000 * Self.ms, delay: 70 * Self.ms, bytesPerTick: 1_000, queued: 0)
        #expect(budget.limit == 12_500 * 70)
    }
}
