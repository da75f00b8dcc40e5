import ChorusCore
import ChorusSimulator
import ChorusWire
import Testing

/// Whole daemons in several sites: one order across sites, safe delivery across sites, and the
/// checkers that catch either when broken on purpose.
@Suite struct WideAreaOrderTests {
    static let millisecond: UInt64 = 1_000_000

    static func run(_ configure: (inout WideAreaSimulationConfig) -> Void) -> WideAreaSimulationReport {
        var config = WideAreaSimulationConfig()
        configure(&config)
        var simulation = WideAreaSimulation(config: config)
        let report = simulation.run()
        print(report)
        return report
    }

    @Test func threeSitesThirtyMillisecondsApart() {
        let report = Self.run { config in
            config.seed = 1
        }
        #expect(report.violations.isEmpty)
        #expect(report.delivered > 0)
    }
}
