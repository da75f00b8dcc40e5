import ChorusCore
import ChorusWire

/// The shape of a multi-site run: sites of whole daemons (rings inside sites, representatives
/// joined by hop links over simulated wide-area channels), client traffic, and faults.
public struct WideAreaSimulationConfig: Sendable {
    public var seed: UInt64 = 1
    public var sites = 3
    public var daemonsPerSite = 3
    /// Wide-area links as pairs of site indices (0-based); nil: a full mesh up to four sites,
    /// beyond it a ring of sites with chords across.
    public var links: [(Int, Int)]?
    /// Every direction of every wide-area link.
    public var impairment = WideAreaImpairment(delay: 30_000_000)
    /// One-way delay inside a site, ns (plus up to as much again of jitter).
    public var lanDelay: Duration64 = 100_000
    /// Virtual seconds in all; traffic runs from `warmup` to `duration - quiescence`.
    public var duration: Double = 8
    public var warmup: Double = 1.5
    public var quiescence: Double = 3
    /// Client messages per second per daemon (Poisson).
    public var rate: Double = 20
    public var services: [Service] = [.reliable, .fifo, .causal, .agreed, .safe]
    /// Per session, leaves per second (each joins again 0.1-0.5 s later); 0: none.
    public var churn: Double = 0
    /// A second group, `WideAreaSimulation.sparseGroup`, that only the first site's sessions join
    /// at their start; sessions elsewhere join it at random during the traffic (about one in
    /// `sparseJoinEvery` traffic events), and half the messages go to it: sites without members
    /// get stand-ins, and every first join of a site races the messages around it.
    public var sparseGroup = false
    public var sparseJoinEvery = 400.0
    /// A session of the last site joins this many groups new to its site at once, a second into
    /// the traffic (each first join takes its site's lease: at most `maxInterestLeases` of them
    /// per configuration run the clocks ahead, then the site is interested in every group).
    public var burstJoins = 0
    public var payloadSize = 100
    /// Per site, a clock offset drawn from 0 up to this (ns): tick stamps of sites disagree.
    public var clockSkew: Duration64 = 0
    /// Wide-area link cuts per virtual second during the traffic (each healed after 1-3 s).
    public var linkCutRate: Double = 0
    /// Sites cut off from every other (all their links cut), at random times during the
    /// traffic, each for a time drawn from `isolationSeconds`.
    public var isolations = 0
    public var isolationSeconds: ClosedRange<Double> = 1...3
    /// Groups of sites (indices) cut off from the others at set times (virtual seconds), each for `seconds`.
    public var plannedCutoffs: [(sites: [Int], at: Double, seconds: Double)] = []
    /// Representatives crashed (each stays down), at random times during the traffic.
    public var representativeCrashes = 0
    /// Daemons crashed and restarted 0.5-2 s later without their state, at random times during
    /// the traffic (the restarted daemon gets the order's state from its site's ring).
    public var restarts = 0
    /// A crash also loses the ring datagrams its daemon sent in its last two LAN delays (still
    /// in its socket buffer or on the wire), while what it handed to the wide area arrives: a
    /// real kill -9 can land between the two sends of one turn of the daemon's loop. A ring
    /// message the crashed daemon delivered (and acted on across sites) may then reach no
    /// survivor.
    public var crashLosesLastPackets = false
    /// Also check reliable and fifo messages between consecutive network views, not only ordered
    /// ones between any views (`WideAreaHistory.checkEveryServiceBetweenViews`).
    public var strictViews = true
    /// Each daemon starts at a random time up to this (ns), not all at once.
    public var staggeredStart: Duration64 = 0
    /// For comparison, what Spread does: one token ring stretched over every daemon of every
    /// site (no hop protocol); packets between daemons of different sites take the wide-area
    /// delay, jitter and loss (not its bandwidth). `ringOptions` then need wide-area timeouts.
    public var oneStretchedRing = false
    /// Prints every configuration of sites each daemon installs, and site cut-offs, as they happen.
    public var traceConfigurations = false
    public var orderOptions = SiteOrderOptions()
    public var ringOptions = RingOptions()
    public var hopOptions = HopLinkOptions()

    public init() {}

    /// Ring timeouts for one ring stretched over wide-area links (`oneStretchedRing`): a rotation
    /// crosses every site, so the token timeouts must cover a few wide-area round trips.
    public static func stretchedRingOptions(oneWayDelay: Duration64) -> RingOptions {
        var options = RingOptions()
        let unit = max(oneWayDelay, 1_000_000)
        options.tokenRetransmitTimeout = 4 * unit
        options.joinTimeout = 2 * unit
        options.idleHold = 8 * unit
        options.tokenTimeout = 60 * unit
        options.consensusTimeout = 40 * unit
        options.maxGatherTime = 200 * unit
        options.mergeProbeInterval = 30 * unit
        return options
    }

    /// The links this run uses.
    public var resolvedLinks: [(Int, Int)] {
        if let links { return links }
        guard sites > 1 else { return [] }
        if sites <= 4 { return (0..<sites).flatMap { a in ((a + 1)..<sites).map { (a, $0) } } }
        var result = (0..<sites).map { ($0, ($0 + 1) % sites) }
        for a in 0..<(sites / 2) where a + sites / 2 != a + 1 { result.append((a, a + sites / 2)) }
        return result
    }
}

extension WideAreaSimulationConfig {
    /// A harsh run drawn from `seed`: 2 to `maxSites` sites of 1 to `maxDaemonsPerSite` daemons;
    /// one-way delay 1-100 ms, jitter up to 20 ms, loss up to 10 %, duplication up to 2 %; link
    /// cuts half the time; up to two sites cut off from all others for 1-3 s; up to two representative crashes; up to two daemon restarts; starts
    /// spread over up to 1 s half the time; clock skew up to 20 ms; every service.
    public static func randomFaulty(
        seed: UInt64, maxSites: Int = 5, maxDaemonsPerSite: Int = 4, duration: Double = 10
    ) -> WideAreaSimulationConfig {
        var random = SimRandom(seed: seed ^ 0x57AD_E0A5)
        var config = WideAreaSimulationConfig()
        config.seed = seed
        config.sites = random.int(in: 2...max(2, maxSites))
        config.daemonsPerSite = random.int(in: 1...max(1, maxDaemonsPerSite))
        config.impairment = WideAreaImpairment(
            delay: UInt64(random.int(in: 1...100)) * 1_000_000, jitter: UInt64(random.int(in: 0...20)) * 1_000_000,
            loss: Double(random.int(in: 0...10)) / 100)
        config.impairment.duplication = Double(random.int(in: 0...2)) / 100
        config.linkCutRate = random.chance(0.5) ? 0.5 : 0
        config.isolations = random.int(in: 0...2)
        config.representativeCrashes = random.int(in: 0...2)
        config.clockSkew = UInt64(random.int(in: 0...20)) * 1_000_000
        config.restarts = random.int(in: 0...2)
        config.staggeredStart = random.chance(0.5) ? UInt64(random.int(in: 0...1_000)) * 1_000_000 : 0
        config.services = Service.allCases
        config.churn = random.chance(0.5) ? 0.5 : 0
        config.duration = duration
        config.quiescence = min(5, duration / 2)
        return config
    }
}
