import Crypto
import Foundation

/// The keys a daemon seals and opens datagrams with, by id (1...65535). The newest id that
/// every peer holds seals; every key here opens (so during a rotation both the old and the new
/// one are accepted).
public struct SealKeys: Sendable {
    public let keys: [UInt16: SymmetricKey]
    public init(_ keys: [UInt16: SymmetricKey]) {
        precondition(!keys.isEmpty, "a key set holds at least one key")
        self.keys = keys
    }
    public var oldest: UInt16 { keys.keys.min()! }
    public var newest: UInt16 { keys.keys.max()! }
    /// Ids ascending.
    public var ids: [UInt16] { keys.keys.sorted() }
}

/// What is wrong with a key file, with the line it is on (0: the file as a whole).
public struct KeyFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// Files that hold secrets (keys, tokens, TLS private keys): refused unless only their owner may
/// read and write them.
public enum SecretFile {
    public static func checkOwnerOnly(path: String, what: String) throws(KeyFileError) {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw KeyFileError(file: path, line: 0, message: "cannot read the \(what) (\(error.localizedDescription))")
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw KeyFileError(
                file: path, line: 0,
                message: "the \(what) is open to its group or others (mode \(String(mode & 0o777, radix: 8))); only its owner may read it: chmod 600 \(path)")
        }
    }
}

extension SecretFile {
    /// The lines of a secret file that say something: their number, their text before any `#`,
    /// and its words.
    static func lines(_ text: String) -> [(line: Int, content: Substring, words: [Substring])] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, rawLine in
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            return words.isEmpty ? nil : (index + 1, content, words)
        }
    }
}

/// The key file: text, one key per line as `key <id> <64 hex digits>` (256 bits), `#` starts a
/// comment. Only its owner may read or write it (mode 0600 or stricter); any other mode is
/// refused, so a key that others could read is never used.
public enum KeyFile {
    /// Reads, checks and parses the key file at `path`.
    public static func load(path: String) throws(KeyFileError) -> SealKeys {
        try parse(try readOwnerOnly(path: path, what: "key file"), file: path)
    }

    /// The text of a secret file, refused when its group or others may read or write it.
    static func readOwnerOnly(path: String, what: String) throws(KeyFileError) -> String {
        try SecretFile.checkOwnerOnly(path: path, what: what)
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KeyFileError(file: path, line: 0, message: "cannot read the \(what) (\(error.localizedDescription))")
        }
    }

    /// Parses key file text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(KeyFileError) -> SealKeys {
        var keys: [UInt16: SymmetricKey] = [:]
        for (line, content, words) in SecretFile.lines(text) {
            guard words.count == 3, words[0] == "key" else {
                throw KeyFileError(file: file, line: line, message: "expected 'key <id> <64 hex digits>', found '\(content.trimmingCharacters(in: .whitespaces))'")
            }
            guard let id = UInt16(words[1]), id >= 1 else {
                throw KeyFileError(file: file, line: line, message: "key id '\(words[1])' is not a number from 1 to 65535")
            }
            guard keys[id] == nil else {
                throw KeyFileError(file: file, line: line, message: "key id \(id) appears twice; each key needs its own id")
            }
            guard let bytes = hexBytes(words[2]), bytes.count == 32 else {
                throw KeyFileError(
                    file: file, line: line, message: "key \(id) is not 64 hex digits (256 bits); write a new one with 'chorus keygen'")
            }
            keys[id] = SymmetricKey(data: bytes)
        }
        guard !keys.isEmpty else {
            throw KeyFileError(file: file, line: 0, message: "no key in the file; write one with 'chorus keygen --out \(file)'")
        }
        return SealKeys(keys)
    }

    /// A new key line for `id`, from the system's secure random source.
    public static func newKeyLine(id: UInt16) -> String {
        let key = SymmetricKey(size: .bits256)
        let hex = key.withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
        return "key \(id) \(hex)"
    }

    /// Writes `text` to `path` readable by its owner only (created with mode 0600, never
    /// replacing an existing file unless `replace`).
    public static func write(_ text: String, to path: String, replace: Bool) throws(KeyFileError) {
        let flags = O_WRONLY | O_CREAT | O_TRUNC | (replace ? 0 : O_EXCL)
        let descriptor = open(path, flags, 0o600)
        guard descriptor >= 0 else {
            let reason = errno == EEXIST ? "the file exists (--force replaces it)" : String(cString: strerror(errno))
            throw KeyFileError(file: path, line: 0, message: "cannot write the key file: \(reason)")
        }
        defer { close(descriptor) }
        // An existing file keeps its mode on open: make sure it is the owner's only.
        fchmod(descriptor, 0o600)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw KeyFileError(file: path, line: 0, message: "cannot write the key file: \(String(cString: strerror(errno)))")
        }
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
