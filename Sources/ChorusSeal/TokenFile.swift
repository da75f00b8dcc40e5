import Crypto
import Foundation

/// The client tokens a daemon accepts, by name: a client that presents one (in its connect
/// frame) is known by the token's name in the access rules. Only SHA-256 digests are kept, and a
/// presented token is compared with every one of them in constant time.
public struct ClientTokens: Sendable {
    /// Token names, in the file's order.
    public let names: [String]
    private let digests: [[UInt8]]

    init(_ entries: [(name: String, secret: String)]) {
        names = entries.map(\.name)
        digests = entries.map { Self.digest($0.secret) }
    }

    /// The name of the token `presented` is, or nil. Takes as long whichever token matches, or none.
    public func name(of presented: String) -> String? {
        let digest = Self.digest(presented)
        var found = -1
        for (index, stored) in digests.enumerated() {
            var difference: UInt8 = 0
            for byte in 0..<32 { difference |= stored[byte] ^ digest[byte] }
            // No early exit, no branch on the secret: the mask is all ones only on a match.
            let mask = Int(truncatingIfNeeded: Int8(bitPattern: UInt8(difference == 0 ? 0xFF : 0)))
            found = (found & ~mask) | (index & mask)
        }
        return found >= 0 ? names[found] : nil
    }

    static func digest(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Array(text.utf8))) }
}

/// The tokens file: text, one token per line as `token <name> <secret>`, `#` starts a comment.
/// Names are 1 to 32 characters of `A-Z a-z 0-9 _ - .`; a secret is 16 to 255 printable ASCII
/// characters without spaces. Only its owner may read it (mode 0600), like the key file.
public enum TokenFile {
    public static func load(path: String) throws(KeyFileError) -> ClientTokens {
        try parse(try KeyFile.readOwnerOnly(path: path, what: "tokens file"), file: path)
    }

    public static func parse(_ text: String, file: String) throws(KeyFileError) -> ClientTokens {
        var entries: [(name: String, secret: String)] = []
        for (line, _, words) in SecretFile.lines(text) {
            guard words.count == 3, words[0] == "token" else {
                throw KeyFileError(file: file, line: line, message: "expected 'token <name> <secret>'")
            }
            let name = String(words[1])
            guard isValidName(name) else {
                throw KeyFileError(file: file, line: line, message: "token name '\(name)': expected 1 to 32 characters of A-Z a-z 0-9 _ - .")
            }
            guard !entries.contains(where: { $0.name == name }) else {
                throw KeyFileError(file: file, line: line, message: "token name '\(name)' appears twice")
            }
            let secret = String(words[2])
            guard (16...255).contains(secret.utf8.count), secret.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw KeyFileError(
                    file: file, line: line,
                    message: "the secret of token '\(name)' must be 16 to 255 printable characters without spaces (it has \(secret.utf8.count))")
            }
            guard !entries.contains(where: { $0.secret == secret }) else {
                throw KeyFileError(file: file, line: line, message: "token '\(name)' has the same secret as another token")
            }
            entries.append((name, secret))
        }
        guard !entries.isEmpty else { throw KeyFileError(file: file, line: 0, message: "no token in the file") }
        return ClientTokens(entries)
    }

    /// Tokens no client can present (what a daemon uses when its tokens file stopped loading).
    public static let refuseAll = ClientTokens([])

    /// Whether `name` can name a token: 1 to 32 characters of `A-Z a-z 0-9 _ - .`.
    public static func isValidName(_ name: String) -> Bool {
        (1...32).contains(name.utf8.count)
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E }
    }

    /// A new random secret (32 hex digits from the system's secure source).
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
