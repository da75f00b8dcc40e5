import Chorus
import ChorusLocalCluster
import ChorusProtocol
import ChorusSeal
import Foundation
import Testing

/// Client authentication and access rules on a real daemon: TCP clients need a token, Unix
/// socket clients are known by their credentials; refused joins and sends get a refused frame
/// and the session goes on.
@Suite(.serialized) struct ClientAccessTests {
    static let billingSecret = TokenFile.newSecret()
    static let otherSecret = TokenFile.newSecret()

    /// A one-daemon cluster with a tokens file (`billing`, `other`) and `rules` after it.
    static func cluster(basePort: Int, rules: String = "") throws -> LocalCluster {
        let cluster = try LocalCluster(
            count: 1, basePort: basePort, extraConfig: "\n[clients]\ntokens_file = \"tokens\"\n" + rules)
        try KeyFile.write(
            "token billing \(billingSecret)\ntoken other \(otherSecret)\n",
            to: cluster.directory.appendingPathComponent("tokens").path, replace: true)
        return cluster
    }

    /// Everything a session receives, for a test to look at.
    final class Inbox: @unchecked Sendable {
        private let lock = NSLock()
        private var _events: [ChorusEvent] = []
        var events: [ChorusEvent] { lock.withLock { _events } }
        func add(_ event: ChorusEvent) { lock.withLock { _events.append(event) } }
        var refusals: [ChorusRefusal] { events.compactMap { if case .refused(let r) = $0 { r } else { nil } } }
        var messages: [ChorusMessage] { events.compactMap { if case .message(let m) = $0 { m } else { nil } } }
        var views: [ChorusMembership] { events.compactMap { if case .membership(let v) = $0 { v } else { nil } } }
        var statuses: [String] { events.compactMap { if case .status(let s) = $0 { s } else { nil } } }

