import ChorusSimulator
import ChorusVerify
import Testing

@testable import ChorusCore

/// Causal messages go out ahead of the total order, each once its causal past is delivered.
/// Breaking that rule on purpose (the ring's test switch) must make the causal checker fail.
@Suite struct CausalDeliveryTests {
    /// Lossy causal-heavy traffic among four daemons: losses outside a message's past are skipped.
    static func config(seed: UInt64) -> SimulationConfig {
        var config = SimulationConfig()
        config.seed = seed
        config.daemons = 4
        config.duration = 4
        config.quiescence = 2
        config.loss = 0.05
        config.reorder = 0.05
        config.messageRate = 200
        config.serviceMix = [0, 0, 0, 6, 1, 0]
        return config
    }

    @Test func earlyCausalDeliveryKeepsEveryPromise() {
        for seed: UInt64 in 1...3 {
            var simulation = Simulation(config: Self.config(seed: seed))
            let report = simulation.run()
            #expect(report.passed, "seed \(seed): \(report.summary)\n\(report.violations.prefix(5).map(\.description))")
        }
    }

    @Test func ignoringTheCausalPastIsCaught() {
        var caught = 0
        for seed: UInt64 in 1...3 {
            var config = Self.config(seed: seed)
            config.ringOptions.ignoresCausalPast = true
            var simulation = Simulation(config: config)
            let report = simulation.run()
            if report.violations.contains(where: { $0.rule == .causal }) { caught += 1 }
        }
        print("causal past ignored: \(caught) of 3 runs broke causal order")
        #expect(caught > 0, "no run broke causal order with the causal past ignored")
    }

    /// Causal traffic with many joins and leaves: every causal message must sit on the same side
    /// of every view at every daemon. Without the barriers it does not.
    @Test func causalMessagesKeepTheirPlaceAmongViews() {
        var brokenRuns = 0
        for seed: UInt64 in 1...3 {
            var config = Self.config(seed: seed)
            config.churn = 0.3
            config.loss = 0.1
            config.sessionsPerDaemon = 4
            var simulation = Simulation(config: config)
            let report = simulation.run()
            #expect(report.passed, "seed \(seed): \(report.summary)\n\(report.violations.prefix(5).map(\.description))")
            config.ringOptions.ignoresBarriers = true
            var broken = Simulation(config: config)
            if broken.run().violations.contains(where: { $0.rule == .views }) { brokenRuns += 1 }
        }
        print("barriers ignored: \(brokenRuns) of 3 runs misplaced causal messages among views")
        #expect(brokenRuns > 0, "no run misplaced a causal message among views with the barriers ignored")
    }
}
