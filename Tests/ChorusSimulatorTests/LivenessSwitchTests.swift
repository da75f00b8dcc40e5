import ChorusSimulator
import ChorusVerify
import Testing

@testable import ChorusCore

/// The liveness rule catches an engine that does not heal: once the faults end, the site must be
/// one configuration again and every message must flow.
@Suite struct LivenessSwitchTests {
    /// Partitions for 3 s, then 5 quiet seconds: the rule checks the configuration at 3 s after
    /// the faults and the messages of the 1 s after that.
    static func partitionedThenQuiet(_ config: inout SimulationConfig) {
        config.partitions = 1
        config.duration = 8
        config.quiescence = 5
    }

    @Test func ringsThatNeverMergeAreCaught() {
        ShortLossyRuns.expectCaught(.liveness, "no merge probes", traffic: Self.partitionedThenQuiet) {
            $0.ringOptions.brokenRules.merges = true
        }
    }
}