        func wait(_ what: String, timeout: Double = 10, _ condition: (Inbox) -> Bool) async throws {
            let deadline = Date().addingTimeInterval(timeout)
            while !condition(self) {
                if Date() > deadline { throw ChorusClientError(.closed, "timed out waiting for \(what); events: \(events)") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Runs `body` with a session whose events go to an inbox.
    static func withSession<T: Sendable>(
        _ endpoint: ChorusEndpoint, _ name: String, token: String? = nil, tls: ChorusTLS? = nil,
        _ body: (ChorusSession, Inbox) async throws -> T
    ) async throws -> T {
        try await ChorusClient.withSession(to: endpoint, name: name, token: token, tls: tls) { session in
            let inbox = Inbox()
            let reader = Task { for try await event in session.events { inbox.add(event) } }
            defer { reader.cancel() }
            return try await body(session, inbox)
        }
    }

    static func refusedCode(_ body: () async throws -> Void) async -> ErrorCode? {
        do {
            try await body()
            return nil
        } catch let error as ChorusClientError {
            if case .refused(let code) = error.kind { return code }
            return nil
        } catch {
            return nil
        }
    }

    @Test func tcpClientsNeedATokenAndUnixClientsAreKnownByTheirCredentials() async throws {
        let cluster = try Self.cluster(basePort: 24_700)
        defer { cluster.stop() }
        try await cluster.start()
        let member = cluster.members[0]
        #expect(await Self.refusedCode { try await ChorusClient.withSession(to: member.endpoint, name: "none") { _ in } } == .authenticationFailed)
        #expect(
            await Self.refusedCode { try await ChorusClient.withSession(to: member.endpoint, name: "wrong", token: "not-a-token-at-all") { _ in } }
                == .authenticationFailed)
        // A secret one character off is no secret.
        let almost = String(Self.billingSecret.dropLast()) + (Self.billingSecret.hasSuffix("0") ? "1" : "0")
        #expect(await Self.refusedCode { try await ChorusClient.withSession(to: member.endpoint, name: "almost", token: almost) { _ in } } == .authenticationFailed)
        let status = try await Self.withSession(member.endpoint, "billing-app", token: Self.billingSecret) { session, inbox in
            try await Self.withSession(member.unixEndpoint, "local-app") { local, _ in
                try await local.requestStatus()
                try await session.requestStatus()
                try await inbox.wait("a status reply") { !$0.statuses.isEmpty }
                return inbox.statuses[0]
            }
        }
        let document = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        let identities = (document["sessions"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
            $0[$1["name"] as? String ?? ""] = $1["identity"] as? String
        }
        #expect(identities["billing-app"]?.hasPrefix("tcp 127.0.0.1") == true && identities["billing-app"]?.hasSuffix("token billing") == true, "\(identities)")
        #expect(identities["local-app"] == "unix uid \(getuid()) gid \(getgid()) pid \(getpid())", "\(identities)")
        let counters = document["counters"] as? [String: Any]
        #expect(counters?["authenticationFailures"] as? Int == 3)
        #expect(cluster.log("d1").contains("refused a session from tcp 127.0.0.1"))
    }

    @Test func accessRulesRefuseJoinsSendsAndMembershipAndTheSessionGoesOn() async throws {
        let rules = """

            [access]
            default = "deny"

            [[access_rule]]
            groups = ["billing", "billing.*"]
            join = ["token:billing"]
            send = ["token:billing"]
            members = ["token:billing"]

            [[access_rule]]
            groups = ["news"]
            join = ["any"]
            send = ["unix"]
            members = ["unix"]

            [[access_rule]]
            groups = ["#*"]
            send = ["any"]

            """
        let cluster = try Self.cluster(basePort: 24_800, rules: rules)
        defer { cluster.stop() }
        try await cluster.start()
        let member = cluster.members[0]
        try await Self.withSession(member.endpoint, "billing", token: Self.billingSecret) { billing, billingInbox in
            try await Self.withSession(member.unixEndpoint, "local") { local, localInbox in
                try await Self.withSession(member.endpoint, "other", token: Self.otherSecret) { other, otherInbox in
                    // Joins: billing may join billing.eu; the local process may not (and goes on).
                    try await billing.join("billing.eu")
                    try await local.join("billing.eu")
                    try await local.join("news")
                    try await other.join("news")
                    try await localInbox.wait("the refusal of the join") { !$0.refusals.isEmpty }
                    let joinRefusal = localInbox.refusals[0]
                    #expect(joinRefusal.code == .accessDenied && joinRefusal.request == .join && joinRefusal.group == "billing.eu")
                    #expect(joinRefusal.text.contains("may not join 'billing.eu'") && joinRefusal.text.contains("unix uid"), "\(joinRefusal.text)")
                    try await localInbox.wait("its view of news") { $0.views.contains { $0.group == "news" } }
                    try await billingInbox.wait("its view of billing.eu") { $0.views.contains { $0.group == "billing.eu" } }

                    // Sends: refused as a whole when one group is not allowed; the session goes on.
                    try await local.multicast("to billing", to: ["news", "billing.eu"], service: .agreed)
                    try await other.multicast("from other", to: ["news"], service: .agreed)
                    try await billing.multicast("invoice", to: ["billing.eu"], service: .agreed)
                    try await local.multicast("headline", to: ["news"], service: .agreed)
                    try await billing.multicast("direct", to: [local.privateGroup], service: .agreed)
                    try await otherInbox.wait("the headline") { $0.messages.contains { $0.text == "headline" } }
                    try await localInbox.wait("the headline and the direct message") {
                        $0.messages.contains { $0.text == "headline" } && $0.messages.contains { $0.text == "direct" }
                    }
                    try await billingInbox.wait("the invoice") { $0.messages.contains { $0.text == "invoice" } }
                    #expect(localInbox.refusals.map(\.group) == ["billing.eu", "billing.eu"])
                    #expect(localInbox.refusals.last?.request == .multicast)
                    #expect(otherInbox.refusals.map(\.group) == ["news"] && otherInbox.refusals[0].text.contains("may not send to 'news'"))
                    #expect(!localInbox.messages.contains { $0.text == "to billing" })
                    #expect(!otherInbox.messages.contains { $0.text == "from other" || $0.text == "to billing" })

                    // Members: other (TCP) is in news but sees no view of it, nor news in status.
                    #expect(!otherInbox.views.contains { $0.group == "news" })
                    try await other.requestStatus()
                    try await otherInbox.wait("a status reply") { !$0.statuses.isEmpty }
                    let shown = try #require(try JSONSerialization.jsonObject(with: Data(otherInbox.statuses[0].utf8)) as? [String: Any])
                    let groups = (shown["groups"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                    #expect(!groups.contains("news") && !groups.contains("billing.eu"), "\(groups)")
                    try await local.requestStatus()
                    try await localInbox.wait("a status reply") { !$0.statuses.isEmpty }
                    let full = try #require(try JSONSerialization.jsonObject(with: Data(localInbox.statuses[0].utf8)) as? [String: Any])
                    #expect(((full["groups"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }).contains("news"))
                    #expect((full["counters"] as? [String: Any])?["accessRefusals"] as? Int == 3)
                }
            }
        }
    }

    @Test func theCLITakesATokenAndReportsRefusals() async throws {
        let rules = "\n[[access_rule]]\ngroups = [\"locked\"]\nsend = []\n"
        let cluster = try Self.cluster(basePort: 24_900, rules: rules)
        defer { cluster.stop() }
        try await cluster.start()
        let daemon = "127.0.0.1:\(cluster.members[0].clientPort)"
        let withoutToken = try CommandLineTests.run(["send", "--daemon", daemon, "-g", "open", "hello"])
        #expect(withoutToken.status != 0 && withoutToken.output.contains("authentication failed"), "\(withoutToken.output)")
        let sent = try CommandLineTests.run(["send", "--daemon", daemon, "--token", Self.otherSecret, "-g", "open", "hello"])
        #expect(sent.status == 0, "\(sent.output)")
        let refused = try CommandLineTests.run(["send", "--daemon", daemon, "--token", Self.otherSecret, "-g", "locked", "hello"])
        #expect(refused.status != 0 && refused.output.contains("may not send to 'locked'"), "\(refused.output)")
        let status = try CommandLineTests.run(["status", "--daemon", cluster.members[0].unixSocket])
        #expect(status.status == 0 && status.output.contains("unix uid"), "\(status.output)")
        // keygen --token adds a token and prints its secret.
        let tokens = cluster.directory.appendingPathComponent("more-tokens").path
        let made = try CommandLineTests.run(["keygen", "--out", tokens, "--token", "ops"])
        let secret = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(made.status == 0 && secret.count == 32, "\(made.output)")
        #expect(try TokenFile.load(path: tokens).name(of: secret) == "ops")
        let twice = try CommandLineTests.run(["keygen", "--out", tokens, "--token", "ops"])
        #expect(twice.status != 0 && twice.output.contains("already has a token named 'ops'"), "\(twice.output)")
    }
}
