import ChorusSimulator
import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

/// Pruning across sites (`SiteOrder+Pruning`): a site with no member in a message's groups gets
/// a stand-in (its place in the order, no body). The simulator's `sparseGroup` sends half the
/// messages to a group whose members are at the first site (others join at random); its checks
/// see every message at every daemon in one order, stand-ins included, and fail a run where a
/// daemon withholds a body from its sessions that a daemon moving with it gave to its own.
@Suite struct PruningTests {
    static let millisecond: UInt64 = 1_000_000

    /// Three sites of two daemons 30 ms apart, 100 messages of 1000 bytes a second per daemon.
    static func sparse(seed: UInt64) -> WideAreaSimulationConfig {
        var config = WideAreaSimulationConfig()
        config.seed = seed
        config.sites = 3
        config.daemonsPerSite = 2
        config.impairment = WideAreaImpairment(delay: 30 * millisecond)
        config.rate = 100
        config.payloadSize = 1000
        config.duration = 10
        config.sparseGroup = true
        return config
    }

    static func standIns(_ report: WideAreaSimulationReport) -> Int { report.orderCounters.reduce(0) { $0 + $1.standInsSent } }

    /// Members of the sparse group only at the first site: the two others get stand-ins for its
    /// messages (two in three of its remote copies), the wide area carries a fifth less
    /// (heartbeats and acknowledgements stay), and nothing else changes.
    @Test func sitesWithoutMembersGetStandIns() {
        let reports = parallelRuns([true, false]) { prune in
            var config = Self.sparse(seed: 1)
            config.sparseJoinEvery = .infinity
            config.orderOptions.pruneBodies = prune
            var simulation = WideAreaSimulation(config: config)
            return simulation.run()
        }
        let (pruned, full) = (reports[0], reports[1])
        print(pruned)
        print(full)
        print("hop bytes: \(pruned.hopBytes) pruned, \(full.hopBytes) not")
        #expect(pruned.passed, "\(pruned.violations.prefix(3))")
        #expect(full.passed, "\(full.violations.prefix(3))")
        #expect(Self.standIns(full) == 0)
        // Half the messages go to the sparse group; two in three of its remote copies are stand-ins.
        #expect(Self.standIns(pruned) > pruned.sent / 3, "\(Self.standIns(pruned)) stand-ins for \(pruned.sent) messages")
        #expect(Double(pruned.hopBytes) < 0.85 * Double(full.hopBytes), "\(pruned.hopBytes) against \(full.hopBytes) hop bytes")
        #expect(pruned.orderCounters.reduce(0) { $0 + $1.standInsTaken } > 0)
    }

