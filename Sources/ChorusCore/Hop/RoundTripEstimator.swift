/// Smoothed round-trip time and its variation from samples (the usual estimator: gains 1/8 and
/// 1/4, the first sample taken whole).
public struct RoundTripEstimator: Sendable, Equatable {
    public private(set) var smoothed: Duration64
    public private(set) var variation: Duration64
    public private(set) var samples = 0

    init(initial: Duration64) {
        smoothed = initial
        variation = initial / 2
    }

    mutating func add(_ sample: Duration64) {
        if samples == 0 {
            smoothed = sample
            variation = sample / 2
        } else {
            let difference = sample > smoothed ? sample - smoothed : smoothed - sample
            variation = (3 * variation + difference) / 4
            smoothed = (7 * smoothed + sample) / 8
        }
        samples += 1
    }
}
