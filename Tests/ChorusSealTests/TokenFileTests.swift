import ChorusSeal
import Testing

struct TokenFileTests {
    @Test func tokensAreFoundByTheirSecretOnly() throws {
        let tokens = try TokenFile.parse("# apps\ntoken billing 0123456789abcdef0123\ntoken ops   ops-secret-ops-secret # on call\n", file: "t")
        #expect(tokens.names == ["billing", "ops"])
        #expect(tokens.name(of: "0123456789abcdef0123") == "billing")
        #expect(tokens.name(of: "ops-secret-ops-secret") == "ops")
        #expect(tokens.name(of: "0123456789abcdef0124") == nil)
        #expect(tokens.name(of: "") == nil)
        #expect(tokens.name(of: "billing") == nil)
        #expect(TokenFile.refuseAll.name(of: "0123456789abcdef0123") == nil)
    }

    @Test func everyMistakeNamesItsLine() {
        let cases: [(String, Int, String)] = [
            ("token a 0123456789abcdef\ntoken a fedcba9876543210", 2, "appears twice"),
            ("token a 0123456789abcdef\ntoken b 0123456789abcdef", 2, "same secret"),
            ("token a short", 1, "16 to 255"),
            ("token bad/name 0123456789abcdef", 1, "token name"),
            ("secret a 0123456789abcdef", 1, "expected 'token <name> <secret>'"),
            ("\n# none\n", 0, "no token"),
        ]
        for (text, line, message) in cases {
            #expect {
                try TokenFile.parse(text, file: "tokens")
            } throws: { error in
                guard let error = error as? KeyFileError else { return false }
                return error.line == line && error.message.contains(message)
            }
        }
    }

    @Test func newSecretsAreLongAndDiffer() {
        let a = TokenFile.newSecret()
        #expect(a.count == 32 && a != TokenFile.newSecret())
    }
}
