import ChorusSimulator
import ChorusVerify
import Foundation
import Testing

/// The default test run's randomized sweep: many faulty runs across 2 to 16 daemons. Every run
/// prints its seed on failure; `chorus sim --seed S --randomize --daemons 16 --duration 8` replays it.
@Suite struct SeedSweepTests {
    static let firstSeed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["CHORUS_SWEEP_SEED"], let seed = UInt64(text) { return seed }
        return 1
    }()
    static let runs: Int = {
        if let text = ProcessInfo.processInfo.environment["CHORUS_SWEEP_RUNS"], let runs = Int(text) { return runs }
        return 520
    }()

    /// Split in slices (each prints what its runs exercised); the runs of a slice share the cores.
    @Test(arguments: 0..<8)
    func randomizedFaultyRuns(slice: Int) {
        let perSlice = (Self.runs + 7) / 8
        let seeds = ((slice * perSlice)..<min(Self.runs, (slice + 1) * perSlice)).map { Self.firstSeed + UInt64($0) }
        let reports = parallelRuns(seeds) { seed in
            var simulation = Simulation(config: SimulationConfig.randomFaulty(seed: seed, maxDaemons: 16, duration: 8))
            return simulation.run()
        }
        var exercise = RuleExercise()
        for (seed, report) in zip(seeds, reports) {
            exercise.add(report.exercise)
            #expect(
                report.passed,
                "seed \(seed) failed (replay: chorus sim --seed \(seed) --randomize --daemons 16 --duration 8):\n\(report.summary)\n\(report.violations.prefix(5).map(\.description).joined(separator: "\n"))\n\(report.trace.suffix(15).joined(separator: "\n"))"
            )
        }
        print("sweep slice \(slice): rules exercised: \(exercise.description)")
        // Every rule must have had something to check, or its promise went untested.
        #expect(Self.runs < 40 || exercise.idle.isEmpty, "rules that examined nothing in slice \(slice): \(exercise.idle)")
    }
}
