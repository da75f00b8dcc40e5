import ChorusSimulator
import ChorusVerify
import Testing

/// Shapes the randomized sweep rarely draws: five to eight daemons, partitions and pauses many
/// times a second, and traffic heavy in safe or causal messages (the shape that found the safe
/// delivery and view placement bugs of issue 8). Each run prints its replay command on failure.
@Suite struct HarshShapeSweepTests {
    struct Shape: Sendable, CustomStringConvertible {
        var name: String
        var daemons: Int
        var duration: Double
        var quiescence: Double
        var loss: Double
        var partitions: Double
        var pauses: Double
        var mix: [Double]
        var rate: Double
        var description: String { name }

        var replay: String {
            "chorus sim --daemons \(daemons) --duration \(duration) --quiescence \(quiescence) --loss \(loss) --reorder 0.05 "
                + "--partitions \(partitions) --pauses \(pauses) --mix \(mix.map { "\(Int($0))" }.joined(separator: ",")) --rate \(rate)"
        }

        func config(seed: UInt64) -> SimulationConfig {
            var config = SimulationConfig()
            config.seed = seed
            config.daemons = daemons
            config.duration = duration
            config.quiescence = quiescence
            config.loss = loss
            config.reorder = 0.05
            config.partitions = partitions
            config.pauses = pauses
            config.serviceMix = mix
            config.messageRate = rate
            return config
        }
    }

    static let shapes = [
        Shape(name: "safe-heavy, partitions", daemons: 5, duration: 14, quiescence: 4, loss: 0.1, partitions: 10, pauses: 0,
              mix: [0, 0, 0, 0, 1, 3], rate: 300),
        Shape(name: "causal-heavy, partitions and pauses", daemons: 8, duration: 12, quiescence: 6, loss: 0.05, partitions: 4,
              pauses: 4, mix: [0, 0, 1, 4, 1, 2], rate: 200),
    ]

    @Test(arguments: shapes, 0..<2)
    func harshShapes(shape: Shape, half: Int) {
        var exercise = RuleExercise()
        let seeds = Array(stride(from: UInt64(1 + half), through: 16, by: 2))
        let reports = parallelRuns(seeds) { seed in
            var simulation = Simulation(config: shape.config(seed: seed))
            return simulation.run()
        }
        for (seed, report) in zip(seeds, reports) {
            exercise.add(report.exercise)
            #expect(
                report.passed,
                "\(shape) seed \(seed) failed (replay: \(shape.replay) --seed \(seed)):\n\(report.summary)\n\(report.violations.prefix(5).map(\.description).joined(separator: "\n"))"
            )
        }
        print("\(shape), half \(half): rules exercised: \(exercise.description)")
    }
}
