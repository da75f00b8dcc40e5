import ChorusSeal
import Foundation

extension ConfigLoader {
    /// `[security]`: the key file that seals daemon traffic. It is read and checked here, so
    /// `chorusd --check-config` reports a missing, malformed or world-readable key file.
    func security(_ section: TOMLDocument.Section, into config: inout DaemonConfig) throws(ConfigError) {
        guard let entry = section.entry("key_file") else { return }
        let text = try string(entry, "security.key_file")
        guard !text.isEmpty else {
            throw fail(entry.line, "security.key_file", "empty path; expected the path of a key file written by 'chorus keygen'")
        }
        let path = resolvedPath(text)
        do {
            _ = try KeyFile.load(path: path)
        } catch {
            throw fail(entry.line, "security.key_file", "\(error)")
        }
        config.keyFile = path
    }

    /// `path` as written, or relative to the configuration file's directory.
    func resolvedPath(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        let directory = (file as NSString).deletingLastPathComponent
        return directory.isEmpty ? path : (directory as NSString).appendingPathComponent(path)
    }
}
