import ChorusSimulator
import ChorusVerify
import Testing

@testable import ChorusCore

/// The safe checker catches an engine that breaks the safe promise on purpose.
@Suite struct SafeDeliverySwitchTests {
    /// Safe messages, many of them fragmented, under loss and partitions.
    static func safeTraffic(_ config: inout SimulationConfig) {
        config.partitions = 0.3
        config.serviceMix = [0, 0, 0, 0, 1, 3]
        config.largeShare = 0.2
    }

    /// Delivered without waiting for stability: the safe checker (whose ground truth follows
    /// fragments) must report it; with the engine as it is, the same runs are clean.
    @Test func ignoringStabilityIsCaught() {
        ShortLossyRuns.expectCaught(.safeDelivery, "stability ignored", traffic: Self.safeTraffic) {
            $0.ringOptions.brokenRules.stability = true
        }
    }
}
