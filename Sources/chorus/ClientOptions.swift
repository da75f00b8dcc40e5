import ArgumentParser
import Chorus
import Foundation

extension Service: ExpressibleByArgument {
    public init?(argument: String) {
        guard let service = Service.allCases.first(where: { $0.description == argument.lowercased() }) else { return nil }
        self = service
    }
    public static var allValueStrings: [String] { Service.allCases.map(\.description) }
}

/// Where to connect and as whom: shared by the client commands.
struct ClientOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The daemon: host:port, a port, or a Unix socket path.")
    var daemon: String = "127.0.0.1:\(4800)"

    @Option(name: .shortAndLong, help: "Session name, unique on the daemon (default: the command and process id).")
    var name: String?

    @Option(help: "A token the daemon knows (its [clients] tokens_file); default: $CHORUS_TOKEN, which keeps it out of the process list.")
    var token: String?

    @Flag(name: .customLong("tls"), help: "Connect over TLS (the daemon's [clients] tls_certificate).")
    var useTLS = false

    @Option(help: "With TLS: the PEM file of the CA the daemon's certificate chains to (default: the system's).")
    var ca: String?

    @Option(help: "With TLS: this client's certificate (PEM), when the daemon asks for one.")
    var cert: String?

    @Option(help: "With TLS: the private key of --cert (PEM).")
    var key: String?

    @Option(name: .customLong("server-name"), help: "With TLS: the name the daemon's certificate must carry (default: the host connected to).")
    var serverName: String?

    /// TLS options, when --tls (or any TLS file) was given.
    var tls: ChorusTLS? {
        guard useTLS || ca != nil || cert != nil || key != nil || serverName != nil else { return nil }
        return ChorusTLS(trustRoots: ca, certificate: cert, key: key, serverName: serverName)
    }

    /// The token to present, from --token or CHORUS_TOKEN (nil: none).
    var presentedToken: String? { token ?? ProcessInfo.processInfo.environment["CHORUS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } }

    func endpoint() throws -> ChorusEndpoint {
        guard let endpoint = ChorusEndpoint(parsing: daemon) else {
            throw ValidationError("--daemon '\(daemon)': expected host:port, a port number, or a Unix socket path")
        }
        return endpoint
    }

    func sessionName(_ command: String) -> String { name ?? "\(command)-\(getpid())" }
}

/// One line for a membership event, as the CLI prints it.
func describe(_ view: ChorusMembership) -> String {
    let kind = view.kind == .regular ? "regular" : "transitional"
    return "view \(view.group) \(view.viewID) \(kind) \(view.reason): members [\(view.members.joined(separator: ", "))] changed [\(view.changed.joined(separator: ", "))] added [\(view.added.joined(separator: ", "))] removed [\(view.removed.joined(separator: ", "))]"
}

func describe(_ message: ChorusMessage) -> String {
    "[\(message.service)] \(message.sender) -> \(message.groups.joined(separator: ",")) (type \(message.messageType), \(message.payload.readableBytes) B): \(message.text)"
}

extension ChorusMembership.Reason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .join: "join"
        case .leave: "leave"
        case .disconnect: "disconnect"
        case .network: "network"
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Standard error is a terminal (progress lines are drawn only then).
var stderrIsTerminal: Bool { isatty(2) == 1 }
