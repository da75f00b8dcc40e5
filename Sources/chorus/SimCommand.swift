import ArgumentParser
import ChorusSimulator
import ChorusVerify
import ChorusWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `chorus sim`: runs the engine in the deterministic simulator and checks every run.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run daemons in the deterministic simulator under faults and check extended virtual synchrony.",
        discussion: """
            Every run follows from its seed; a failing run prints its seed, and `--seed S` replays it exactly.
            Fault rates are events per virtual second across the site. The last --quiescence seconds have no
            faults so the liveness checker can verify that the site re-forms and catches up.
            """)

    @Option(help: "Number of daemons (1-64).") var daemons = 3
    @Option(help: "Virtual seconds to simulate.") var duration = 10.0
    @Option(help: "Seed (random when absent; always printed).") var seed: UInt64?
    @Option(help: "Sweep this many seeds, from --seed on.") var seeds = 1
    @Flag(help: "With --seeds: draw daemons (2..--daemons) and fault rates from each seed.") var randomize = false
    @Option(help: "Packet loss probability.") var loss = 0.0
    @Option(help: "Packet duplication probability.") var duplicate = 0.0
    @Option(help: "Packet reordering probability (extra delay).") var reorder = 0.0
    @Option(help: "Partitions per virtual second.") var partitions = 0.0
    @Option(help: "Daemon crashes (each followed by a restart) per virtual second.") var crashes = 0.0
    @Option(help: "Daemon pauses (like SIGSTOP) per virtual second.") var pauses = 0.0
    @Option(name: .customLong("one-way"), help: "One-way link failures per virtual second.") var oneWay = 0.0
    @Option(help: "Messages per virtual second per daemon.") var rate = 50.0
    @Option(help: "Smallest message, bytes.") var minSize = 1
    @Option(help: "Largest ordinary message, bytes.") var maxSize = 2000
    @Option(help: "Largest occasional big message, bytes (fragmented).") var largeSize = 64 * 1024
    @Option(help: "Share of messages drawn between --max-size and --large-size.") var largeShare = 0.02
    @Option(help: "Service weights unreliable,reliable,fifo,causal,agreed,safe.") var mix = "1,1,1,1,4,2"
    @Option(help: "Client sessions per daemon.") var sessions = 2
    @Option(help: "Chance per message that a session joins or leaves a group instead.") var churn = 0.01
    @Option(help: "Fault-free seconds at the end (liveness is checked there).") var quiescence = 6.0
    @Option(help: "A hostile peer on the network until quiescence: outsider, configured or impersonator.")
    var hostile: String?
    @Option(name: .customLong("hostile-attacks"), help: "The hostile peer's attacks: boundary,replay,mutate,forge.")
    var hostileAttacks = "boundary,replay,mutate,forge"
    @Option(name: .customLong("hostile-rate"), help: "Hostile packets per virtual second.") var hostileRate = 200.0
    @Flag(help: "Measure the engine alone: no I/O, codec or checkers; agreed 1000-byte messages flat out.") var bench = false
    @OptionGroup(title: "Wide area (--sites above 1)") var wideArea: WideAreaSimOptions

    mutating func run() throws {
        if bench {
            runBenchmark()
            return
        }
        if wideArea.sites > 1 {
            try runWideArea()
            return
        }
        let weights = mix.split(separator: ",").compactMap { Double($0) }
        guard weights.count == 6 else { throw ValidationError("--mix needs six weights") }
        guard (0..<1).contains(churn) else { throw ValidationError("--churn is a probability below 1 (at 1 no message would be sent)") }
        let hostileConfig = try parseHostile()
        let first = seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let interactive = isatty(STDOUT_FILENO) != 0
        var failures: [UInt64] = []
        var exercise = RuleExercise()
        for offset in 0..<UInt64(seeds) {
            let runSeed = first &+ offset
            var config = randomize
                ? SimulationConfig.randomFaulty(seed: runSeed, maxDaemons: daemons, duration: duration)
                : SimulationConfig()
            if !randomize {
                config.seed = runSeed
                config.daemons = daemons
                config.duration = duration
                config.loss = loss
                config.duplicate = duplicate
                config.reorder = reorder
                config.partitions = partitions
                config.crashes = crashes
                config.pauses = pauses
                config.oneWayFailures = oneWay
                config.messageRate = rate
            }
            config.minSize = minSize
            config.maxSize = maxSize
            config.largeMaxSize = largeSize
            config.largeShare = largeShare
            config.serviceMix = weights
            config.sessionsPerDaemon = sessions
            config.churn = churn
            config.quiescence = min(quiescence, config.duration)
            config.hostile = hostileConfig
            var simulation = Simulation(config: config)
            let single = seeds == 1
            let report = simulation.run { time in
                if interactive, single {
                    print("\r  virtual \(Int(time)) / \(Int(config.duration)) s", terminator: "")
                    fflush(nil)
                }
            }
            if interactive, seeds == 1 { print("\r", terminator: "") }
            exercise.add(report.exercise)
            if seeds == 1 || !report.passed {
                print(report.summary)
            } else if interactive {
                print("\rseed \(runSeed): ok (\(config.daemons) daemons)   ", terminator: "")
                fflush(nil)
            }
            if !report.passed {
                failures.append(runSeed)
                print("FAILED seed \(runSeed) (replay: \(Self.replayCommand(seed: runSeed)))")
                for violation in report.violations.prefix(10) { print("  \(violation)") }
                print("  trace (last events):")
                for line in report.trace.suffix(25) { print("    \(line)") }
            }
        }
        if seeds > 1 {
            print("\nrules exercised over the sweep: \(exercise.description)")
            if !exercise.idle.isEmpty { print("rules that examined nothing: \(exercise.idle.map(\.description).joined(separator: ", "))") }
            print("\(seeds) runs, \(failures.count) failed\(failures.isEmpty ? "" : ": seeds \(failures)")")
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }

    /// The engine alone (no I/O, no codec, no checkers): agreed 1000-byte messages, flat out.
    /// Three runs per ring size; the median is the figure (this kind of VM has slow outliers).
    func runBenchmark() {
        for count in [3, 8] {
            let runs = (0..<3).map { _ in
                EngineBenchmark.run(daemons: count, messageSize: 1000, service: .agreed, deliveries: 2_000_000)
            }
            let rates = runs.map(\.deliveriesPerCPUSecond).sorted()
            print(
                "engine bench: \(count) daemons, agreed 1000 B: median \(Int(rates[1])) deliveries per CPU-second (runs of \(runs[0].deliveries) deliveries: \(runs.map { "\(Int($0.deliveriesPerCPUSecond))" }.joined(separator: ", ")))"
            )
        }
    }
}

