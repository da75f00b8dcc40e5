import ChorusSeal
import Foundation
import Testing

struct KeyFileTests {
    static let hex = String(repeating: "ab", count: 32)

    @Test func parsesKeysWithCommentsAndBlankLines() throws {
        let keys = try KeyFile.parse("# the site's keys\n\nkey 1 \(Self.hex)\nkey 2 \(Self.hex.uppercased())  # new\n", file: "k")
        #expect(keys.ids == [1, 2] && keys.oldest == 1 && keys.newest == 2)
    }

    @Test func everyMistakeNamesItsLine() {
        let cases: [(String, Int, String)] = [
            ("key 1 \(Self.hex)\nkey 1 \(Self.hex)", 2, "appears twice"),
            ("key 0 \(Self.hex)", 1, "from 1 to 65535"),
            ("key 70000 \(Self.hex)", 1, "from 1 to 65535"),
            ("\nkey 1 abcd", 2, "64 hex digits"),
            ("key 1 \(String(repeating: "zz", count: 32))", 1, "64 hex digits"),
            ("secret \(Self.hex)", 1, "expected 'key <id> <64 hex digits>'"),
            ("# nothing\n", 0, "no key in the file"),
        ]
        for (text, line, message) in cases {
            #expect {
                try KeyFile.parse(text, file: "keys")
            } throws: { error in
                guard let error = error as? KeyFileError else { return false }
                return error.line == line && error.message.contains(message)
            }
        }
    }

    @Test func aKeyFileOthersCanReadIsRefusedAndKeygensFileIsTheOwnersOnly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KeyFile.write(KeyFile.newKeyLine(id: 1) + "\n", to: path, replace: false)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(try KeyFile.load(path: path).ids == [1])
        // Not replaced unless asked.
        #expect(throws: KeyFileError.self) { try KeyFile.write("x", to: path, replace: false) }
        chmod(path, 0o644)
        #expect {
            try KeyFile.load(path: path)
        } throws: { error in
            (error as? KeyFileError)?.message.contains("chmod 600") ?? false
        }
    }

    @Test func newKeysDiffer() {
        #expect(KeyFile.newKeyLine(id: 1) != KeyFile.newKeyLine(id: 1))
    }
}
