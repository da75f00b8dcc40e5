import ChorusSimulator
import ChorusVerify
import Foundation
import Testing

/// The wider hostile sweep docs/hostile-peers.md reports: seeds 1-40 × 3 and 5 daemons × every
/// role and attack pair × without and with faults, 1,920 runs (about 2 minutes in release).
/// Off by default; run it with `CHORUS_HOSTILE_SWEEP=1 swift test --filter HostileSweep`.
/// It prints every failing run: a promise-keeping pair with no hostile token taken that broke
/// any rule, or any run that failed liveness.
@Suite struct HostileSweepTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CHORUS_HOSTILE_SWEEP"] != nil))
    func sweep() {
        var failures: [String] = []
        var runs = 0
        for seed in UInt64(1)...40 {
            for daemons in [3, 5] {
                for (role, attack) in HostilePeerTests.withstood + HostilePeerTests.inRing {
                    for faults in [false, true] {
                        var config = HostilePeerTests.config(seed: seed, role, [attack], loss: faults ? 0.05 : 0)
                        config.daemons = daemons
                        if faults {
                            config.partitions = 0.3
                            config.crashes = 0.2
                            config.pauses = 0.1
                            config.duplicate = 0.02
                            config.reorder = 0.02
                        }
                        let report = HostilePeerTests.run(config)
                        runs += 1
                        let strict = HostilePeerTests.withstood.contains { $0 == (role, attack) } && report.hostile.tokensTaken == 0
                        let broken = strict ? report.violations : report.violations.filter { $0.rule == .liveness }
                        if !broken.isEmpty || report.aborted != nil {
                            failures.append(
                                "\(role) \(attack) seed \(seed) daemons \(daemons) faults \(faults) tokens taken "
                                    + "\(report.hostile.tokensTaken): \(Set(broken.map(\.rule))) \(broken.first.map(\.description) ?? report.aborted ?? "")")
                        }
                    }
                }
            }
        }
        print("hostile sweep: \(runs) runs, \(failures.count) failed")
        for failure in failures { print("  \(failure)") }
    }
}
