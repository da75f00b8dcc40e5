import ArgumentParser
import ChorusCore
import ChorusSimulator
import ChorusWire

/// `chorus sim --sites N …`: whole daemons in several sites joined by simulated wide-area links.
struct WideAreaSimOptions: ParsableArguments {
    @Option(help: "Sites (more than 1 runs the wide-area simulation; --daemons is then per site).") var sites = 1
    @Option(name: .customLong("wan-delay"), help: "One-way delay of every wide-area link, ms.") var wanDelay = 30.0
    @Option(name: .customLong("wan-jitter"), help: "Extra random delay per datagram on wide-area links, up to this, ms.")
    var wanJitter = 0.0
    @Option(name: .customLong("wan-loss"), help: "Datagram loss probability on wide-area links.") var wanLoss = 0.0
    @Option(name: .customLong("wan-duplicate"), help: "Datagram duplication probability on wide-area links.")
    var wanDuplicate = 0.0
    @Option(name: .customLong("wan-rate"), help: "Bandwidth of every wide-area link, Mbit/s (0: unlimited).") var wanRate = 0.0
    @Option(name: .customLong("link-cuts"), help: "Wide-area link cuts per virtual second (each healed after 1-3 s).")
    var linkCuts = 0.0
    @Option(name: .customLong("site-cutoffs"), help: "Sites cut off from every other (all their links cut for 1-3 s), at random times.")
    var siteCutoffs = 0
    @Option(name: .customLong("cutoff-seconds"), help: "How long each cut-off lasts (default: 1-3 s at random).")
    var cutoffSeconds: Double?
    @Flag(name: .customLong("trace-configurations"), help: "Print every configuration of sites each daemon installs.")
    var traceConfigurations = false
    @Option(name: .customLong("representative-crashes"), help: "Site representatives crashed during the run.")
    var representativeCrashes = 0
    @Option(help: "Heartbeat interval of idle sites, ms.") var heartbeat = 10.0
    @Option(name: .customLong("group-leaves"), help: "Per session, leaves of the group per virtual second (each joins again 0.1-0.5 s later).")
    var groupLeaves = 0.0
    @Option(name: .customLong("daemon-restarts"), help: "Daemons crashed and restarted during the run (another of their site keeps running).")
    var daemonRestarts = 0
    @Flag(name: .customLong("crash-loses-packets"), help: "A crash also loses the ring datagrams the daemon sent in its last moments, while what it sent across sites arrives (as a kill -9 between two sends can).")
    var crashLosesPackets = false
    @Flag(name: .customLong("sparse-group"), help: "A second group with members at the first site only at first (others join at random): half the messages go to it, and sites without members get stand-ins instead of bodies.")
    var sparseGroup = false
    @Option(name: .customLong("sparse-join-every"), help: "With --sparse-group: a session of another site joins it about once in this many of its traffic events (0: never).")
    var sparseJoinEvery = 400.0
    @Flag(name: .customLong("no-pruning"), help: "Every site gets every body (no stand-ins), for comparison.")
    var noPruning = false
    @Flag(name: .customLong("lenient-views"), help: "Check only causal, agreed and safe messages between consecutive group views, not also reliable and fifo ones between network views.")
    var lenientViews = false
    @Option(
        name: .customLong("break"),
        help: "Break a rule of the order layer on purpose, to watch the checkers catch it (repeatable): \(WideAreaSimOptions.breakableRules.keys.sorted().joined(separator: ", ")).")
    var breakRules: [String] = []
    @Option(name: .customLong("clock-skew"), help: "Per-site clock offsets drawn up to this, ms.") var clockSkew = 0.0
    @Flag(name: .customLong("stretched-ring"), help: "For comparison: one token ring over every daemon of every site (what Spread does), no hop protocol.")
    var stretchedRing = false
    @Flag(name: .customLong("fixed-outbox"), help: "For comparison: a site keeps up to the fixed maximum for the others (8 MiB), not a bound that follows the links.")
    var fixedOutbox = false
    @Option(name: .customLong("services"), help: "Services clients send, comma separated.")
    var services = "reliable,fifo,causal,agreed,safe"