extension SimCommand {
    /// The `--hostile` options as a configuration (nil without `--hostile`).
    func parseHostile() throws -> HostileConfig? {
        guard let hostile else { return nil }
        guard let role = HostileConfig.Role(rawValue: hostile) else {
            throw ValidationError("--hostile is one of \(HostileConfig.Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var attacks: [HostileConfig.Attack] = []
        for name in hostileAttacks.split(separator: ",") {
            guard let attack = HostileConfig.Attack(rawValue: String(name)) else {
                throw ValidationError("unknown hostile attack \(name): use \(HostileConfig.Attack.allCases.map(\.rawValue).joined(separator: ","))")
            }
            if !attacks.contains(attack) { attacks.append(attack) }
        }
        guard !attacks.isEmpty else { throw ValidationError("--hostile-attacks names no attack") }
        guard hostileRate > 0, hostileRate.isFinite else { throw ValidationError("--hostile-rate must be positive") }
        guard role != .configured || daemons >= 2 else { throw ValidationError("--hostile configured needs --daemons 2 or more") }
        return HostileConfig(role: role, attacks: attacks, rate: hostileRate)
    }

    /// This run's command line with `--seed` set to `seed` and any `--seeds` dropped: it replays
    /// exactly that run, every other option included.
    static func replayCommand(seed: UInt64) -> String {
        var kept: [String] = []
        var arguments = CommandLine.arguments.dropFirst()[...]
        while let argument = arguments.popFirst() {
            if argument == "--seed" || argument == "--seeds" {
                _ = arguments.popFirst()
            } else if !argument.hasPrefix("--seed=") && !argument.hasPrefix("--seeds=") {
                kept.append(argument)
            }
        }
        return (["chorus"] + kept + ["--seed", "\(seed)"]).joined(separator: " ")
    }
}

extension SimCommand {
    /// Sites of whole daemons over simulated wide-area links; every run checked across sites.
    func runWideArea() throws {
        let first = seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        var failures: [UInt64] = []
        for offset in 0..<UInt64(seeds) {
            let runSeed = first &+ offset
            let config = try wideArea.config(
                seed: runSeed, daemons: daemons, duration: duration, rate: rate, size: min(maxSize, 1000), randomize: randomize)
            var simulation = WideAreaSimulation(config: config)
            let report = simulation.run()
            print(report)
            if !report.passed { failures.append(runSeed) }
        }
        if !failures.isEmpty {
            print("FAILED seeds: \(failures.map(String.init).joined(separator: " "))")
            throw ExitCode(1)
        }
    }
}
