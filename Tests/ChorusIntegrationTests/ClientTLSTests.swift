import Chorus
import ChorusLocalCluster
import ChorusProtocol
import Foundation
import Testing

/// TLS on a real daemon's TCP listener (`[clients] tls_certificate`, `tls_key`, `tls_client_ca`),
/// with the test-only certificates of TLS/ (made by TLS/make-certificates.sh).
@Suite(.serialized) struct ClientTLSTests {
    /// The folder of the test certificates.
    static let certificates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("TLS")

    /// A one-daemon cluster whose TCP listener speaks TLS (the files copied in, keys made owner-only).
    static func cluster(basePort: Int, clientCA: Bool, rules: String = "") throws -> LocalCluster {
        var clients = "\n[clients]\ntls_certificate = \"server.pem\"\ntls_key = \"server-key.pem\"\n"
        if clientCA { clients += "tls_client_ca = \"ca.pem\"\n" }
        let cluster = try LocalCluster(count: 1, basePort: basePort, extraConfig: clients + rules)
        for name in ["server.pem", "server-key.pem", "ca.pem"] {
            let target = cluster.directory.appendingPathComponent(name)
            try FileManager.default.copyItem(at: certificates.appendingPathComponent(name), to: target)
            chmod(target.path, name.hasSuffix("-key.pem") ? 0o600 : 0o644)
        }
        return cluster
    }

    /// Client TLS options with the test CA and, if named, a client certificate (copied owner-only).
    static func tls(_ client: String? = nil, in directory: URL) throws -> ChorusTLS {
        var options = ChorusTLS(trustRoots: certificates.appendingPathComponent("ca.pem").path)
        if let client {
            for name in ["\(client).pem", "\(client)-key.pem"] where !FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) {
                try FileManager.default.copyItem(at: certificates.appendingPathComponent(name), to: directory.appendingPathComponent(name))
                chmod(directory.appendingPathComponent(name).path, 0o600)
            }
            options.certificate = directory.appendingPathComponent("\(client).pem").path
            options.key = directory.appendingPathComponent("\(client)-key.pem").path
        }
        return options
    }

    static func identity(_ status: String, of session: String) throws -> String? {
        let document = try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
        return (document?["sessions"] as? [[String: Any]])?.first { $0["name"] as? String == session }?["identity"] as? String
    }

    static func fails(_ body: () async throws -> Void) async -> Bool {
        do {
            try await body()
            return false
        } catch {
            return true
        }
    }

    @Test func sessionsRunOverTLSAndPlainClientsGetNothing() async throws {
        let cluster = try Self.cluster(basePort: 25_100, clientCA: false)
        defer { cluster.stop() }
        try await cluster.start()
        let endpoint = cluster.members[0].endpoint
        let tls = try Self.tls(in: cluster.directory)
        let status = try await ClientAccessTests.withSession(endpoint, "over-tls", tls: tls) { session, inbox in
            try await session.join("chat")
            try await session.multicast("secret", to: ["chat"], service: .safe)
            try await inbox.wait("its own message") { $0.messages.contains { $0.text == "secret" } }
            try await session.requestStatus()
            try await inbox.wait("a status") { !$0.statuses.isEmpty }
            return inbox.statuses[0]
        }
        #expect(try Self.identity(status, of: "over-tls")?.hasSuffix("tls") == true, "\(status)")
        // A client that does not speak TLS gets no session; nor does one that does not trust the
        // daemon's certificate (the system's roots do not hold the test CA). (The name is checked
        // as RFC 6125 says: the certificate's IP address 127.0.0.1 matches the address
        // connected to, whatever --server-name says.)
        #expect(await Self.fails { try await ChorusClient.withSession(to: endpoint, name: "plain") { _ in } })
        #expect(await Self.fails { try await ChorusClient.withSession(to: endpoint, name: "untrusting", tls: ChorusTLS()) { _ in } })
        // The CLI speaks it too.
        let sent = try CommandLineTests.run([
            "send", "--daemon", "127.0.0.1:\(cluster.members[0].clientPort)", "--tls", "--ca", tls.trustRoots!, "-g", "chat", "hello",
        ])
        #expect(sent.status == 0, "\(sent.output)")
    }

    @Test func clientCertificatesAreRequiredAndNameTheClientInTheRules() async throws {
        let rules = "\n[access]\ndefault = \"deny\"\n[[access_rule]]\ngroups = [\"billing\"]\njoin = [\"cert:billing-app\"]\nmembers = [\"cert:billing-app\"]\n"
        let cluster = try Self.cluster(basePort: 25_200, clientCA: true, rules: rules)
        defer { cluster.stop() }
        try await cluster.start()
        let endpoint = cluster.members[0].endpoint
        let withCertificate = try Self.tls("client", in: cluster.directory)
        let status = try await ClientAccessTests.withSession(endpoint, "billing", tls: withCertificate) { session, inbox in
            try await session.join("billing")
            try await inbox.wait("its join view") { $0.views.contains { $0.group == "billing" } }
            try await session.requestStatus()
            try await inbox.wait("a status") { !$0.statuses.isEmpty }
            return inbox.statuses[0]
        }
        #expect(try Self.identity(status, of: "billing")?.hasSuffix("tls cert billing-app") == true, "\(status)")
        // No client certificate, or one from another CA (with the same common name): no session.
        #expect(await Self.fails { try await ChorusClient.withSession(to: endpoint, name: "anonymous", tls: Self.tls(in: cluster.directory)) { _ in } })
        let stranger = try Self.tls("stranger", in: cluster.directory)
        #expect(await Self.fails { try await ChorusClient.withSession(to: endpoint, name: "stranger", tls: stranger) { _ in } })
        // The Unix socket is not TLS: its clients are known by their credentials, and the rule
        // for billing names only the certificate.
        try await ClientAccessTests.withSession(cluster.members[0].unixEndpoint, "local") { session, inbox in
            try await session.join("billing")
            try await inbox.wait("the refusal") { !$0.refusals.isEmpty }
        }
    }

    @Test func theConfigurationChecksTheTLSFiles() throws {
        let cluster = try Self.cluster(basePort: 25_300, clientCA: true)
        defer { cluster.stop() }
        let chorusd = LocalCluster.siblingExecutable("chorusd")
        let valid = try CommandLineTests.runProgram(chorusd, ["--check-config", cluster.configFile.path])
        #expect(valid.status == 0, "\(valid.output)")
        chmod(cluster.directory.appendingPathComponent("server-key.pem").path, 0o644)
        let open = try CommandLineTests.runProgram(chorusd, ["--check-config", cluster.configFile.path])
        #expect(open.status != 0 && open.output.contains("clients.tls_key") && open.output.contains("chmod 600"), "\(open.output)")
        chmod(cluster.directory.appendingPathComponent("server-key.pem").path, 0o600)
        try "not a certificate".write(to: cluster.directory.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let broken = try CommandLineTests.runProgram(chorusd, ["--check-config", cluster.configFile.path])
        #expect(broken.status != 0 && broken.output.contains("clients.tls_client_ca"), "\(broken.output)")
    }
}
