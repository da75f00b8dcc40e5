import ArgumentParser
import Dispatch
import ChorusDaemon
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `chorusd`: the Chorus daemon. One per host; clients connect to it.
@main
struct Chorusd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorusd",
        abstract: "The Chorus daemon: runs the site's ring and serves local clients.",
        discussion: """
            With no --config, runs a one-daemon site on 127.0.0.1 (clients on TCP port \(DaemonConfig.defaultClientPort) \
            and \(DaemonConfig.defaultUnixSocket(clientPort: DaemonConfig.defaultClientPort))).
            SIGTERM or SIGINT leaves the ring gracefully. SIGHUP reloads the key file ([security] key_file).
            """)

    @Option(name: .shortAndLong, help: "The site's configuration file (TOML).")
    var config: String?

    @Option(name: .shortAndLong, help: "Which [[daemon]] of the file this is (needed when it names several).")
    var name: String?

    @Option(name: .customLong("check-config"), help: "Validate a configuration file, print what it describes, and exit.")
    var checkConfig: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (overrides the file).")
    var logLevel: String?

    @Flag(name: .customLong("exit-with-parent"), help: "Leave and exit when the parent process ends (for clusters started by tools and tests).")
    var exitWithParent = false

    func run() async throws {
        if let checkConfig {
            do {
                let config = try DaemonConfig.load(file: checkConfig)
                print("\(checkConfig): valid; \(config.daemons.count) daemon(s)" + (config.sites.count > 1 ? " in \(config.sites.count) sites:" : ":"))
                for site in config.sites {
                    if config.sites.count > 1 { print("  site \(site.name) (id \(site.id)):") }
                    for peer in config.daemons where peer.site == site.id {
                        let clients = [peer.clientPort != 0 ? "tcp \(peer.clientAddress):\(peer.clientPort)" : nil, peer.unixSocket.isEmpty ? nil : "unix \(peer.unixSocket)"]
                            .compactMap { $0 }.joined(separator: ", ")
                        let hop = config.sites.count > 1 ? ", hop \(peer.hopPort)" : ""
                        print("  \(config.sites.count > 1 ? "  " : "")\(peer.name) (id \(peer.id)): ring \(peer.address):\(peer.port), token \(peer.tokenPort)\(hop); clients \(clients)")
                    }
                }
                let siteName = { (id: UInt32) in config.sites.first { $0.id == id }?.name ?? "\(id)" }
                for link in config.links {
                    let rate = link.rate > 0 ? ", \(link.rate / 125_000) Mbit/s" : ""
                    print("  link \(siteName(link.sites.0)) - \(siteName(link.sites.1)): cost \(link.cost)\(rate)")
                }
                print("  token timeout \(config.ring.tokenTimeout / 1_000_000) ms, window \(config.ring.windowSize), datagram \(config.automaticDatagramSize ? "auto (as the routes to the peers take, at most \(DaemonConfig.maxAutomaticDatagramSize) B; \(config.datagramSize) B where unknown)" : "\(config.datagramSize) B"), max message \(config.ring.maxMessageSize) B")
                return
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
        }
        var settings: DaemonConfig
        if let config {
            do {
                settings = try DaemonConfig.load(file: config)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
        } else {
            settings = DaemonConfig.singleDaemon()
        }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel) else {
                printError("--log-level '\(logLevel)': expected trace, debug, info, notice, warning, error or critical")
                throw ExitCode(2)
            }
            settings.logLevel = level
        }
        let daemonName: String
        if let name {
            daemonName = name
        } else if settings.daemons.count == 1 {
            daemonName = settings.daemons[0].name
        } else {
            printError("the configuration names \(settings.daemons.count) daemons; choose this one with --name (\(settings.daemons.map(\.name).joined(separator: ", ")))")
            throw ExitCode(2)
        }
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "chorusd")
        let daemon: ChorusDaemon
        do {
            daemon = try ChorusDaemon(config: settings, name: daemonName, logger: logger)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        if exitWithParent {
            let parent = getppid()
            Task.detached {
                while getppid() == parent { try? await Task.sleep(for: .milliseconds(200)) }
                daemon.shutdown()
            }
        }
        // SIGHUP: read the key file again (a key rotation's steps need no restart).
        signal(SIGHUP, SIG_IGN)
        let hangups = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangups.setEventHandler {
            Task {
                // A key file that does not load is logged by the daemon; plain mode only here.
                if daemon.config.keyFile == nil { logger.warning("SIGHUP ignored: plain mode, no [security] key_file to reload") }
                _ = try? await daemon.reloadKeys()
            }
        }
        hangups.resume()
        defer { hangups.cancel() }
        let group = ServiceGroup(
            services: [ChorusDaemonService(daemon: daemon)], gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        do {
            try await group.run()
        } catch {
            logger.critical("chorusd stopped: \(error)")
            throw ExitCode(1)
        }
    }

    private func printError(_ text: String) {
        var stderr = StandardError()
        print("chorusd: \(text)", to: &stderr)
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleStderr.write(string)
    }
}
