import ChorusCore
import ChorusSimulator
import ChorusWire
import Testing

/// Whole daemons in several sites (rings inside sites, representatives over simulated wide-area
/// links): one order across sites, safe delivery across sites, the latency bounds, and the
/// checkers catching each rule when it is broken on purpose.
@Suite struct WideAreaOrderTests {
    static let millisecond: UInt64 = 1_000_000

    static func run(_ configure: (inout WideAreaSimulationConfig) -> Void) -> WideAreaSimulationReport {
        var config = WideAreaSimulationConfig()
        configure(&config)
        var simulation = WideAreaSimulation(config: config)
        let report = simulation.run()
        print(report)
        return report
    }

    /// Two sites of two daemons 1 ms apart, 300 messages of 1000 bytes a second per daemon for
    /// 10 s, four daemons crashed and restarted (`chorus sim --sites 2 --daemons 2
    /// --daemon-restarts 4 --wan-delay 1 --rate 300 --duration 10`).
    static func twoBusySitesOfTwo(seed: UInt64) -> WideAreaSimulationConfig {
        var config = WideAreaSimulationConfig()
        config.seed = seed
        config.sites = 2
        config.daemonsPerSite = 2
        config.restarts = 4
        config.impairment = WideAreaImpairment(delay: millisecond)
        config.rate = 300
        config.payloadSize = 1000
        config.duration = 10
        return config
    }

    static func p50(_ report: WideAreaSimulationReport, _ service: Service) -> UInt64 {
        report.latency[Int(service.rawValue)].percentile(0.5)
    }

    /// Three sites 30 ms apart, 10 ms heartbeats, agreed only: p50 at most the one-way delay plus
    /// the heartbeat plus 5 ms (45 ms); measured 31 ms (p99 40 ms).
    @Test func agreedAcrossSitesWithinOneWayDelayPlusHeartbeat() {
        let report = Self.run { config in
            config.seed = 11
            config.services = [.agreed]
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.sent > 400)
        #expect(Self.p50(report, .agreed) <= 45 * Self.millisecond)
        #expect(report.latency[Int(Service.agreed.rawValue)].percentile(0.99) <= 45 * Self.millisecond)
    }

    /// What a daemon keeps of other sites' messages, for a site that may need them from it if
    /// their origin departs, is dropped once every site reports having them (pruned at most once
    /// a heartbeat interval): kept while traffic runs, none left after the quiet end.
    @Test func relayedMessagesAreDroppedOnceEverySiteHasThem() {
        let report = Self.run { config in
            config.seed = 12
            config.services = Service.allCases
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.relayedPeak > 0, "the relay was never used: the check below would prove nothing")
        #expect(report.relayedAtEnd == 0)
    }

    /// Safe only: p50 at most twice the one-way delay plus the heartbeat plus 5 ms (75 ms).
    @Test func safeAcrossSitesWithinTwiceTheDelayPlusHeartbeat() {
        let report = Self.run { config in
            config.seed = 12
            config.services = [.safe]
        }
        #expect(report.passed, "\(report.violations)")
        #expect(Self.p50(report, .safe) <= 75 * Self.millisecond)
        #expect(Self.p50(report, .safe) >= 60 * Self.millisecond, "faster than two one-way delays: not safe")
    }

    /// Fifo is not held back by other sites: it arrives a one-way delay (plus the rings) after it
    /// is sent, when no earlier message of its site waits for the order.
    @Test func fifoIsNotHeldBackByOtherSites() {
        let report = Self.run { config in
            config.seed = 13
            config.services = [.fifo]
        }
        #expect(report.passed, "\(report.violations)")
        #expect(Self.p50(report, .fifo) <= 33 * Self.millisecond)
    }

    /// Every service mixed, skewed clocks, jitter (datagrams overtake), loss and duplication.
    @Test func mixedServicesUnderLossJitterAndSkew() {
        let report = Self.run { config in
            config.seed = 14
            config.sites = 4
            config.impairment = WideAreaImpairment(delay: 20 * Self.millisecond, jitter: 15 * Self.millisecond, loss: 0.05)
            config.impairment.duplication = 0.02
            config.clockSkew = 15 * Self.millisecond
            config.services = Service.allCases
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.delivered > 5_000)
    }

    /// Representatives crash under traffic: the next daemon of the site takes over, sends again
    /// what the other sites have not reported, and nothing is lost or reordered.
    @Test func representativeCrashesLoseNothing() {
        let report = Self.run { config in
            config.seed = 15
            config.sites = 3
            config.daemonsPerSite = 3
            config.representativeCrashes = 2
            config.rate = 50
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.crashes == 2)
        #expect(report.representativeChanges >= 5)
        #expect(report.orderCounters.reduce(0) { $0 + $1.duplicates } > 0, "takeover resent nothing")
    }

