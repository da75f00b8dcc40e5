import ChorusCore
import ChorusWire

/// Everything that shapes one simulated run. Together with the seed it determines the run exactly.
public struct SimulationConfig: Sendable {
    public var daemons = 3
    /// Virtual seconds.
    public var duration: Double = 10
    public var seed: UInt64 = 1

    // Network.
    public var latency: Double = 0.000_1
    public var jitter: Double = 0.000_2
    public var loss: Double = 0
    public var duplicate: Double = 0
    public var reorder: Double = 0
    /// Per virtual second: chance rate of a one-way link failure appearing.
    public var oneWayFailures: Double = 0

    // Faults (events per virtual second across the whole site).
    public var partitions: Double = 0
    public var crashes: Double = 0
    public var pauses: Double = 0
    /// The last seconds of the run have no faults (no loss, duplication or reordering either) and a
    /// whole network, so liveness can be checked.
    public var quiescence: Double = 6
    /// Virtual seconds after quiescence starts by which the site must have re-formed and caught up.
    public var livenessBound: Double = 3
    /// Virtual seconds a message may take to reach every daemon once the site is whole (the
    /// checkers' delivery grace). With the defaults, messages submitted in the 2 s between the
    /// liveness deadline and the last second must reach every daemon (the liveness message clause).
    public var deliveryGrace: Double = 1

    // Traffic.
    public var sessionsPerDaemon = 2
    /// Messages per virtual second per daemon.
    public var messageRate: Double = 50
    public var minSize = 1
    public var maxSize = 2_000
    /// Share of messages drawn from the large size range.
    public var largeShare: Double = 0.02
    public var largeMaxSize = 64 * 1024
    /// Relative weights of the six services, unreliable to safe.
    public var serviceMix: [Double] = [1, 1, 1, 1, 4, 2]
    public var groupCount = 4
    /// Chance per message that the session joins or leaves a group instead.
    public var churn: Double = 0.01
    /// Encode and decode every packet (exercises the wire codec); off only for raw engine speed.
    public var useCodec = true
    /// Record the full history and run the checkers.
    public var check = true

    /// A hostile peer on the network (none by default); it stops when quiescence starts.
    public var hostile: HostileConfig?
    /// Seal every datagram as `chorusd` does with a key file (`Simulation+Sealing`; implies the codec).
    public var sealed = false

    public var ringOptions = RingOptions()
    /// A run that needs more events than this per virtual second is stopped as a livelock.
    public var maxEventsPerSecond = 3_000_000

    public init() {}

    /// A randomized faulty configuration for seed sweeps, drawn from the seed itself.
    public static func randomFaulty(seed: UInt64, maxDaemons: Int = 16, duration: Double = 12) -> SimulationConfig {
        var random = SimRandom(seed: seed ^ 0x5EED_F00D)
        var config = SimulationConfig()
        config.seed = seed
        config.daemons = 2 + random.int(below: max(1, maxDaemons - 1))
        config.duration = duration
        config.loss = [0, 0.01, 0.05, 0.15][random.int(below: 4)]
        config.duplicate = [0, 0.01, 0.05][random.int(below: 3)]
        config.reorder = [0, 0.02, 0.1][random.int(below: 3)]
        config.partitions = [0, 0.2, 0.5][random.int(below: 3)]
        config.crashes = [0, 0.1, 0.3][random.int(below: 3)]
        config.pauses = [0, 0.1][random.int(below: 2)]
        config.oneWayFailures = [0, 0, 0.1][random.int(below: 3)]
        config.messageRate = [10, 40, 100][random.int(below: 3)]
        return config
    }
}
