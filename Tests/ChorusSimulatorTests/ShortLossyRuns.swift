import ChorusSimulator
import ChorusVerify
import Testing

/// Short lossy runs of four daemons, for the tests that keep a promise and then break it on
/// purpose: the same traffic must pass with the engine as it is and fail with a test switch on.
enum ShortLossyRuns {
    static let seeds: ClosedRange<UInt64> = 1...3

    /// Four daemons, 4 virtual seconds (the last 2 fault-free), 5% loss.
    static func config(seed: UInt64, _ customize: (inout SimulationConfig) -> Void) -> SimulationConfig {
        var config = SimulationConfig()
        config.seed = seed
        config.daemons = 4
        config.duration = 4
        config.quiescence = 2
        config.loss = 0.05
        customize(&config)
        return config
    }

    /// Every run passes every checker.
    static func expectClean(
        _ customize: (inout SimulationConfig) -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for seed in seeds {
            var simulation = Simulation(config: config(seed: seed, customize))
            let report = simulation.run()
            #expect(
                report.passed, "seed \(seed): \(report.summary)\n\(report.violations.prefix(5).map(\.description))",
                sourceLocation: sourceLocation)
        }
    }

    /// How many runs report a violation of `rule`.
    static func count(violating rule: Rule, _ customize: (inout SimulationConfig) -> Void) -> Int {
        seeds.filter { seed in
            var simulation = Simulation(config: config(seed: seed, customize))
            return simulation.run().violations.contains { $0.rule == rule }
        }.count
    }

    /// The runs with `traffic` pass every checker, and with `broken` applied on top at least one
    /// reports `rule`: the promise is kept, and its checker can see it broken.
    static func expectCaught(
        _ rule: Rule, _ what: String, traffic: (inout SimulationConfig) -> Void,
        broken: (inout SimulationConfig) -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        expectClean(traffic, sourceLocation: sourceLocation)
        let caught = count(violating: rule) { config in
            traffic(&config)
            broken(&config)
        }
        print("\(what): \(rule) caught \(caught) of \(seeds.count) runs")
        #expect(caught > 0, "no run was caught by \(rule) with \(what)", sourceLocation: sourceLocation)
    }
}
