import ChorusSimulator
import ChorusVerify
import Testing

/// The simulator's hostile peer (docs/hostile-peers.md) against four honest daemons.
///
/// Two kinds of claim. Where the engine can tell hostile packets from honest ones (outsiders and
/// a rogue configured daemon sending boundary values, replays and mutations; replays in any
/// name), the honest daemons keep every promise among themselves: the full checkers, liveness
/// included, in every run where no daemon took a hostile token. Tokens name no sender, so a
/// boundary or mutated token that happens to carry exactly the next token seq and plausible
/// fields is an in-ring forgery whoever sends it; such a run (the report counts them) is held to
/// recovery only. In-ring forgeries (a forged next token, data at the next seqs under a member's
/// name, plausible commit entries, joins and leaves in a member's name) cannot be told from the
/// real thing without authentication (issue 11): for those the tests assert only that the site
/// recovers by itself once the hostile peer stops (the liveness rule), not that promises hold
/// during the attack.
@Suite struct HostilePeerTests {
    typealias Role = HostileConfig.Role
    typealias Attack = HostileConfig.Attack

    static let seeds: ClosedRange<UInt64> = 1...3

    /// Attacks the engine must withstand with every promise kept.
    static let withstood: [(Role, Attack)] = [
        (.outsider, .boundary), (.outsider, .replay), (.outsider, .mutate),
        (.configured, .boundary), (.configured, .replay), (.configured, .mutate),
        (.impersonator, .replay),
    ]
    /// In-ring forgeries: only authentication can stop them; the site must recover afterwards.
    static let inRing: [(Role, Attack)] = [
        (.outsider, .forge), (.configured, .forge), (.impersonator, .boundary), (.impersonator, .mutate),
        (.impersonator, .forge),
    ]

    /// Four daemons, 6 virtual seconds; the hostile peer from 0.5 s until quiescence at 3 s.
    static func config(seed: UInt64, _ role: Role, _ attacks: [Attack], loss: Double = 0) -> SimulationConfig {
        var config = SimulationConfig()
        config.seed = seed
        config.daemons = 4
        config.duration = 6
        config.quiescence = 3
        config.loss = loss
        config.hostile = HostileConfig(role: role, attacks: attacks)
        return config
    }

    static func run(_ config: SimulationConfig) -> SimulationReport {
        var simulation = Simulation(config: config)
        return simulation.run()
    }

    static func describe(_ report: SimulationReport) -> String {
        "\(report.summary)\n\(report.violations.prefix(5).map(\.description).joined(separator: "\n"))\n"
            + report.trace.suffix(10).joined(separator: "\n")
    }

    /// Every promise, unless a hostile token was taken (then recovery, as for in-ring forgeries).
    static func expectPromisesKept(_ report: SimulationReport, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if report.hostile.tokensTaken == 0 {
            #expect(report.passed, "\(what): \(describe(report))", sourceLocation: sourceLocation)
        } else {
            expectRecovered(report, what, sourceLocation: sourceLocation)
        }
    }

    /// The site is whole and delivering once the hostile peer stopped.
    static func expectRecovered(_ report: SimulationReport, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(report.aborted == nil, "\(what): \(describe(report))", sourceLocation: sourceLocation)
        let liveness = report.violations.filter { $0.rule == .liveness }
        #expect(liveness.isEmpty, "\(what): \(liveness.prefix(5))", sourceLocation: sourceLocation)
    }

    @Test(arguments: withstood)
    func honestDaemonsKeepTheirPromises(role: Role, attack: Attack) {
        for seed in Self.seeds {
            Self.expectPromisesKept(Self.run(Self.config(seed: seed, role, [attack])), "\(role) \(attack) seed \(seed)")
        }
    }

    @Test(arguments: withstood)
    func honestDaemonsKeepTheirPromisesUnderLoss(role: Role, attack: Attack) {
        for seed in Self.seeds {
            let report = Self.run(Self.config(seed: seed, role, [attack], loss: 0.05))
            Self.expectPromisesKept(report, "\(role) \(attack) seed \(seed), 5% loss")
        }
    }

    /// Promises may break during these attacks (see the suite's comment); the site must be one
    /// configuration of every honest daemon again, delivering, once the hostile peer stops.
    @Test(arguments: inRing)
    func theSiteRecoversFromInRingForgeries(role: Role, attack: Attack) {
        for seed in Self.seeds {
            for loss in [0, 0.05] {
                let report = Self.run(Self.config(seed: seed, role, [attack], loss: loss))
                Self.expectRecovered(report, "\(role) \(attack) seed \(seed) loss \(loss)")
            }
        }
    }

