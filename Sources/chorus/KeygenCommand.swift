import ArgumentParser
import ChorusSeal
import Foundation

/// `chorus keygen`: writes a key file for `[security] key_file` (mode 0600), or adds the next
/// key to one for a rotation.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Write a key file that seals daemon traffic, or add a new key to one.",
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

    func run() throws {
        do {
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
}
