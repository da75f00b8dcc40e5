import ChorusSimulator
import ChorusVerify
import Testing

@Suite struct ReplayTests {
    /// The same seed replays the same run exactly: same deliveries, same configurations, same faults.
    @Test func sameSeedSameRun() {
        var config = SimulationConfig.randomFaulty(seed: 42, maxDaemons: 8, duration: 6)
        config.crashes = 0
        config.partitions = 0.3
        var first = Simulation(config: config)
        let a = first.run()
        var second = Simulation(config: config)
        let b = second.run()
        #expect(a.delivered == b.delivered)
        #expect(a.submitted == b.submitted)
        #expect(a.configurationsInstalled == b.configurationsInstalled)
        #expect(a.retransmissions == b.retransmissions)
        #expect(a.trace == b.trace)
        #expect(a.passed)
    }

    /// A different seed gives a different run (the seed really drives the randomness).
    @Test func differentSeedDifferentRun() {
        var one = Simulation(config: SimulationConfig.randomFaulty(seed: 1, maxDaemons: 8, duration: 4))
        var two = Simulation(config: SimulationConfig.randomFaulty(seed: 2, maxDaemons: 8, duration: 4))
        #expect(one.run().trace != two.run().trace)
    }
}
