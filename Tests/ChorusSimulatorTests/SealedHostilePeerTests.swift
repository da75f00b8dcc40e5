import ChorusSimulator
import ChorusVerify
import Testing

/// The hostile peer against a site whose datagrams are sealed (`SimulationConfig.sealed`, as
/// `chorusd` with a key file): an outsider or an impersonator, without the key, gets nothing past
/// the seal but replays of datagrams a daemon had not received (the network lost them: they are
/// the real thing), so every promise holds even under the in-ring forgeries that only
/// authentication can stop (compare `HostilePeerTests.inRing`).
@Suite struct SealedHostilePeerTests {
    typealias Role = HostileConfig.Role
    typealias Attack = HostileConfig.Attack

    static func config(seed: UInt64, _ role: Role, sealed: Bool = true) -> SimulationConfig {
        var config = HostilePeerTests.config(seed: seed, role, Attack.allCases, loss: 0.02)
        config.sealed = sealed
        return config
    }

    @Test(arguments: [Role.outsider, .impersonator])
    func withoutTheKeyEveryAttackIsRefusedAndEveryPromiseHolds(role: Role) {
        for seed in UInt64(1)...3 {
            let report = HostilePeerTests.run(Self.config(seed: seed, role))
            let what = "\(role) seed \(seed): \(HostilePeerTests.describe(report))"
            #expect(report.passed, "\(what)")
            let injected = report.hostile.injected.reduce(0, +)
            let replays = report.hostile.injected(.replay)
            #expect(injected > 100 && replays > 0, "\(what)")
            // Every forged, boundary and mutated packet was refused by the seal (a bad tag, a
            // stranger, or a counter its claimed sender had used); what got through were replays
            // of real datagrams the daemon had not taken yet (a replayed token is then a
            // retransmission, which is why tokens "taken" need not be zero).
            for attack in [Attack.boundary, .mutate, .forge] {
                let index = Attack.allCases.firstIndex(of: attack)!
                #expect(report.hostile.injected[index] > 0 && report.hostile.passedSeal[index] == 0, "\(attack): \(what)")
            }
            #expect(report.hostile.sealRejected + report.hostile.actedOn + report.hostile.ignored == injected, "\(what)")
            let forged = (report.sealRejected["badTag"] ?? 0) + (report.sealRejected["notMember"] ?? 0)
            #expect(forged > 0 && report.sealRejected["replay", default: 0] > 0, "\(what)")
        }
    }

    /// The seal is what stops them: the same impersonator without it gets its forgeries taken.
    @Test func withoutTheSealTheSameForgeriesGetIn() {
        var config = Self.config(seed: 1, .impersonator, sealed: false)
        config.hostile = HostileConfig(role: .impersonator, attacks: [.forge])
        let report = HostilePeerTests.run(config)
        #expect(report.hostile.actedOn > 0 && report.hostile.sealRejected == 0, "\(HostilePeerTests.describe(report))")
    }

    /// A configured daemon holds the key: the seal cannot tell its packets from honest ones, and
    /// the engine's own defences stand as without keys (`HostilePeerTests`).
    @Test func anInsiderWithTheKeyMeetsTheEnginesOwnDefences() {
        for seed in UInt64(1)...2 {
            var config = Self.config(seed: seed, .configured)
            config.hostile = HostileConfig(role: .configured, attacks: [.boundary, .mutate])
            let report = HostilePeerTests.run(config)
            HostilePeerTests.expectPromisesKept(report, "configured seed \(seed)")
            #expect(report.hostile.actedOn + report.hostile.ignored > 0)
        }
    }

    /// Faults of every kind with sealed datagrams and restarts (new incarnations): no promise is
    /// broken, and nothing honest is refused as a replay.
    @Test func sealedRingsKeepEveryPromiseUnderFaults() {
        for seed in UInt64(1)...6 {
            var config = SimulationConfig()
            config.seed = seed
            config.daemons = 5
            config.duration = 8
            config.quiescence = 4
            config.loss = 0.05
            config.duplicate = 0.02
            config.reorder = 0.05
            config.crashes = 0.4
            config.partitions = 0.4
            config.pauses = 0.3
            config.sealed = true
            var simulation = Simulation(config: config)
            let report = simulation.run()
            #expect(report.passed, "seed \(seed): \(HostilePeerTests.describe(report))")
            // Duplicates are refused as replays by the seal now; nothing else is refused.
            #expect(Set(report.sealRejected.keys).isSubset(of: ["replay"]), "seed \(seed): \(report.sealRejected)")
        }
    }
}
