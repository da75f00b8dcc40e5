import ChorusSimulator
import ChorusVerify
import Testing

@testable import ChorusCore

/// The safe checker catches an engine that breaks the safe promise on purpose.
@Suite struct SafeDeliverySwitchTests {
    /// Safe messages, many of them fragmented, delivered without waiting for stability: the
    /// safe checker (whose ground truth follows fragments) must report it.
    @Test func ignoringStabilityIsCaught() {
        var caught = 0
        for seed: UInt64 in 1...3 {
            var config = SimulationConfig()
            config.seed = seed
            config.daemons = 4
            config.duration = 4
            config.quiescence = 2
            config.loss = 0.05
            config.partitions = 0.3
            config.serviceMix = [0, 0, 0, 0, 1, 3]
            config.largeShare = 0.2
            config.ringOptions.ignoresStability = true
            var simulation = Simulation(config: config)
            if simulation.run().violations.contains(where: { $0.rule == .safeDelivery }) { caught += 1 }
        }
        print("stability ignored: \(caught) of 3 runs broke the safe promise")
        #expect(caught > 0, "no run broke the safe promise with stability ignored")
    }
}
