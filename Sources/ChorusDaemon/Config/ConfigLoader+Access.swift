import ChorusSeal
import Foundation

extension ConfigLoader {
    static let clientKeys = [
        "tokens_file", "unix_requires_token", "allow_unauthenticated_tcp", "tls_certificate", "tls_key", "tls_client_ca",
    ]
    static let accessKeys = ["default"]
    static let accessRuleKeys = ["groups", "join", "send", "members"]

    /// `[clients]`: the tokens file, and whether Unix socket clients must present a token too.
    func clients(_ section: TOMLDocument.Section, into config: inout DaemonConfig) throws(ConfigError) {
        for entry in section.entries {
            let key = "clients.\(entry.key)"
            switch entry.key {
            case "tokens_file":
                let text = try string(entry, key)
                guard !text.isEmpty else { throw fail(entry.line, key, "empty path; expected a tokens file (lines 'token <name> <secret>')") }
                let path = resolvedPath(text)
                do {
                    config.clientTokenNames = try TokenFile.load(path: path).names
                } catch {
                    throw fail(entry.line, key, "\(error)")
                }
                config.tokensFile = path
            case "unix_requires_token": config.unixRequiresToken = try boolean(entry, key)
            case "tls_certificate", "tls_key", "tls_client_ca": break  // below, together
            case "allow_unauthenticated_tcp": config.allowUnauthenticatedTCP = try boolean(entry, key)
            default: break
            }
        }
        if config.unixRequiresToken, config.tokensFile == nil, let entry = section.entry("unix_requires_token") {
            throw fail(entry.line, "clients.unix_requires_token", "no tokens_file: no client could connect")
        }
        try tls(section, into: &config)
    }

    /// `tls_certificate` and `tls_key` (both or neither), and `tls_client_ca`: each file is read
    /// here, so a missing or unreadable one, or a private key others may read, is a config error.
    func tls(_ section: TOMLDocument.Section, into config: inout DaemonConfig) throws(ConfigError) {
        let certificate = section.entry("tls_certificate")
        let key = section.entry("tls_key")
        let clientCA = section.entry("tls_client_ca")
        guard certificate != nil || key != nil || clientCA != nil else { return }
        guard let certificate, let key else {
            let present = certificate ?? key ?? clientCA!
            throw fail(present.line, "clients.\(present.key)", "TLS needs both tls_certificate and tls_key (PEM files)")
        }
        func path(_ entry: TOMLDocument.Entry) throws(ConfigError) -> String {
            let text = try string(entry, "clients.\(entry.key)")
            guard !text.isEmpty else { throw fail(entry.line, "clients.\(entry.key)", "empty path; expected a PEM file") }
            return resolvedPath(text)
        }
        let files = DaemonConfig.TLSFiles(certificate: try path(certificate), key: try path(key), clientCA: try clientCA.map(path))
        do {
            try TLSSetup.check(files)
        } catch let error as TLSSetup.FileError {
            let entry = [certificate, key, clientCA].compactMap { $0 }.first { $0.key == error.key } ?? certificate
            throw fail(entry.line, "clients.\(entry.key)", error.message)
        } catch {
            throw fail(certificate.line, "clients.tls_certificate", "\(error)")
        }
        config.tls = files
    }

    /// `[access]`: what a group no rule covers allows.
    func access(_ section: TOMLDocument.Section, into config: inout DaemonConfig) throws(ConfigError) {
        guard let entry = section.entry("default") else { return }
        switch try string(entry, "access.default") {
        case "allow": config.access.defaultAllows = true
        case "deny": config.access.defaultAllows = false
        case let other: throw fail(entry.line, "access.default", "'\(other)'; expected \"allow\" or \"deny\"")
        }
    }

    /// One `[[access_rule]]`.
    func accessRule(
        _ section: TOMLDocument.Section, position: Int, tokenNames: [String]?, hasClientCA: Bool
    ) throws(ConfigError) -> AccessRule {
        let table = "access_rule[\(position)]"
        guard let groupsEntry = section.entry("groups") else {
            throw fail(section.line, "\(table).groups", "missing; expected the group name patterns the rule covers, such as [\"billing.*\"]")
        }
        let groups = try strings(groupsEntry, "\(table).groups", example: "[\"billing\", \"billing.*\"]")
        for pattern in groups where pattern.isEmpty || pattern.utf8.count > 255 {
            throw fail(groupsEntry.line, "\(table).groups", "'\(pattern)': expected a pattern of 1 to 255 bytes")
        }
        var allowed: [AccessAction: [AccessPrincipal]] = [:]
        for action in AccessAction.allCases {
            guard let entry = section.entry(action.rawValue) else { continue }
            let key = "\(table).\(action.rawValue)"
            var principals: [AccessPrincipal] = []
            for text in try strings(entry, key, example: "[\"uid:0\", \"token:billing\"]", allowEmpty: true) {
                guard let principal = AccessPrincipal(parsing: text) else {
                    throw fail(entry.line, key, "'\(text)' names no one; expected any, unix, tcp, uid:N, gid:N, token:NAME or cert:NAME")
                }
                if case .certificate = principal, !hasClientCA {
                    throw fail(entry.line, key, "'\(text)': no [clients] tls_client_ca asks clients for certificates (put [clients] before the rules)")
                }
                if case .token(let name) = principal, !(tokenNames ?? []).contains(name) {
                    throw fail(
                        entry.line, key,
                        tokenNames == nil ? "'\(text)': there is no [clients] tokens_file (put [clients] before the rules)" : "'\(text)': the tokens file has no token named '\(name)'")
                }
                principals.append(principal)
            }
            allowed[action] = principals
        }
        guard !allowed.isEmpty else {
            throw fail(section.line, table, "names no action; expected join, send or members (or more)")
        }
        return AccessRule(groups: groups, allowed: allowed)
    }

    func strings(_ entry: TOMLDocument.Entry, _ key: String, example: String, allowEmpty: Bool = false) throws(ConfigError) -> [String] {
        guard case .array(let values) = entry.value, allowEmpty || !values.isEmpty else {
            throw fail(entry.line, key, "expected a non-empty array of strings such as \(example)")
        }
        var result: [String] = []
        for value in values {
            guard case .string(let text) = value else { throw fail(entry.line, key, "expected strings only, such as \(example)") }
            result.append(text)
        }
        return result
    }

    /// A TCP client listener on an address other than loopback takes clients from the network:
    /// without tokens anyone there could join any group, so that needs saying outright.
    func checkClientAuthentication(_ config: DaemonConfig, _ document: TOMLDocument) throws(ConfigError) {
        guard config.tokensFile == nil, config.tls == nil, !config.allowUnauthenticatedTCP else { return }
        for (index, peer) in config.daemons.enumerated() where peer.clientPort != 0 && !Self.isLoopback(peer.clientAddress) {
            let section = document.sections.filter { $0.name == "daemon" }[safe: index]
            throw fail(
                section?.entry("client_address")?.line ?? section?.line ?? 0, "daemon.client_address",
                "daemon '\(peer.name)' takes TCP clients on \(peer.clientAddress), not loopback, without authentication; expected [clients] tokens_file or tls_certificate and tls_key, or [clients] allow_unauthenticated_tcp = true on a trusted network")
        }
    }

    static func isLoopback(_ address: String) -> Bool {
        address == "::1" || address.hasPrefix("127.") || address == "localhost"
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
