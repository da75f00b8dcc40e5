import ChorusDaemon
import ChorusSeal
import Foundation
import Testing

struct AccessRulesTests {
    @Test func globPatterns() {
        let cases: [(String, String, Bool)] = [
            ("billing", "billing", true), ("billing", "billing.eu", false), ("billing.*", "billing.eu", true),
            ("billing.*", "billing.", true), ("billing.*", "billing", false), ("*", "", true), ("*", "#3#d1", true),
            ("b?ll*", "bill", true), ("b?ll*", "bll", false), ("*.eu", "a.b.eu", true), ("*.eu", "a.b.us", false),
            ("a*b*c", "aXbYc", true), ("a*b*c", "aXcYb", false), ("#*", "#1#d2", true), ("#*", "news", false),
        ]
        for (pattern, name, expected) in cases {
            #expect(AccessRule.glob(pattern, matches: name) == expected, "\(pattern) ~ \(name)")
        }
    }

    @Test func theFirstRuleThatNamesTheActionDecides() {
        let local = ClientIdentity(transport: .unix, uid: 1000, gid: 50, pid: 7)
        let billing = ClientIdentity(transport: .tcp(address: "10.0.0.5:4000"), token: "billing")
        let rules = AccessRules(
            rules: [
                AccessRule(groups: ["billing*"], allowed: [.join: [.token("billing")], .send: [.token("billing"), .uid(0)]]),
                AccessRule(groups: ["*"], allowed: [.join: [.unix], .members: [.gid(50)]]),
            ],
            defaultAllows: false)
        #expect(rules.allows(.join, "billing.eu", for: billing))
        #expect(!rules.allows(.join, "billing.eu", for: local))
        #expect(!rules.allows(.send, "billing", for: local))
        // The first rule does not name members: the second decides.
        #expect(rules.allows(.members, "billing", for: local))
        #expect(!rules.allows(.members, "billing", for: billing))
        #expect(rules.allows(.join, "chat", for: local))
        // No rule names send for chat: the default (deny).
        #expect(!rules.allows(.send, "chat", for: local))
        #expect(AccessRules().allowsEverything && !rules.allowsEverything)
    }

    static func withTokens(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-access-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try KeyFile.write("token billing 0123456789abcdef0123\n", to: directory.appendingPathComponent("tokens").path, replace: false)
        try body(directory.appendingPathComponent("site.toml").path)
    }

    @Test func theConfigurationReadsRulesAndNamesEveryMistake() throws {
        try Self.withTokens { file in
            let head = "[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n\n[clients]\ntokens_file = \"tokens\"\n"
            let config = try DaemonConfig.parse(
                head + "[access]\ndefault = \"deny\"\n[[access_rule]]\ngroups = [\"billing*\"]\njoin = [\"token:billing\", \"uid:0\"]\nsend = []\n",
                file: file)
            #expect(!config.access.defaultAllows && config.access.rules.count == 1)
            #expect(config.access.rules[0].allowed[.join] == [.token("billing"), .uid(0)] && config.access.rules[0].allowed[.send] == [])
            #expect(config.tokensFile?.hasSuffix("/tokens") == true)
            let mistakes: [(String, String)] = [
                ("[access]\ndefault = \"maybe\"\n", "site.toml:8: access.default: 'maybe'; expected \"allow\" or \"deny\""),
                ("[[access_rule]]\njoin = [\"any\"]\n", "site.toml:7: access_rule[1].groups: missing"),
                ("[[access_rule]]\ngroups = [\"g\"]\n", "site.toml:7: access_rule[1]: names no action"),
                ("[[access_rule]]\ngroups = [\"g\"]\njoin = [\"root\"]\n", "site.toml:9: access_rule[1].join: 'root' names no one"),
                ("[[access_rule]]\ngroups = [\"g\"]\nsend = [\"token:ops\"]\n", "site.toml:9: access_rule[1].send: 'token:ops': the tokens file has no token named 'ops'"),
                ("[[access_rule]]\ngroups = [\"g\"]\nwrite = [\"any\"]\n", "site.toml:9: access_rule.write: unknown key"),
            ]
            for (tail, expected) in mistakes {
                #expect {
                    try DaemonConfig.parse(head + tail, file: file)
                } throws: { error in
                    "\(error)".contains(expected.replacingOccurrences(of: "site.toml", with: file))
                }
            }
        }
    }

    @Test func aTCPListenerOffLoopbackNeedsTokensOrAnExplicitYes() throws {
        let open = "[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\nclient_address = \"10.0.0.1\"\n"
        #expect {
            try DaemonConfig.parse(open, file: "open.toml")
        } throws: { error in
            "\(error)".contains("open.toml:4: daemon.client_address: daemon 'a' takes TCP clients on 10.0.0.1, not loopback, without authentication")
        }
        let allowed = try DaemonConfig.parse(open + "[clients]\nallow_unauthenticated_tcp = true\n", file: "open.toml")
        #expect(allowed.allowUnauthenticatedTCP)
        let noTCP = try DaemonConfig.parse(open + "client_port = 0\n", file: "open.toml")
        #expect(noTCP.daemons[0].clientPort == 0)
        try Self.withTokens { file in
            let withTokens = try DaemonConfig.parse(open + "[clients]\ntokens_file = \"tokens\"\n", file: file)
            #expect(withTokens.tokensFile != nil)
        }
    }
}
