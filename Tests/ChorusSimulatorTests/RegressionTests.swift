import ChorusSimulator
import ChorusVerify
import ChorusWire
import Testing

/// Runs that once failed, kept as named regression tests.
@Suite struct RegressionTests {
    func expectClean(_ config: SimulationConfig, _ name: String) {
        var simulation = Simulation(config: config)
        let report = simulation.run()
        #expect(report.passed, "\(name): \(report.summary)\n\(report.violations.prefix(5).map(\.description))")
    }

    /// Seed 8 (randomized, 16 max, 7 s): a daemon cut off one way kept re-forming singleton rings
    /// at the same instant, because joins from daemons that had failed it triggered new gathers.
    @Test func oneWayExclusionDoesNotLivelock() {
        var config = SimulationConfig.randomFaulty(seed: 8, maxDaemons: 8, duration: 7)
        config.quiescence = 1
        expectClean(config, "seed 8")
    }

    /// Duplicated unreliable packets (unsequenced) were delivered twice.
    @Test func duplicatedUnreliablePacketsDeliverOnce() {
        var config = SimulationConfig()
        config.seed = 7
        config.duration = 8
        config.duplicate = 0.05
        expectClean(config, "duplicates")
    }

    /// With 8 daemons a fifo or reliable packet was delivered by the cursor and then again by the
    /// early-delivery path for the holder's own new packets.
    @Test func ownPacketsDeliverOnce() {
        var config = SimulationConfig()
        config.seed = 1
        config.daemons = 8
        config.duration = 5
        expectClean(config, "own packets")
    }
}

extension RegressionTests {
    /// Seed 77 (randomized, 16 max, 8 s): the ring broke while a large message was half sent; its
    /// remaining fragments went out on the next ring, where they could not be reassembled, and
    /// the message was lost (its sender never delivered it).
    @Test func halfSentLargeMessageIsResentOnTheNextRing() {
        expectClean(SimulationConfig.randomFaulty(seed: 77, maxDaemons: 16, duration: 8), "seed 77")
    }
}

extension RegressionTests {
    /// 16 MiB messages under loss and partitions: delivered whole and checked. Reassembly once
    /// copied the growing buffer on every fragment (quadratic: minutes for this run, now ~1 s).
    @Test func sixteenMebibyteMessagesUnderFaults() {
        var config = SimulationConfig()
        config.seed = 5
        config.daemons = 4
        config.duration = 10
        config.messageRate = 2
        config.largeMaxSize = 16 << 20
        config.largeShare = 0.3
        config.serviceMix = [0, 1, 1, 1, 1, 0]
        config.loss = 0.01
        config.partitions = 0.2
        var simulation = Simulation(config: config)
        let report = simulation.run()
        #expect(report.passed, "\(report.summary)\n\(report.violations.prefix(5).map(\.description))")
        #expect(report.refusedSends == 0)
        // The run is deterministic: 218 deliveries since the install waits a visit after the
        // recovery target (247 before, 274 before retransmissions were requested a visit later).
        // Each change sends the run down another random path with other traffic (seeds 5-28 of
        // this setup land on both sides); the floor catches a collapse, not such a trade.
        #expect(report.delivered.reduce(0, +) >= 200)
    }
}

extension RegressionTests {
    /// Safe messages of many fragments under loss, partitions and crashes. They were once kept
    /// within one packet, because the safe checker's ground truth only read whole packets.
    @Test func fragmentedSafeMessagesUnderFaults() {
        var config = SimulationConfig()
        config.seed = 3
        config.daemons = 5
        config.duration = 10
        config.loss = 0.05
        config.partitions = 0.2
        config.crashes = 0.1
        config.serviceMix = [0, 0, 0, 0, 1, 3]
        config.largeShare = 0.2
        config.duplicate = 0.02
        config.reorder = 0.05
        var simulation = Simulation(config: config)
        let report = simulation.run()
        #expect(report.passed, "fragmented safe: \(report.summary)\n\(report.violations.prefix(5).map(\.description))")
        // About a fifth of the safe messages are large (fragmented); make sure they got through.
        #expect(report.delivered[Int(Service.safe.rawValue)] > 1000, "\(report.summary)")
    }
}


extension RegressionTests {
    /// `chorus sim --daemons 5 --duration 14 --quiescence 4 --loss 0.1 --reorder 0.05
    /// --mix 0,0,0,0,1,3 --rate 300` with `--partitions 10` (seeds 38, 130) or
    /// `--partitions 4 --pauses 6` (seed 40103). Two survivors of a ring finished recovery; one
    /// installed and delivered its post-gap safe messages in the transitional configuration of
    /// both, the token was lost before the other installed, and that one later ended the old ring
    /// with another survivor set and skipped them, though it held them. It now keeps the recovery's
    /// post-gap senders as a commitment (`Commitment`) for its next install of the same old ring.
    @Test(arguments: [(UInt64(38), 10.0, 0.0), (130, 10, 0), (40103, 4, 6)])
    func unfinishedRecoveryStillDeliversWhatItsTransitionalDelivered(seed: UInt64, partitions: Double, pauses: Double) {
        var config = SimulationConfig()
        config.seed = seed
        config.daemons = 5
        config.duration = 14
        config.quiescence = 4
        config.loss = 0.1
        config.reorder = 0.05
        config.partitions = partitions
        config.pauses = pauses
        config.serviceMix = [0, 0, 0, 0, 1, 3]
        config.messageRate = 300
        expectClean(config, "seed \(seed)")
    }

    /// Seed 1147 (randomized, 8 max, causal- and safe-heavy): a group left without members at a
    /// daemon got no view there across configuration changes, so its next join view reported
    /// what it added against a view of long ago (an empty `added` for a joiner already in it).
    @Test func viewDifferencesStartAfreshAfterAConfigurationWithoutAView() {
        var config = SimulationConfig.randomFaulty(seed: 1147, maxDaemons: 8, duration: 10)
        config.serviceMix = [0, 0, 0, 3, 1, 3]
        config.quiescence = 6
        expectClean(config, "seed 1147")
    }

    /// Seed 262 of the default sweep, once the representative held the token after a single idle
    /// rotation: a token held and then released in the same visit counted twice for stability,
    /// so one rotation whose aru had overshot a member (d3 lacked packets the aru claimed) looked
    /// like two, survivors discarded those packets as stable, and d3 never delivered them.
    @Test func aTokenHeldAndReleasedCountsOnceForStability() {
        expectClean(SimulationConfig.randomFaulty(seed: 262, maxDaemons: 16, duration: 8), "seed 262")
    }
}
