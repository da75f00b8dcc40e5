import ChorusCore
import ChorusWire
import Foundation
import Logging

extension DaemonConfig {
    /// Reads and validates a configuration file. Every error names the file, the line, the key,
    /// what is wrong and what was expected; the first one found is thrown.
    public static func load(file path: String) throws(ConfigError) -> DaemonConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: 0, key: "", message: "cannot read the file (\(error.localizedDescription))")
        }
        return try parse(text, file: path)
    }

    /// Validates configuration text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> DaemonConfig {
        let document: TOMLDocument
        do {
            document = try TOMLDocument(parsing: text)
        } catch {
            throw ConfigError(file: file, line: error.line, key: "", message: "TOML syntax: \(error.message)")
        }
        var loader = ConfigLoader(file: file)
        return try loader.load(document)
    }
}

/// Turns a parsed document into a `DaemonConfig`, checking every key.
struct ConfigLoader {
    let file: String

    func fail(_ line: Int, _ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: line, key: key, message: message)
    }

    static let daemonKeys = [
        "name", "id", "address", "port", "token_port", "client_port", "client_address", "unix_socket", "site", "hop_port", "spread_port", "spread_socket",
    ]
    static let ringKeys = [
        "token_timeout_ms", "token_retransmit_ms", "join_timeout_ms", "consensus_timeout_ms", "idle_hold_ms",
        "merge_probe_ms", "merge_backoff_ms", "max_gather_ms", "window", "max_packets_per_token", "accelerated_packets", "max_outstanding",
        "datagram_size", "max_message_size", "fail_to_receive_rotations", "multicast", "udp_offload",
    ]
    static let sessionKeys = [
        "max_sessions", "max_groups_per_session", "max_groups_per_message", "max_group_name_length",
        "max_pending_messages", "max_pending_bytes", "slow_receiver_timeout_ms", "max_client_backlog",
        "spread_max_session_messages",
    ]
    static let logKeys = ["level"]
    static let securityKeys = ["key_file"]

    mutating func load(_ document: TOMLDocument) throws(ConfigError) -> DaemonConfig {
        var config = DaemonConfig(daemons: [])
        var peers: [DaemonConfig.Peer] = []
        var sites: [DaemonConfig.Site] = []
        var linkSections: [TOMLDocument.Section] = []
        var ringSection: TOMLDocument.Section?
        var ruleSections: [TOMLDocument.Section] = []
        for section in document.sections {
            switch (section.name, section.isArrayElement) {
            case ("", false):
                if let entry = section.entries.first {
                    throw fail(entry.line, entry.key, "keys must be inside a table; expected [[daemon]], [[site]], [[link]], [ring], [wide_area], [sessions], [clients], [access], [[access_rule]], [security] or [log] before it")
                }
            case ("daemon", true):
                peers.append(try peer(section, position: peers.count + 1))
            case ("site", true):
                // Link-state reports and routed messages list sites: their counts are bounded on the wire.
                guard sites.count < WireLimits.maxSites else {
                    throw fail(section.line, "site", "more than \(WireLimits.maxSites) [[site]] tables; expected at most \(WireLimits.maxSites) sites")
                }
                sites.append(try site(section, position: sites.count + 1))
            case ("link", true):
                linkSections.append(section)
            case ("ring", false):
                try checkKeys(section, allowed: Self.ringKeys)
                ringSection = section
            case ("wide_area", false):
                try wideArea(section, into: &config)
            case ("sessions", false):
                try checkKeys(section, allowed: Self.sessionKeys)
                try sessions(section, into: &config)
            case ("clients", false):
                try checkKeys(section, allowed: Self.clientKeys)
                try clients(section, into: &config)
            case ("access", false):
                try checkKeys(section, allowed: Self.accessKeys)
                try access(section, into: &config)
            case ("access_rule", true):
                try checkKeys(section, allowed: Self.accessRuleKeys)
                ruleSections.append(section)
            case ("security", false):
                try checkKeys(section, allowed: Self.securityKeys)
                try security(section, into: &config)
            case ("log", false):
                try checkKeys(section, allowed: Self.logKeys)
                if let entry = section.entry("level") {
                    let text = try string(entry, "log.level")
                    guard let level = Logger.Level(rawValue: text) else {
                        throw fail(entry.line, "log.level", "'\(text)' is not a log level; expected one of trace, debug, info, notice, warning, error, critical")
                    }
                    config.logLevel = level
                }
            default:
                let header = section.isArrayElement ? "[[\(section.name)]]" : "[\(section.name)]"
                throw fail(section.line, section.name, "unknown table \(header); expected [[daemon]], [[site]], [[link]], [ring], [wide_area], [sessions], [clients], [access], [[access_rule]], [security] or [log]")
            }
        }
        guard !peers.isEmpty else {
            throw fail(1, "daemon", "no [[daemon]] table; expected one per daemon of the site, each with name and address")
        }
        try assignSites(document, sites, to: &peers)
        if !sites.isEmpty { config.sites = sites }
        config.links = try links(linkSections, sites: config.sites)
        try checkConnected(config, sections: linkSections, document: document)
        config.daemons = peers
        if config.sites.count > 1 { try checkHopPorts(document, peers) }
        try checkUnique(document, peers, wideArea: config.sites.count > 1)
        // An IPv6 header is 20 bytes longer: keep datagrams within a 1500-byte MTU unless told otherwise.
        if peers.contains(where: { $0.address.contains(":") }) { config.datagramSize = DaemonConfig.ipv6DatagramSize }
        if let ringSection { try ring(ringSection, into: &config) }
        for (index, section) in ruleSections.enumerated() {
            config.access.rules.append(
                try accessRule(section, position: index + 1, tokenNames: config.clientTokenNames, hasClientCA: config.tls?.clientCA != nil))
        }
        try checkClientAuthentication(config, document)
        config.setDatagramSize(config.datagramSize)
        return config
    }

    func checkKeys(_ section: TOMLDocument.Section, allowed: [String]) throws(ConfigError) {
        for entry in section.entries where !allowed.contains(entry.key) {
            throw fail(entry.line, "\(section.name).\(entry.key)", "unknown key; expected one of \(allowed.joined(separator: ", "))")
        }
    }

    // MARK: Value readers

    func string(_ entry: TOMLDocument.Entry, _ key: String) throws(ConfigError) -> String {
        guard case .string(let text) = entry.value else {
            throw fail(entry.line, key, "is \(entry.value.typeName); expected a string in quotes")
        }
        return text
    }

    func boolean(_ entry: TOMLDocument.Entry, _ key: String) throws(ConfigError) -> Bool {
        guard case .bool(let value) = entry.value else {
            throw fail(entry.line, key, "is \(entry.value.typeName); expected true or false")
        }
        return value
    }

    func integer(_ entry: TOMLDocument.Entry, _ key: String, _ range: ClosedRange<Int64>, unit: String = "") throws(ConfigError) -> Int {
        guard case .integer(let value) = entry.value else {
            throw fail(entry.line, key, "is \(entry.value.typeName); expected an integer from \(range.lowerBound) to \(range.upperBound)\(unit)")
        }
        guard range.contains(value) else {
            throw fail(entry.line, key, "\(value) is out of range; expected an integer from \(range.lowerBound) to \(range.upperBound)\(unit)")
        }
        return Int(value)
    }

    func port(_ entry: TOMLDocument.Entry, _ key: String, allowZero: Bool = false) throws(ConfigError) -> Int {
        try integer(entry, key, (allowZero ? 0 : 1)...65535, unit: allowZero ? " (0 turns it off)" : "")
    }

    func address(_ entry: TOMLDocument.Entry, _ key: String) throws(ConfigError) -> String {
        let text = try string(entry, key)
        guard isIPAddress(text) else {
            throw fail(entry.line, key, "'\(text)' is not an IP address; expected an IPv4 or IPv6 literal such as \"10.0.0.1\"")
        }
        return text
    }

    func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    // MARK: Tables

    /// The `name` of a `[[daemon]]` or `[[site]]` table: required, 1 to 32 printable ASCII
    /// characters without spaces.
    func name(of section: TOMLDocument.Section, table: String, example: String) throws(ConfigError) -> String {
        guard let entry = section.entry("name") else {
            throw fail(section.line, "\(table).name", "missing; every [[\(section.name)]] needs a name such as \"\(example)\"")
        }
        let name = try string(entry, "\(table).name")
        guard !name.isEmpty, name.utf8.count <= 32, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw fail(entry.line, "\(table).name", "'\(name)' is not a valid name; expected 1 to 32 printable ASCII characters without spaces")
        }
        return name
    }

    func peer(_ section: TOMLDocument.Section, position: Int) throws(ConfigError) -> DaemonConfig.Peer {
        let table = "daemon[\(position)]"
        try checkKeys(section, allowed: Self.daemonKeys)
        let name = try name(of: section, table: table, example: "d\(position)")
        guard let addressEntry = section.entry("address") else {
            throw fail(section.line, "\(table).address", "missing; expected the daemon's IP address such as \"10.0.0.\(position)\"")
        }
        let ringAddress = try address(addressEntry, "\(table).address")
        var id = UInt32(position)
        if let entry = section.entry("id") { id = UInt32(try integer(entry, "\(table).id", 1...1_000_000)) }
        var ringPort = DaemonConfig.defaultRingPort
        if let entry = section.entry("port") { ringPort = try port(entry, "\(table).port") }
        var tokenPort = ringPort + 1
        if let entry = section.entry("token_port") { tokenPort = try port(entry, "\(table).token_port") }
        guard tokenPort <= 65535 else {
            throw fail(section.entry("port")?.line ?? section.line, "\(table).token_port", "port + 1 = \(tokenPort) is not a port; set token_port (1 to 65535) or a lower port")
        }
        if tokenPort == ringPort {
            throw fail(section.entry("token_port")?.line ?? section.line, "\(table).token_port", "equals port \(ringPort); expected a second UDP port for the token")
        }
        // Checked in `checkHopPorts`, and only with several sites: a one-site file never uses it.
        var hopPort = ringPort + 2
        if let entry = section.entry("hop_port") { hopPort = try port(entry, "\(table).hop_port") }
        var clientPort = DaemonConfig.defaultClientPort
        if let entry = section.entry("client_port") { clientPort = try port(entry, "\(table).client_port", allowZero: true) }
        var clientAddress = "127.0.0.1"
        if let entry = section.entry("client_address") { clientAddress = try address(entry, "\(table).client_address") }
        var unixSocket = DaemonConfig.defaultUnixSocket(clientPort: clientPort)
        if let entry = section.entry("unix_socket") {
            unixSocket = try string(entry, "\(table).unix_socket")
            guard unixSocket.isEmpty || (unixSocket.hasPrefix("/") && unixSocket.utf8.count < 104) else {
                throw fail(entry.line, "\(table).unix_socket", "'\(unixSocket)' is not usable; expected an absolute path under 104 bytes, or \"\" to turn it off")
            }
        }
        var peer = DaemonConfig.Peer(
            name: name, id: id, address: ringAddress, port: ringPort, tokenPort: tokenPort, clientPort: clientPort,
            clientAddress: clientAddress, unixSocket: unixSocket, hopPort: hopPort)
        if let entry = section.entry("spread_port") {
            peer.spreadPort = try port(entry, "\(table).spread_port", allowZero: true)
            if peer.spreadPort != 0 { peer.spreadSocket = "/tmp/\(peer.spreadPort)" }
        }
        if let entry = section.entry("spread_socket") {
            let path = try string(entry, "\(table).spread_socket")
            guard path.isEmpty || (path.hasPrefix("/") && path.utf8.count < 104) else {
                throw fail(entry.line, "\(table).spread_socket", "'\(path)' is not usable; expected an absolute path under 104 bytes, or \"\" to turn it off")
            }
            peer.spreadSocket = path
        }
        if peer.spreadPort != 0, peer.spreadPort == peer.clientPort {
            throw fail(section.entry("spread_port")!.line, "\(table).spread_port", "equals client_port \(peer.clientPort); expected a port of its own (Spread's is 4803)")
        }
        return peer
    }

    /// Names, ids and UDP endpoints are unique (hop ports only with more than one site: a
    /// one-site file, written before sites existed, never uses them).
    func checkUnique(_ document: TOMLDocument, _ peers: [DaemonConfig.Peer], wideArea: Bool) throws(ConfigError) {
        let sections = document.sections.filter { $0.name == "daemon" && $0.isArrayElement }
        var names: [String: Int] = [:]
        var ids: [UInt32: Int] = [:]
        var endpoints: [String: Int] = [:]
        for (index, peer) in peers.enumerated() {
            let section = sections[index]
            let table = "daemon[\(index + 1)]"
            if let first = names[peer.name] {
                throw fail(section.entry("name")?.line ?? section.line, "\(table).name", "'\(peer.name)' is also the name of daemon[\(first + 1)]; expected unique names")
            }
            names[peer.name] = index
            if let first = ids[peer.id] {
                throw fail(section.entry("id")?.line ?? section.line, "\(table).id", "\(peer.id) is also the id of daemon[\(first + 1)]; expected unique ids")
            }
            ids[peer.id] = index
            let ports = [(peer.port, "port"), (peer.tokenPort, "token_port")] + (wideArea ? [(peer.hopPort, "hop_port")] : [])
            for (port, key) in ports {
                let endpoint = "\(peer.address):\(port)"
                if let first = endpoints[endpoint] {
                    throw fail(section.entry(key)?.line ?? section.line, "\(table).\(key)", "\(endpoint) is already used by daemon[\(first + 1)]; expected each daemon to have its own UDP ports")
                }
                endpoints[endpoint] = index
            }
            // Daemons with one ring address run on one host: their client listeners must differ
            // too, or the second would take over the first's Unix socket.
            for (otherIndex, other) in peers[..<index].enumerated() where other.address == peer.address {
                if peer.clientPort != 0, other.clientPort == peer.clientPort, other.clientAddress == peer.clientAddress {
                    throw fail(section.entry("client_port")?.line ?? section.line, "\(table).client_port", "\(peer.clientAddress):\(peer.clientPort) is also the client port of daemon[\(otherIndex + 1)] on the same host; expected its own client_port")
                }
                if !peer.unixSocket.isEmpty, other.unixSocket == peer.unixSocket {
                    throw fail(section.entry("unix_socket")?.line ?? section.line, "\(table).unix_socket", "'\(peer.unixSocket)' is also the Unix socket of daemon[\(otherIndex + 1)] on the same host; expected its own path")
                }
            }
        }
    }

    func multicastGroup(_ entry: TOMLDocument.Entry) throws(ConfigError) -> DaemonConfig.MulticastGroup {
        let text = try string(entry, "ring.multicast")
        let expected = "expected an IPv4 multicast group and port such as \"239.192.0.1:4803\""
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
            throw fail(entry.line, "ring.multicast", "'\(text)' is not address:port; \(expected)")
        }
        var address = in_addr()
        guard inet_pton(AF_INET, String(parts[0]), &address) == 1 else {
            throw fail(entry.line, "ring.multicast", "'\(parts[0])' is not an IPv4 address; \(expected)")
        }
        let firstOctet = UInt32(bigEndian: address.s_addr) >> 24
        guard (224...239).contains(firstOctet) else {
            throw fail(entry.line, "ring.multicast", "'\(parts[0])' is not a multicast address (224.0.0.0 to 239.255.255.255); \(expected)")
        }
        return DaemonConfig.MulticastGroup(address: String(parts[0]), port: port)
    }

    func sessions(_ section: TOMLDocument.Section, into config: inout DaemonConfig) throws(ConfigError) {
        var groupsPerSession = config.groupLimits.maxGroupsPerSession
        var groupsPerMessage = config.groupLimits.maxGroupsPerMessage
        var nameLength = config.groupLimits.maxGroupNameLength
        for entry in section.entries {
            let key = "sessions.\(entry.key)"
            switch entry.key {
            case "max_sessions": config.maxSessions = try integer(entry, key, 1...1_000_000)
            case "max_groups_per_session": groupsPerSession = try integer(entry, key, 1...Int64(WireLimits.maxGroupsPerSession))
            case "max_groups_per_message": groupsPerMessage = try integer(entry, key, 1...255)
            case "max_group_name_length": nameLength = try integer(entry, key, 1...Int64(WireLimits.maxGroupNameLength))
            case "max_pending_messages": config.ring.maxPendingMessages = try integer(entry, key, 16...1_000_000)
            case "max_pending_bytes": config.ring.maxPendingBytes = try integer(entry, key, 65536...(1 << 34), unit: " (bytes)")
            case "slow_receiver_timeout_ms":
                config.slowReceiverTimeout = UInt64(try integer(entry, key, 100...3_600_000, unit: " (milliseconds)")) * 1_000_000
            case "max_client_backlog":
                config.maxClientBacklog = try integer(entry, key, 65536...(1 << 34), unit: " (bytes)")
            case "spread_max_session_messages":
                config.spreadMaxSessionMessages = try integer(entry, key, 1...10_000_000, unit: " (messages)")
            default: break
            }
        }
        config.groupLimits = GroupLimits(
            maxGroupsPerMessage: groupsPerMessage, maxGroupNameLength: nameLength,
            maxGroupsPerSession: groupsPerSession, maxPayloadBytes: config.groupLimits.maxPayloadBytes)
    }

    func ring(_ section: TOMLDocument.Section, into config: inout DaemonConfig) throws(ConfigError) {
        var options = config.ring
        func ms(_ entry: TOMLDocument.Entry, _ range: ClosedRange<Int64>) throws(ConfigError) -> UInt64 {
            UInt64(try integer(entry, "ring.\(entry.key)", range, unit: " (milliseconds)")) * 1_000_000
        }
        for entry in section.entries {
            let key = "ring.\(entry.key)"
            switch entry.key {
            case "token_timeout_ms": options.tokenTimeout = try ms(entry, 20...600_000)
            case "token_retransmit_ms": options.tokenRetransmitTimeout = try ms(entry, 1...60_000)
            case "join_timeout_ms": options.joinTimeout = try ms(entry, 1...60_000)
            case "consensus_timeout_ms": options.consensusTimeout = try ms(entry, 10...600_000)
            case "idle_hold_ms": options.idleHold = try ms(entry, 1...60_000)
            case "merge_probe_ms": options.mergeProbeInterval = try ms(entry, 10...600_000)
            case "merge_backoff_ms": options.mergeBackoff = try ms(entry, 10...600_000)
            case "max_gather_ms": options.maxGatherTime = try ms(entry, 10...3_600_000)
            case "window": options.windowSize = try integer(entry, key, 10...100_000, unit: " (packets per rotation)")
            case "max_packets_per_token": options.maxPacketsPerToken = try integer(entry, key, 1...10_000)
            case "accelerated_packets": options.acceleratedPackets = try integer(entry, key, 0...10_000)
            case "max_outstanding":
                options.maxOutstanding = UInt64(try integer(entry, key, 100...1_000_000))
                config.automaticMaxOutstanding = false
            case "fail_to_receive_rotations": options.failToReceiveRotations = try integer(entry, key, 5...100_000)
            case "multicast": config.multicast = try multicastGroup(entry)
            case "udp_offload": config.udpOffload = try boolean(entry, key)
            case "datagram_size":
                if case .string(let text) = entry.value {
                    guard text == "auto" else {
                        throw fail(entry.line, key, "\"\(text)\" is not a size; expected \"auto\" or an integer from 576 to 65507 (bytes of UDP payload)")
                    }
                    config.automaticDatagramSize = true
                } else {
                    config.datagramSize = try integer(entry, key, 576...65_507, unit: " (bytes of UDP payload), or \"auto\"")
                    config.automaticDatagramSize = false
                }
            case "max_message_size":
                options.maxMessageSize = try integer(entry, key, 1024...Int64(WireLimits.maxMessageSize), unit: " (bytes)")
            default: break
            }
        }
        // The ring's timers must nest, or an idle ring would look broken.
        let line = { (key: String) in section.entry(key)?.line ?? section.line }
        guard options.tokenRetransmitTimeout < options.idleHold else {
            throw fail(line("token_retransmit_ms"), "ring.token_retransmit_ms", "\(options.tokenRetransmitTimeout / 1_000_000) ms is not below idle_hold_ms (\(options.idleHold / 1_000_000) ms); expected token_retransmit_ms < idle_hold_ms < token_timeout_ms")
        }
        guard options.idleHold * 2 < options.tokenTimeout else {
            throw fail(line("idle_hold_ms"), "ring.idle_hold_ms", "\(options.idleHold / 1_000_000) ms is more than half of token_timeout_ms (\(options.tokenTimeout / 1_000_000) ms); expected the token timeout to cover an idle hold and a rotation")
        }
        guard options.maxPacketsPerToken <= options.windowSize else {
            throw fail(line("max_packets_per_token"), "ring.max_packets_per_token", "\(options.maxPacketsPerToken) exceeds window (\(options.windowSize)); expected at most the window")
        }
        config.ring = options
    }
}

extension DaemonConfig {
    /// Bytes a datagram adds around the client data of one packet (headers, checksum, and the
    /// wrapper of a packet re-sent during recovery).
    public static let datagramOverhead = PacketCodec.recoveryDatagramOverhead
    /// The default `datagramSize` when a daemon of the site has an IPv6 address (1500-byte MTU).
    public static let ipv6DatagramSize = 1452
}
