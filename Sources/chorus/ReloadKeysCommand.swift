import ArgumentParser
import Chorus
import ChorusProtocol
import Foundation

/// `chorus reload-keys`: asks a daemon to read its key file again (as SIGHUP does), over its
/// Unix socket as the daemon's user or root.
struct ReloadKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload-keys", abstract: "Make a daemon read its key file again (as SIGHUP does); prints the keys it holds.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let endpoint = try client.endpoint()
        let outcome = try await ChorusClient.withSession(
            to: endpoint, name: client.sessionName("reload"), membershipNotices: false, token: client.presentedToken, tls: client.tls
        ) { session -> Result<DaemonStatus.Security?, ChorusRefusal> in
            try await session.requestKeyReload()
            for try await event in session.events {
                switch event {
                case .status(let json):
                    let status = try JSONDecoder().decode(DaemonStatus.self, from: Data(json.utf8))
                    return .success(status.security)
                case .refused(let refusal): return .failure(refusal)
                default: continue
                }
            }
            throw ChorusClientError(.closed, "no answer")
        }
        switch outcome {
        case .success(let security):
            let keys = security?.keys.map(String.init).joined(separator: ", ") ?? "-"
            print("keys reloaded: [\(keys)], sealing with \(security?.sealingKey.map(String.init) ?? "-")")
        case .failure(let refusal):
            printError("refused: \(refusal.text)")
            throw ExitCode(1)
        }
    }
}