    /// Every attack of every role reached the honest daemons, some packets were acted on and some
    /// ignored: the suite above cannot pass because nothing was sent.
    @Test(arguments: Role.allCases)
    func theHostilePeerActuallyAttacks(role: Role) {
        let report = Self.run(Self.config(seed: 1, role, Attack.allCases))
        print("\(role): \(report.hostile.description)")
        for attack in Attack.allCases {
            #expect(report.hostile.injected(attack) > 100, "\(role) \(attack): \(report.hostile.description)")
        }
        #expect(report.hostile.actedOn > 0 && report.hostile.ignored > 0, "\(role): \(report.hostile.description)")
        #expect(report.summary.contains("hostile: injected"))
    }

    /// The same seed replays the same hostile run.
    @Test func hostileRunsReplayFromTheirSeed() {
        let first = Self.run(Self.config(seed: 2, .impersonator, Attack.allCases))
        let second = Self.run(Self.config(seed: 2, .impersonator, Attack.allCases))
        #expect(first.hostile == second.hostile)
        #expect(first.violations == second.violations)
        #expect(first.packetsSent == second.packetsSent)
    }
}

/// Hostile runs that once failed, kept by name.
extension HostilePeerTests {
    /// Boundary tokens from an outsider (tokens name no sender) with token seqs and seqs near
    /// 2^64 were taken by the holder: the ring's seq jumped past every log window and the
    /// packets sent after it were lost. Tokens now need exactly the next token seq and plausible
    /// fields (`Ring.isPlausibleToken`).
    @Test func boundaryTokensDoNotLoseMessages() {
        for seed in Self.seeds {
            let report = Self.run(Self.config(seed: seed, .outsider, [.boundary, .mutate]))
            Self.expectPromisesKept(report, "seed \(seed)")
        }
    }

    /// Seed 20, three daemons, configured, boundary, with faults: a taken boundary token set the
    /// seq of a ring in recovery one above anything sent; nobody held that seq, fail-to-receive
    /// runs only on installed rings, and the two honest daemons passed the token with the same
    /// request for good, never installing. A recovery with no progress for 20 visits re-forms.
    @Test func aSeqNobodyHoldsDoesNotStallRecoveryForGood() {
        var config = Self.config(seed: 20, .configured, [.boundary], loss: 0.05)
        config.daemons = 3
        config.partitions = 0.3
        config.crashes = 0.2
        config.pauses = 0.1
        config.duplicate = 0.02
        config.reorder = 0.02
        Self.expectRecovered(Self.run(config), "seed 20 with faults")
    }

    /// Three daemons, configured, boundary: a boundary token with exactly the next token seq and
    /// plausible fields is taken (it names no sender: an in-ring forgery; seed 32 found it, and a
    /// safe message was lost there); the run is counted as such and the site recovers. Which seed
    /// meets such a token moves with every change to the ring's trajectories (seeds 32, 3 and 24
    /// did in turn), so the test takes the first seed that does.
    @Test func aTakenBoundaryTokenIsCountedAndTheSiteRecovers() {
        for seed in UInt64(1)...400 {
            var config = Self.config(seed: seed, .configured, [.boundary])
            config.daemons = 3
            let report = Self.run(config)
            guard report.hostile.tokensTaken > 0 else { continue }
            Self.expectRecovered(report, "seed \(seed)")
            return
        }
        Issue.record("no seed in 1...400 had an honest daemon take a boundary token")
    }

    /// Seed 2, impersonator, boundary: forged joins 2^48 ahead moved three daemons' ring seqs
    /// and not the fourth's (its allowance was spent); refused outright, the fourth stayed a
    /// singleton after the attack for good. A far-ahead ring seq now steps the daemon up by what
    /// its allowance has left, and the allowance refills with time.
    @Test func forgedJoinsDoNotSplitTheSiteForGood() {
        let report = Self.run(Self.config(seed: 2, .impersonator, [.boundary]))
        #expect(report.violations.filter { $0.rule == .liveness }.isEmpty, "\(Self.describe(report))")
    }

    /// Seed 1, impersonator, boundary: a representative waiting for its own commit token took a
    /// forged first rotation of another ring naming it first as its own come back, and installed
    /// it with forged entries and an empty transitional configuration.
    @Test func forgedCommitOfAnotherRingIsNotTakenAsComeBack() {
        let report = Self.run(Self.config(seed: 1, .impersonator, [.boundary]))
        #expect(!report.violations.contains { $0.rule == .configurationConsistency }, "\(Self.describe(report))")
        #expect(report.violations.filter { $0.rule == .liveness }.isEmpty, "\(Self.describe(report))")
    }
}
