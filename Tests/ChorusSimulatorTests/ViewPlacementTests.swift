import ChorusSimulator
import ChorusVerify
import Testing

@testable import ChorusCore

/// Clients get the messages of a configuration in its own views: the view-placement checker
/// catches a group layer that hands over client data while its state exchange runs.
@Suite struct ViewPlacementTests {
    /// Partitions and pauses (merges need state exchanges), with every service.
    static func mergingTraffic(_ config: inout SimulationConfig) {
        config.partitions = 1
        config.pauses = 0.5
        config.serviceMix = [0, 1, 1, 1, 2, 2]
    }

    @Test func dataDuringStateExchangeIsCaught() {
        ShortLossyRuns.expectCaught(.viewPlacement, "data during the state exchange", traffic: Self.mergingTraffic) {
            $0.ringOptions.brokenRules.dataDuringStateExchange = true
        }
    }
}