    /// A crash can lose the last ring datagrams its daemon sent while what it handed to the wide
    /// area still arrives (a kill -9 between two sends of one turn of the daemon's loop). Found by
    /// a real-process test (`KillRestartFaultTests`, two sites: a message delivered in different
    /// views at the two sites): the representative promised other sites, on a tick its ring had
    /// delivered only to it, that its site would number nothing lower, and routed messages no
    /// survivor held. Ticks are now safe and what a representative sends waits until every
    /// member of its ring holds the cause; acting at once again (the broken rule) is caught.
    @Test func aCrashLosingItsLastRingPacketsBreaksNoPromise() {
        let seeds: [UInt64] = [9, 16, 19, 35, 36, 38, 41]
        let runs = seeds.flatMap { [($0, false), ($0, true)] }
        let reports = parallelRuns(runs) { seed, broken in
            var config = Self.twoBusySitesOfTwo(seed: seed)
            config.representativeCrashes = 2
            config.crashLosesLastPackets = true
            config.orderOptions.brokenRules.actOnUnstableDeliveries = broken
            var simulation = WideAreaSimulation(config: config)
            return simulation.run()
        }
        var caught = 0
        for ((seed, broken), report) in zip(runs, reports) {
            if broken {
                if !report.passed { caught += 1 }
            } else {
                #expect(report.passed, "seed \(seed): \(report.violations.prefix(5))")
                #expect(report.crashes >= 2, "seed \(seed): \(report.crashes) crashes")
            }
        }
        #expect(reports.reduce(0) { $0 + $1.packetsLostInCrashes } > 0, "no crash lost a packet")
        #expect(caught >= 3, "acting on deliveries only the representative held was caught in \(caught) of \(seeds.count) runs")
    }

    /// Daemons that show the same two consecutive network views of a group (a configuration or a
    /// site's daemons changing) must deliver the same messages between them, of every service
    /// but unreliable. Found by `KillRestartFaultTests` across two sites: a fifo message went
    /// ahead of the order at once, before another site's daemon change whose place in the order
    /// came first, and after it at that other site. Now each site's promises are leases (a
    /// daemon change is numbered above every promise plus `daemonChangeLease`) and reliable and
    /// fifo go ahead only under every other site's lease: the strict check passes while daemons
    /// crash and restart, and going ahead at once again (the broken rule) is caught.
    @Test func fifoAndReliableFallInOneViewAcrossDaemonChanges() {
        let seeds: [UInt64] = [1, 2, 3, 4, 5, 6]
        let runs = seeds.flatMap { [($0, false), ($0, true)] }
        let reports = parallelRuns(runs) { seed, broken in
            var config = Self.twoBusySitesOfTwo(seed: seed)
            config.strictViews = true
            config.services = [.fifo, .reliable, .agreed]
            config.orderOptions.brokenRules.fifoAheadOfDaemonChanges = broken
            var simulation = WideAreaSimulation(config: config)
            return simulation.run()
        }
        var caught = 0
        for ((seed, broken), report) in zip(runs, reports) {
            if broken {
                if report.violations.contains(where: { $0.contains("delivered different messages between them") }) { caught += 1 }
            } else {
                #expect(report.passed, "seed \(seed): \(report.violations.prefix(3))")
                #expect(report.restarts >= 2, "seed \(seed): \(report.restarts) restarts")
            }
        }
        #expect(caught >= 3, "fifo ahead of other sites' daemon changes was caught in \(caught) of \(seeds.count) runs")
    }

    /// Daemons start up to a second apart (one alone first does not start an order of its own:
    /// a majority of its site must), and two daemons crash and restart without their state
    /// during the traffic: each gets the order's state from its site's ring, then delivers
    /// everything sent from two seconds after its restart on, in the one order.
    @Test func restartedDaemonsGetTheStateAndCarryOn() {
        var config = WideAreaSimulationConfig()
        config.seed = 21
        config.staggeredStart = 1_000 * Self.millisecond
        config.restarts = 2
        config.duration = 14
        config.quiescence = 4
        config.rate = 30
        var simulation = WideAreaSimulation(config: config)
        let report = simulation.run()
        print(report)
        #expect(report.passed, "\(report.violations)")
        #expect(report.restarts == 2)
        let restarted = simulation.history.deliveries.dropFirst(9)
        #expect(restarted.count == 2)
        for deliveries in restarted {
            #expect(deliveries.filter { $0.service >= .causal }.count > 200, "a restarted daemon delivered \(deliveries.count)")
        }
    }

