import ChorusCore
import ChorusSimulator
import ChorusWire
import Testing

/// Configurations of sites (extended virtual synchrony across sites): sites start alone and
/// merge, a site cut off carries on alone while the others carry on without it, both merge back
/// when the links return, and the checks fail when the rule for where a configuration ends is
/// broken on purpose.
@Suite struct SiteConfigurationTests {
    static let second: Instant = 1_000_000_000

    static func run(_ configure: (inout WideAreaSimulationConfig) -> Void) -> (WideAreaSimulationReport, WideAreaHistory) {
        var config = WideAreaSimulationConfig()
        configure(&config)
        var simulation = WideAreaSimulation(config: config)
        let report = simulation.run()
        print(report)
        return (report, simulation.history)
    }

    /// When each daemon (slot) first installed a regular configuration of exactly `sites`, at or after `from`.
    static func installed(_ history: WideAreaHistory, _ sites: [UInt32], from: Instant) -> [Instant?] {
        history.changes.map { changes in
            changes.first { $0.change.kind == .regular && $0.change.sites == sites.map(SiteID.init) && $0.time >= from }?.time
        }
    }

    static func seconds(_ time: Instant) -> Double { Double(time / 1_000_000) / 1000 }

    /// Three sites 30 ms apart: each starts alone, and all merge into one configuration of every
    /// site within half a second; the order and virtual synchrony hold throughout.
    @Test func sitesStartAloneAndMerge() {
        let (report, history) = Self.run { config in
            config.seed = 3
            config.duration = 6
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.mergedAtEnd, "\(report.finalConfigurations)")
        for (slot, changes) in history.changes.enumerated() {
            let site = UInt32(slot / 3 + 1)
            // Each daemon starts delivering with the state, part way through its site's first configuration.
            #expect(changes.first?.change == SiteConfigurationChange(
                kind: .regular, id: SiteConfigurationID(seq: 0, coordinator: SiteID(site)), sites: [SiteID(site)], joinedLate: true))
        }
        let merged = Self.installed(history, [1, 2, 3], from: 0)
        #expect(merged.allSatisfy { $0 != nil && $0! <= Self.second / 2 }, "merged at \(merged.map { $0.map(Self.seconds) })")
    }

    /// Site 3 cut off from 3 s to 6 s under traffic of every service: sites 1 and 2 install a
    /// configuration of the two of them, and site 3 one of its own, each within 3 s of the cut
    /// (the hop links' dead interval, 0.8 s, the departure grace, 1.5 s, and an agreement); all three merge again within
    /// 3 s of the heal. Messages sent at site 3 meanwhile are delivered there, the others' at
    /// both of theirs (the checks: virtual synchrony and self-delivery), and the order holds.
    @Test func aSiteCutOffCarriesOnAndMergesBack() {
        let (report, history) = Self.run { config in
            config.seed = 5
            config.duration = 12
            config.quiescence = 3
            config.services = Service.allCases
            config.plannedCutoffs = [(sites: [2], at: 3, seconds: 3)]
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.mergedAtEnd, "\(report.finalConfigurations)")
        let cut = 3 * Self.second
        let heal = 6 * Self.second
        let pair = Self.installed(history, [1, 2], from: cut)
        let alone = Self.installed(history, [3], from: cut)
        let merged = Self.installed(history, [1, 2, 3], from: heal)
        for slot in 0..<6 { #expect(pair[slot].map { $0 - cut <= 3 * Self.second } == true, "daemon \(slot): \(pair[slot].map(Self.seconds) ?? -1) s") }
        for slot in 6..<9 { #expect(alone[slot].map { $0 - cut <= 3 * Self.second } == true, "daemon \(slot): \(alone[slot].map(Self.seconds) ?? -1) s") }
        #expect(merged.allSatisfy { $0.map { $0 - heal <= 3 * Self.second } == true }, "\(merged.map { $0.map(Self.seconds) })")
        print(
            "cut at 3 s: {s1,s2} installed at \(pair.compactMap { $0 }.map(Self.seconds).max() ?? -1) s, {s3} at \(alone.compactMap { $0 }.map(Self.seconds).max() ?? -1) s; healed at 6 s: merged at \(merged.compactMap { $0 }.map(Self.seconds).max() ?? -1) s"
        )
        // Every daemon of sites 1 and 2 delivered a transitional configuration of the two before the pair.
        for slot in 0..<6 {
            #expect(history.changes[slot].contains { $0.change.kind == .transitional && $0.change.sites == [SiteID(1), SiteID(2)] })
        }
    }

    /// Two sites against two (four sites, the links between {1, 2} and {3, 4} cut for 4 s) with
    /// loss and jitter: each half carries on as a configuration of two, and all merge back.
    @Test func twoHalvesCarryOnAndMerge() {
        let (report, history) = Self.run { config in
            config.seed = 8
            config.sites = 4
            config.daemonsPerSite = 2
            config.duration = 12
            config.quiescence = 4
            config.impairment = WideAreaImpairment(delay: 20_000_000, jitter: 5_000_000, loss: 0.02)
            config.services = Service.allCases
            config.plannedCutoffs = [(sites: [0, 1], at: 3, seconds: 4)]
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.mergedAtEnd, "\(report.finalConfigurations)")
        let low = Self.installed(history, [1, 2], from: 3 * Self.second)
        let high = Self.installed(history, [3, 4], from: 3 * Self.second)
        #expect(low[0..<4].allSatisfy { $0 != nil }, "\(low)")
        #expect(high[4..<8].allSatisfy { $0 != nil }, "\(high)")
    }

    /// Cut-offs, representative crashes and restarts together, over many seeds: never a
    /// violation, and the sites end in one configuration of all of them.
    @Test func cutOffsWithCrashesSweep() {
        var failed: [UInt64] = []
        var apart: [UInt64] = []
        let seeds = Array(UInt64(1)...30)
        let reports = parallelRuns(seeds) { seed in
            var config = WideAreaSimulationConfig()
            config.seed = seed
            config.sites = 3 + Int(seed % 2)
            config.daemonsPerSite = 3
            config.duration = 12
            config.quiescence = 4
            config.impairment = WideAreaImpairment(delay: UInt64(5 + seed % 40) * 1_000_000, jitter: 2_000_000, loss: 0.01)
            config.services = Service.allCases
            config.isolations = 2
            config.representativeCrashes = Int(seed % 2)
            config.restarts = Int(seed % 3)
            var simulation = WideAreaSimulation(config: config)
            return simulation.run()
        }
        for (seed, report) in zip(seeds, reports) {
            if !report.passed {
                failed.append(seed)
                print(report)
            }
            if !report.mergedAtEnd { apart.append(seed) }
        }
        #expect(failed.isEmpty, "failing seeds: \(failed)")
        #expect(apart.isEmpty, "seeds not merged at the end: \(apart)")
    }

    /// Where a configuration ends, a departed site's messages end at the most any member moving
    /// on took: ending them at the least (`cutAtMinimum`) makes members that had delivered more
    /// deliver other messages in the old configuration than the rest, and the checks say so.
    @Test func cutsAtTheMinimumAreCaught() {
        var caught = 0
        for seed in UInt64(1)...6 {
            let (report, _) = Self.run { config in
                config.seed = seed
                config.sites = 4
                config.daemonsPerSite = 2
                config.duration = 11
                config.rate = 60
                config.services = [.reliable, .fifo]
                // Losses the hop links cannot repair once cut: the others end with different prefixes.
                config.impairment = WideAreaImpairment(delay: 10_000_000, jitter: 30_000_000, loss: 0.1)
                config.orderOptions.brokenRules.cutAtMinimum = true
                config.plannedCutoffs = [(sites: [3], at: 3, seconds: 4)]
            }
            if report.violations.contains(where: { $0.contains("never delivered") }) { caught += 1 }
        }
        #expect(caught > 0)
    }
}

/// Group views span sites: every daemon of every site shows the same views, at the same places
/// of the order, through joins, leaves, crashes, restarts and sites cut off; and the checks fail
/// when views ignore other sites' daemons on purpose.
@Suite struct SiteViewsTests {
    static func run(_ configure: (inout WideAreaSimulationConfig) -> Void) -> (WideAreaSimulationReport, WideAreaHistory) {
        SiteConfigurationTests.run(configure)
    }

    /// Three sites of three daemons, sessions leaving and joining again: every view lists members
    /// of every site, and at the end every daemon's last view has all nine sessions.
    @Test func viewsListEverySite() {
        let (report, history) = Self.run { config in
            config.seed = 5
            config.duration = 8
            config.churn = 0.5
        }
        #expect(report.passed, "\(report.violations)")
        #expect(report.mergedAtEnd, "\(report.finalConfigurations)")
        #expect(report.leaves > 5, "\(report.leaves) leaves")
        #expect(history.expectedFinalMembers?["g"]?.count == 9)
        // Views show sessions of other sites: some view at daemon 0 (site 1) lists one of site 3's.
        let remote = history.views[0].contains { record in record.view.members.contains { $0.daemon.rawValue >= 7 } }
        #expect(remote)
        let joins = history.views[0].filter { $0.view.reason == .join && $0.view.changed.first!.daemon.rawValue >= 4 }
        #expect(!joins.isEmpty, "daemon 0 saw no join of another site's session")
    }

    /// Daemons restarted and sites cut off while sessions leave and join: the views still agree,
    /// and at the end every running daemon's session is in every daemon's last view.
    @Test func viewsThroughRestartsAndCutOffs() {
        for seed in UInt64(1)...4 {
            let (report, _) = Self.run { config in
                config.seed = seed
                config.sites = 3
                config.daemonsPerSite = 3
                config.duration = 12
                config.quiescence = 4
                config.churn = 0.3
                config.restarts = 2
                config.plannedCutoffs = [(sites: [2], at: 3, seconds: 2.5)]
            }
            #expect(report.passed, "seed \(seed): \(report.violations)")
            #expect(report.mergedAtEnd, "seed \(seed): \(report.finalConfigurations)")
            #expect(report.restarts == 2)
        }
    }

    /// Seeds of `chorus sim --sites 5 --daemons 4 --randomize --duration 8` beyond the default
    /// sweep's 200 that found bugs in views across sites (a list naming an earlier incarnation's
    /// id, unreliable copies delivered twice, announcements of applied joins only, exchanges that
    /// had not settled at the end): each passes, views included.
    @Test(arguments: [UInt64(266), 416, 565, 663, 680])
    func seedsThatFoundBugs(seed: UInt64) {
        var simulation = WideAreaSimulation(config: .randomFaulty(seed: seed, maxSites: 5, maxDaemonsPerSite: 4, duration: 8))
        let report = simulation.run()
        #expect(report.passed, "seed \(seed): \(report.violations)")
    }

    /// Seed 3093 of `chorus sim --sites 4 --daemons 3 --randomize`: the coordinator site's
    /// representative decided an install and lost the role at once to a daemon restarting (its
    /// router stopped with the install unsent); the new representative, which got the state part
    /// way, could not answer the other sites' repeated proposals with it, so they waited out the
    /// agreement timeout and the run ended unsettled (their own messages never delivered).
    @Test func anInstallLostWithItsRepresentativeIsSentAgain() {
        var simulation = WideAreaSimulation(config: .randomFaulty(seed: 3093, maxSites: 4, maxDaemonsPerSite: 3, duration: 8))
        let report = simulation.run()
        #expect(report.passed, "seed 3093: \(report.violations.prefix(5))")
    }

    /// Seed 10190 of `chorus sim --sites 5 --daemons 4 --randomize`: a daemon crashed with a join
    /// its ring had delivered while a configuration of sites was agreed; the join was numbered
    /// in the next configuration, after its site's first list, which already named the restarted
    /// daemon, so it was applied after the exchange and put the dead incarnation's session back
    /// into every view beside the new one's. Announcements now carry each daemon's first session
    /// number and a join of a session below it is dropped; admitting it again must be caught.
    /// The case is rare (about one seed in a thousand of the sweep) and every change of the
    /// protocol's timing moves seeds off it (10190 after safe ticks, 10958 after leases on daemon
    /// changes, 10637 after stale lists were dropped; 12026 and 12392 meet it now), so every seed found so far runs: each
    /// passes with the rule kept, and the broken rule is caught in at least one. When none meets
    /// it any more, search again and add the seed: `chorus sim --sites 5 --daemons 4 --randomize
    /// --duration 8 --break earlier-incarnations --seeds 400 --seed 12000` (a run that fails only
    /// with the rule broken).
    @Test func aJoinOfACrashedIncarnationIsDroppedAfterItsRestart() {
        let seeds: [UInt64] = [10190, 10958, 10637, 12026, 12392]
        let runs = seeds.flatMap { [($0, false), ($0, true)] }
        let reports = parallelRuns(runs) { seed, broken in
            var config = WideAreaSimulationConfig.randomFaulty(seed: seed, maxSites: 5, maxDaemonsPerSite: 4, duration: 8)
            config.orderOptions.brokenRules.sessionsOfEarlierIncarnations = broken
            var simulation = WideAreaSimulation(config: config)
            return simulation.run()
        }
        var caught: [UInt64] = []
        for ((seed, broken), report) in zip(runs, reports) {
            if broken {
                if !report.passed { caught.append(seed) }
            } else {
                #expect(report.passed, "seed \(seed): \(report.violations.prefix(5))")
            }
        }
        #expect(!caught.isEmpty, "admitting an earlier incarnation's join was caught at none of seeds \(seeds): search again")
    }

    /// Views that ignore other sites' daemon changes keep a crashed representative's session:
    /// the final-members check says so.
    @Test func viewsIgnoringOtherSitesAreCaught() {
        var caught = 0
        for seed in UInt64(1)...3 {
            let (report, _) = Self.run { config in
                config.seed = seed
                config.duration = 8
                config.representativeCrashes = 1
                config.orderOptions.brokenRules.viewsIgnoreOtherSites = true
            }
            if report.violations.contains(where: { $0.contains("last view of group g") }) { caught += 1 }
        }
        #expect(caught > 0)
    }
}
