import ChorusSimulator
import ChorusVerify
import Testing

@testable import ChorusCore

/// Causal messages go out ahead of the total order, each once its causal past is delivered.
/// Breaking that rule on purpose (the ring's test switches) must make the checkers fail.
@Suite struct CausalDeliveryTests {
    /// Causal-heavy traffic with reordering: losses outside a message's past are skipped.
    static func causalTraffic(_ config: inout SimulationConfig) {
        config.reorder = 0.05
        config.messageRate = 200
        config.serviceMix = [0, 0, 0, 6, 1, 0]
    }

    /// The same with many joins and leaves, so views change all the time.
    static func causalTrafficWithChurn(_ config: inout SimulationConfig) {
        causalTraffic(&config)
        config.churn = 0.3
        config.loss = 0.1
        config.sessionsPerDaemon = 4
    }

    @Test func earlyCausalDeliveryKeepsEveryPromise() {
        ShortLossyRuns.expectClean(Self.causalTraffic)
    }

    @Test func ignoringTheCausalPastIsCaught() {
        ShortLossyRuns.expectCaught(.causal, "causal past ignored", traffic: Self.causalTraffic) {
            $0.ringOptions.brokenRules.causalPast = true
        }
    }

    /// Every causal message must sit on the same side of every view at every daemon. Without the
    /// barriers it does not.
    @Test func causalMessagesKeepTheirPlaceAmongViews() {
        ShortLossyRuns.expectCaught(.views, "barriers ignored", traffic: Self.causalTrafficWithChurn) {
            $0.ringOptions.brokenRules.barriers = true
        }
    }
}