    /// A cut link in a mesh of four: routes go around it, and messages queued on it are resent.
    @Test func linkCutsAreRoutedAround() {
        let report = Self.run { config in
            config.seed = 16
            config.sites = 4
            config.linkCutRate = 1
            config.duration = 10
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.linkCuts >= 2)
    }

    /// Three sites 30 ms apart, links of 100 Mbit/s: at least 10 MB/s of agreed 1000-byte
    /// messages delivered at every daemon (measured 13.4 MB/s at 1,500 messages per second per
    /// daemon, p99 41 ms); the same shape as one ring stretched over the nine daemons (what Spread
    /// does) saturates near 2.2 MB/s with p50 above 700 ms.
    @Test func throughputAcrossSitesAgainstOneStretchedRing() {
        func shape(_ config: inout WideAreaSimulationConfig, rate: Double) {
            config.seed = 20
            config.services = [.agreed]
            config.payloadSize = 1000
            config.rate = rate
            config.duration = 6
            config.impairment = WideAreaImpairment(delay: 30 * Self.millisecond, bandwidth: 12_500_000)
        }
        let hops = Self.run { shape(&$0, rate: 1500) }
        #expect(hops.passed, "\(hops.violations)")
        #expect(hops.deliveredBytesPerSecond >= 10e6)
        #expect(hops.latency[Int(Service.agreed.rawValue)].percentile(0.99) <= 45 * Self.millisecond)
        let ring = Self.run { config in
            shape(&config, rate: 300)
            config.oneStretchedRing = true
            config.ringOptions = WideAreaSimulationConfig.stretchedRingOptions(oneWayDelay: 30 * Self.millisecond)
        }
        print("agreed 1000 B, 3 sites 30 ms apart: hops \(hops.deliveredBytesPerSecond / 1e6) MB/s, one stretched ring \(ring.deliveredBytesPerSecond / 1e6) MB/s")
        #expect(ring.deliveredBytesPerSecond < 4e6)
        #expect(hops.deliveredBytesPerSecond > 4 * ring.deliveredBytesPerSecond)
    }

    // MARK: The checkers fail when a rule is broken

    /// Agreed messages delivered without waiting for the other sites' promises: the total order
    /// check fails.
    @Test func brokenPromisesAreCaught() {
        let report = Self.run { config in
            config.seed = 17
            config.services = [.agreed]
            config.impairment = WideAreaImpairment(delay: 30 * Self.millisecond, jitter: 20 * Self.millisecond)
            config.orderOptions.brokenRules.promises = true
        }
        #expect(report.violations.contains { $0.contains("not one total order") }, "\(report.violations)")
    }

    /// Safe messages delivered without every site's held report: the safe check fails.
    @Test func brokenStabilityIsCaught() {
        let report = Self.run { config in
            config.seed = 18
            config.services = [.safe]
            config.orderOptions.brokenRules.stability = true
        }
        #expect(report.violations.contains { $0.contains("delivered safe") }, "\(report.violations)")
    }

    // MARK: Sweeps and scale

    /// 200 randomized harsh runs (2-5 sites of 1-4 daemons, 1-100 ms, up to 10 % loss, jitter,
    /// duplication, link cuts, sites cut off, representative crashes, restarts, clock skew). A
    /// failing seed is printed and replays with `chorus sim --sites 5 --daemons 4 --randomize
    /// --duration 8 --seed S`. Faults stop 4 s before the end (cut-offs and link cuts heal within
    /// 3 s): every run must end with its running daemons in one configuration of every site.
    @Test func randomizedMultiSiteSweep() {
        var failed: [UInt64] = []
        var apart: [UInt64] = []
        let seeds = Array(UInt64(1)...200)
        let reports = parallelRuns(seeds) { seed in
            var simulation = WideAreaSimulation(config: .randomFaulty(seed: seed, duration: 8))
            return simulation.run()
        }
        for (seed, report) in zip(seeds, reports) {
            if !report.passed {
                failed.append(seed)
                print(report)
            }
            if !report.mergedAtEnd {
                apart.append(seed)
                print(report)
            }
        }
        #expect(failed.isEmpty, "failing seeds: \(failed)")
        #expect(apart.isEmpty, "seeds whose sites did not end in one configuration: \(apart)")
    }

    /// Twenty sites of twenty daemons (400 engines), a ring of sites with chords, 10 ms apart.
    @Test func twentySitesOfTwentyDaemons() {
        let report = Self.run { config in
            config.seed = 19
            config.sites = 20
            config.daemonsPerSite = 20
            config.impairment = WideAreaImpairment(delay: 10 * Self.millisecond)
            config.orderOptions.heartbeatInterval = 20 * Self.millisecond
            config.rate = 1
            config.duration = 5
            config.quiescence = 2.5
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.sent > 300)
        #expect(report.delivered == report.sent * 400)
    }
}
