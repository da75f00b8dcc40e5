import ArgumentParser
import ChorusSeal
import Foundation

/// `chorus keygen`: writes a key file for `[security] key_file` (mode 0600), or adds the next
/// key to one for a rotation.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Write a key file that seals daemon traffic, add a new key to one, or add a client token to a tokens file.",
        discussion: """
            Every daemon of the configuration needs the same key file. To rotate keys without a \
            restart: add a key (--add) and copy the file to every daemon, then send each chorusd \
            SIGHUP; the daemons seal with the new key once every one of them holds it. Later remove \
            the old key's line everywhere and send SIGHUP again.
            """)

    @Option(name: .shortAndLong, help: "The key file to write.")
    var out: String

    @Option(help: "The new key's id (1-65535; default: 1, or one above the newest with --add).")
    var id: UInt16?

    @Flag(help: "Add a key to an existing key file instead of writing a new one.")
    var add = false

    @Flag(help: "Replace an existing file.")
    var force = false

    @Option(help: "Add a client token with this name to a tokens file ([clients] tokens_file) instead; prints its secret.")
    var token: String?

    func run() throws {
        do {
            if let token {
                try addToken(token)
                return
            }
            if add {
                let existing = try KeyFile.load(path: out)
                guard existing.newest < UInt16.max || id != nil else {
                    throw ValidationError("\(out) already holds key \(UInt16.max); name a free id with --id")
                }
                let newID = id ?? existing.newest + 1
                guard existing.keys[newID] == nil else { throw ValidationError("\(out) already holds key \(newID)") }
                let text = try String(contentsOfFile: out, encoding: .utf8)
                let separator = text.isEmpty || text.hasSuffix("\n") ? "" : "\n"
                try KeyFile.write(text + separator + KeyFile.newKeyLine(id: newID) + "\n", to: out, replace: true)
                print("added key \(newID) to \(out); copy it to every daemon and send each chorusd SIGHUP")
            } else {
                let newID = id ?? 1
                guard newID >= 1 else { throw ValidationError("key ids run from 1 to 65535") }
                let text = "# Chorus daemon keys: the same file on every daemon, readable by its owner only.\n"
                    + KeyFile.newKeyLine(id: newID) + "\n"
                try KeyFile.write(text, to: out, replace: force)
                print("wrote key \(newID) to \(out) (mode 0600); name it in [security] key_file on every daemon")
            }
        } catch let error as KeyFileError {
            throw ValidationError(error.description)
        }
    }

    /// Appends `token <name> <secret>` to the tokens file (created 0600 if missing) and prints the
    /// secret for the client (`chorus ... --token`, or CHORUS_TOKEN).
    private func addToken(_ name: String) throws {
        guard TokenFile.isValidName(name) else { throw ValidationError("--token '\(name)': expected 1 to 32 characters of A-Z a-z 0-9 _ - .") }
        let secret = TokenFile.newSecret()
        var text = ""
        if FileManager.default.fileExists(atPath: out) {
            let existing = try TokenFile.load(path: out)
            guard !existing.names.contains(name) else { throw ValidationError("\(out) already has a token named '\(name)'") }
            text = try String(contentsOfFile: out, encoding: .utf8)
            if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
        } else {
            text = "# Chorus client tokens: token <name> <secret>; readable by its owner only.\n"
        }
        try KeyFile.write(text + "token \(name) \(secret)\n", to: out, replace: true)
        print(secret)
    }
}
