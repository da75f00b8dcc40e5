import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A private LAN of Linux network namespaces, one per daemon, for tests that cut real links.
///
/// Daemon `i` (from 1) lives in namespace `<prefix>-d<i>` with address 198.18.0.`i`/24 on a veth
/// whose other end is a port of a bridge in the hub namespace `<prefix>-hub`. Setting that port
/// down (`cut`) cuts the daemon off from every other daemon as an unplugged cable would; `restore`
/// plugs it back in. Nothing touches the host's own namespace except the namespace files; clients
/// reach the daemons over their Unix sockets, which namespaces do not separate.
///
/// Needs root and iproute2. `destroy()` (also run by `deinit`) deletes every namespace it made,
/// which deletes their links too; `removeStale()` clears what a killed earlier run left behind.
public final class NamespaceNetwork: @unchecked Sendable {
    public let prefix: String
    public let count: Int
    private let lock = NSLock()
    private var created: [String] = []

    /// The `ip` executable, or nil where iproute2 is missing.
    public static let ipTool: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Why namespace tests cannot run here, or nil when they can (root and iproute2); probed once.
    public static let unavailableReason: String? = {
        if getuid() != 0 { return "network namespaces need root (uid is \(getuid()))" }
        guard let ip = ipTool else { return "iproute2's `ip` is not installed" }
        let probe = "chorus-probe-\(getpid())"
        guard (try? run(ip, ["netns", "add", probe])) != nil else { return "`ip netns add` failed here" }
        _ = try? run(ip, ["netns", "del", probe])
        return nil
    }()

    /// Creates `count` daemon namespaces joined by one bridge. Namespace names carry this
    /// process's pid, so concurrent runs do not collide and stale ones can be recognised.
    public init(count: Int, tag: String = "net") throws {
        precondition((1...200).contains(count))
        guard let ip = Self.ipTool else { throw ClusterError("iproute2's `ip` is not installed") }
        self.prefix = "chorus-\(getpid())-\(tag)"
        self.count = count
        Self.removeStale()
        do {
            let hub = hubName
            try add(hub)
            try Self.run(ip, ["-n", hub, "link", "add", "br0", "type", "bridge"])
            try Self.run(ip, ["-n", hub, "link", "set", "br0", "up"])
            for index in 1...count {
                let space = namespace(index)
                try add(space)
                try Self.run(ip, ["-n", space, "link", "set", "lo", "up"])
                // Created inside the daemon's namespace; the hub end then moves to the hub.
                try Self.run(ip, ["-n", space, "link", "add", "eth0", "type", "veth", "peer", "name", port(index)])
                try Self.run(ip, ["-n", space, "link", "set", port(index), "netns", hub])
                try Self.run(ip, ["-n", space, "addr", "add", "\(address(index))/24", "dev", "eth0"])
                try Self.run(ip, ["-n", space, "link", "set", "eth0", "up"])
                try Self.run(ip, ["-n", hub, "link", "set", port(index), "master", "br0"])
                try Self.run(ip, ["-n", hub, "link", "set", port(index), "up"])
            }
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    public var hubName: String { "\(prefix)-hub" }
    /// Daemon `index`'s namespace (from 1).
    public func namespace(_ index: Int) -> String { "\(prefix)-d\(index)" }
    /// Daemon `index`'s ring address.
    public func address(_ index: Int) -> String { "198.18.0.\(index)" }
    /// The bridge port (in the hub) of daemon `index`'s cable.
    public func port(_ index: Int) -> String { "p\(index)" }

    /// The command prefix that runs a program inside daemon `index`'s namespace.
    public func launcher(_ index: Int) -> [String] { [Self.ipTool ?? "ip", "netns", "exec", namespace(index)] }

    /// Unplugs daemon `index`'s cable: it can reach no other daemon until `restore(index)`.
    public func cut(_ index: Int) throws { try setPort(index, "down") }

    /// Plugs daemon `index`'s cable back in.
    public func restore(_ index: Int) throws { try setPort(index, "up") }

    private func setPort(_ index: Int, _ state: String) throws {
        try Self.run(Self.ipTool ?? "ip", ["-n", hubName, "link", "set", port(index), state])
    }

    private func add(_ name: String) throws {
        try Self.run(Self.ipTool ?? "ip", ["netns", "add", name])
        lock.withLock { created.append(name) }
    }

    /// Deletes every namespace this network made (their veths and bridge go with them).
    public func destroy() {
        let names = lock.withLock {
            defer { created.removeAll() }
            return created
        }
        for name in names.reversed() { _ = try? Self.run(Self.ipTool ?? "ip", ["netns", "del", name]) }
    }

    /// Deletes `chorus-<pid>-…` namespaces whose process no longer runs (a run killed before it
    /// could clean up).
    public static func removeStale() {
        guard let ip = ipTool, let names = try? FileManager.default.contentsOfDirectory(atPath: "/run/netns") else { return }
        for name in names where name.hasPrefix("chorus-") {
            let parts = name.split(separator: "-")
            guard parts.count >= 3, let pid = Int32(parts[1]), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { _ = try? run(ip, ["netns", "del", name]) }
        }
    }

    /// Runs a command to completion; throws with its output when it fails.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw ClusterError("`\(tool) \(arguments.joined(separator: " "))` failed (\(process.terminationStatus)): \(text)")
        }
        return text
    }
}