    /// The run `seed` asks for (or, with `randomize`, one drawn from it).
    func config(seed: UInt64, daemons: Int, duration: Double, rate: Double, size: Int, randomize: Bool) throws
        -> WideAreaSimulationConfig
    {
        if randomize {
            var config = WideAreaSimulationConfig.randomFaulty(seed: seed, maxSites: sites, maxDaemonsPerSite: daemons, duration: duration)
            config.traceConfigurations = traceConfigurations
            config.crashLosesLastPackets = crashLosesPackets
            config.strictViews = !lenientViews
            config.sparseGroup = sparseGroup
            config.sparseJoinEvery = sparseJoinEvery > 0 ? sparseJoinEvery : .infinity
            config.orderOptions.pruneBodies = !noPruning
            try breakRequestedRules(&config)
            return config
        }
        var config = WideAreaSimulationConfig()
        config.seed = seed
        config.sites = sites
        config.daemonsPerSite = daemons
        config.duration = duration
        config.quiescence = min(config.quiescence, duration / 2)
        config.rate = rate
        config.payloadSize = size
        config.impairment = WideAreaImpairment(
            delay: UInt64(wanDelay * 1e6), jitter: UInt64(wanJitter * 1e6), loss: wanLoss, bandwidth: UInt64(wanRate * 125_000))
        config.impairment.duplication = wanDuplicate
        config.linkCutRate = linkCuts
        config.isolations = siteCutoffs
        if let cutoffSeconds { config.isolationSeconds = cutoffSeconds...cutoffSeconds }
        config.traceConfigurations = traceConfigurations
        config.representativeCrashes = representativeCrashes
        config.churn = groupLeaves
        config.restarts = daemonRestarts
        config.crashLosesLastPackets = crashLosesPackets
        config.strictViews = !lenientViews
        config.sparseGroup = sparseGroup
        config.sparseJoinEvery = sparseJoinEvery > 0 ? sparseJoinEvery : .infinity
        config.orderOptions.pruneBodies = !noPruning
        config.orderOptions.heartbeatInterval = UInt64(heartbeat * 1e6)
        config.orderOptions.paceByBandwidthDelay = !fixedOutbox
        config.clockSkew = UInt64(clockSkew * 1e6)
        if stretchedRing {
            config.oneStretchedRing = true
            config.ringOptions = WideAreaSimulationConfig.stretchedRingOptions(oneWayDelay: config.impairment.delay)
        }
        config.services = try services.split(separator: ",").map { name in
            guard let service = Service.allCases.first(where: { $0.description == name.lowercased() }) else {
                throw ValidationError("unknown service \(name): use \(Service.allCases.map(\.description).joined(separator: ","))")
            }
            return service
        }
        guard sites <= 64, daemons <= 64, sites * daemons <= 1024 else {
            throw ValidationError("at most 64 sites of 64 daemons, 1024 daemons in all")
        }
        try breakRequestedRules(&config)
        return config
    }

    /// The order layer's rules `--break` can break (`SiteOrderOptions.BrokenRules`).
    static var breakableRules: [String: WritableKeyPath<SiteOrderOptions.BrokenRules, Bool>] {
        [
            "promises": \.promises, "stability": \.stability, "cut-at-minimum": \.cutAtMinimum,
            "views-ignore-other-sites": \.viewsIgnoreOtherSites, "earlier-incarnations": \.sessionsOfEarlierIncarnations,
            "act-on-unstable": \.actOnUnstableDeliveries, "fifo-ahead": \.fifoAheadOfDaemonChanges,
            "interests-without-lease": \.interestsWithoutLease, "drop-interests-with-members": \.dropInterestsWithMembers,
        ]
    }

    private func breakRequestedRules(_ config: inout WideAreaSimulationConfig) throws {
        for name in breakRules {
            guard let rule = Self.breakableRules[name] else {
                throw ValidationError("unknown rule \(name) for --break: use \(Self.breakableRules.keys.sorted().joined(separator: ", "))")
            }
            config.orderOptions.brokenRules[keyPath: rule] = true
        }
    }
}