    /// Sessions of the other sites join the sparse group at random during the traffic: each
    /// first join of a site is numbered past its lease, so a message numbered before the sender
    /// took the join lies before it in the order, and no session misses a body. Numbered without
    /// the lease (the broken rule), the join lands before messages pruned for its site, and the
    /// check catches a daemon withholding bodies its site's sessions should have had.
    @Test func aFirstJoinRacesNoPrunedMessage() {
        let (sound, caught) = Self.soundAndBroken(seeds: [1, 2, 3, 4]) { config, broken in
            config.orderOptions.brokenRules.interestsWithoutLease = broken
        }
        for (seed, report) in sound { #expect(Self.standIns(report) > 0, "seed \(seed): no stand-ins") }
        #expect(caught >= 3, "joins without the lease were caught in \(caught) of 4 runs")
        // Sessions also leave the sparse group: where a site has none left in it, it says so, and
        // the others prune for it again.
        let dropped = sound.reduce(0) { $0 + $1.report.orderCounters.reduce(0) { $0 + $1.interestsDropped } }
        #expect(dropped > 0, "no site dropped its interest in a group")
    }

    /// Runs `sparse` on each seed with a rule kept and broken (`configure`); every sound run must
    /// pass. Returns the sound runs and how many broken ones the withheld-body check caught.
    static func soundAndBroken(
        seeds: [UInt64], _ configure: @escaping @Sendable (inout WideAreaSimulationConfig, Bool) -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> (sound: [(seed: UInt64, report: WideAreaSimulationReport)], caught: Int) {
        let runs = seeds.flatMap { [($0, false), ($0, true)] }
        let reports = parallelRuns(runs) { seed, broken in
            var config = Self.sparse(seed: seed)
            configure(&config, broken)
            var simulation = WideAreaSimulation(config: config)
            return simulation.run()
        }
        var sound: [(seed: UInt64, report: WideAreaSimulationReport)] = []
        var caught = 0
        for ((seed, broken), report) in zip(runs, reports) {
            if broken {
                if report.violations.contains(where: { $0.contains("withheld") }) { caught += 1 }
            } else {
                #expect(report.passed, "seed \(seed): \(report.violations.prefix(3))", sourceLocation: sourceLocation)
                sound.append((seed, report))
            }
        }
        return (sound, caught)
    }

    /// A site that drops its interest in a group at any leave, also while other sessions of it
    /// are still members (the broken rule), makes the others prune what those members need:
    /// caught. Its sessions join and leave the sparse group often here.
    @Test func droppingAnInterestWhileMembersRemainIsCaught() {
        let (_, caught) = Self.soundAndBroken(seeds: [1, 2, 3, 4]) { config, broken in
            config.daemonsPerSite = 3
            config.sparseJoinEvery = 60
            config.orderOptions.brokenRules.dropInterestsWithMembers = broken
        }
        #expect(caught >= 2, "dropped interests with members left were caught in \(caught) of 4 runs")
    }

    /// The randomized faults of `randomizedMultiSiteSweep` (cut-offs, link cuts, crashes and
    /// restarts, loss, skew) with the sparse group: sites depart and merge while messages are
    /// pruned for some of them. Replay a failing seed with `chorus sim --sites 4 --daemons 3
    /// --randomize --sparse-group --duration 8 --seed S`.
    @Test func randomizedSweepWithPruning() {
        let seeds = Array(UInt64(3000)..<3060)
        let reports = parallelRuns(seeds) { seed in
            var config = WideAreaSimulationConfig.randomFaulty(seed: seed, maxSites: 4, maxDaemonsPerSite: 3, duration: 8)
            config.sparseGroup = true
            var simulation = WideAreaSimulation(config: config)
            return simulation.run()
        }
        var failed: [UInt64] = []
        for (seed, report) in zip(seeds, reports) where !report.passed {
            failed.append(seed)
            print(report)
        }
        #expect(failed.isEmpty, "failing seeds: \(failed)")
        #expect(reports.reduce(0) { $0 + Self.standIns($1) } > 1000)
    }

    /// Where a site departs, a member moving on that lacks one of its messages gets it from the
    /// lowest member that took the whole stream, unless it needs the body and that member has
    /// only a stand-in: then from the lowest that took it with its body, if any did. A member
    /// that took it, is not pruned for it, but holds it as a stand-in since an earlier closing
    /// (its proposal lists it) holds no body.
    @Test func aMemberThatNeedsTheBodyGetsItFromOneThatHasIt() {
        var data = WideAreaData(
            origin: SiteID(9), seq: 5, lamport: 50, configuration: SiteConfigurationID(seq: 1, coordinator: SiteID(1)),
            service: .agreed, sender: NodeID(1), payload: ByteBuffer())
        data.pruned = [SiteID(1), SiteID(2)]
        let (s1, s2, s3, s4) = (SiteID(1), SiteID(2), SiteID(3), SiteID(4))
        // s4 needs the body; s1 (first) has a stand-in; s3 took it with its body.
        #expect(SiteOrder.supplier(of: data, to: s4, first: s1, bodies: [s3]) == s3)
        // No holder has the body: the stand-in does (no member moving on gave it to a session).
        #expect(SiteOrder.supplier(of: data, to: s4, first: s1, bodies: []) == s1)
        // s2 needs only a stand-in: the first holder.
        #expect(SiteOrder.supplier(of: data, to: s2, first: s1, bodies: [s3]) == s1)
        // The first holder has the body.
        #expect(SiteOrder.supplier(of: data, to: s4, first: s3, bodies: [s3]) == s3)

        func proposal(_ site: SiteID, received: UInt64, standIns: [UInt64] = []) -> SiteProposal {
            var proposal = SiteProposal(
                origin: site, attempt: 1, configuration: data.configuration, cutSeq: 0, clock: 1, sites: [s1, s2, s3, s4],
                received: [.init(site: site, received: 0), .init(site: SiteID(9), received: received)].sorted { $0.site < $1.site })
            if !standIns.isEmpty { proposal.standIns = [SiteSeqs(site: SiteID(9), seqs: standIns)] }
            return proposal
        }
        let install = SiteInstall(
            id: SiteConfigurationID(seq: 2, coordinator: s1),
            proposals: [proposal(s1, received: 7), proposal(s2, received: 5), proposal(s3, received: 6, standIns: [5]), proposal(s4, received: 4)])
        // s3 took it but holds it as a stand-in; s4 lacks it; s1 and s2 are pruned: no body anywhere.
        #expect(SiteOrder.bodyHolders(of: data, among: [s1, s2, s3, s4], install: install).isEmpty)
        let withBody = SiteInstall(id: install.id, proposals: [proposal(s1, received: 7), proposal(s2, received: 5), proposal(s3, received: 6), proposal(s4, received: 4)])
        #expect(SiteOrder.bodyHolders(of: data, among: [s1, s2, s3, s4], install: withBody) == [s3])
    }
}

extension PruningTests {
    /// A session joins 40 groups new to its site at once: each first join takes the site's lease
    /// (the clocks run up to a lease ahead each), but only `maxInterestLeases` of them per
    /// configuration; the next makes the site interested in every group, so the clocks run at
    /// most about 9 leases ahead (2.25 s) and real time has caught up by the end of the run,
    /// where 40 leases (10 s) would still show; nothing breaks.
    @Test func aBurstOfFirstJoinsRunsTheClocksAheadOnlySoFar() throws {
        var config = Self.sparse(seed: 7)
        config.burstJoins = 40
        var simulation = WideAreaSimulation(config: config)
        let report = simulation.run()
        #expect(report.passed, "\(report.violations.prefix(3))")
        let lease = config.orderOptions.daemonChangeLease
        // About 9 leases (2.25 s) ahead right after the burst, a second into the traffic; by the
        // end, 8 s later, real time has caught up.
        let bound = 2 * lease
        let end = UInt64(config.duration * 1e9)
        for (daemon, engine) in simulation.engines.enumerated() {
            let clock = try #require(engine.order?.clock)
            #expect(clock <= end + bound, "daemon \(daemon): clock \(clock) is \((Double(clock) - Double(end)) / 1e9) s ahead at the end")
            #expect(engine.order?.interestedInAll.contains(SiteID(3)) == true, "daemon \(daemon): the last site not interested in every group")
        }
        // Without the cap every one of the 40 leases runs the clocks ahead: 10 s after the burst,
        // still more than 2 s at the end.
        config.orderOptions.maxInterestLeases = 100
        var uncapped = WideAreaSimulation(config: config)
        _ = uncapped.run()
        let ahead = (uncapped.engines.compactMap { $0.order?.clock }.max() ?? 0) - min(end, uncapped.engines.compactMap { $0.order?.clock }.max() ?? 0)
        #expect(ahead > 1_500_000_000, "uncapped, the clocks end only \(Double(ahead) / 1e9) s ahead")
    }
}
