import ChorusLocalCluster
import Foundation
import Testing

/// A network whose MTU is below the datagram size (an overlay or a tunnel, say). UDP segmentation
/// offload must stay off there, since the kernel refuses a run whose datagrams exceed the MTU, and
/// the ring must still carry large messages, the kernel fragmenting each datagram.
/// iproute2's `ip`, where this system has it.
private let ipTool = ["/usr/sbin/ip", "/sbin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Needs root and iproute2 (`ip netns`), as CI has.
@Suite(.serialized, .enabled(if: geteuid() == 0 && ipTool != nil, "needs root and ip netns"))
struct LowMTUTests {

    static func ip(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ipTool!)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ClusterError("ip \(arguments.joined(separator: " ")) failed") }
    }

    @Test func ringWorksOverALinkBelowTheDatagramSize() throws {
        // A namespace of our own: its loopback gets a 1400-byte MTU, below 1472 + 28 bytes.
        let namespace = "chorus-mtu-\(getpid())"
        try Self.ip("netns", "add", namespace)
        defer { try? Self.ip("netns", "del", namespace) }
        try Self.ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up", "mtu", "1400")
        let chorus = LocalCluster.siblingExecutable("chorus")
        let (status, output) = try CommandLineTests.runProgram(
            ipTool!,
            [
                "netns", "exec", namespace, chorus, "bench", "--size", "10000", "--duration", "2", "--warmup", "0.5",
                // Unix sockets live in the shared /tmp: a port of its own keeps them apart from anyone else's.
                "--base-port", "21960", "--json",
            ],
            timeout: 60)
        #expect(status == 0, "\(output)")
        // The JSON document is the output from its first line that opens an object (progress goes to stderr first).
        let start = try #require(output.range(of: "\n{") ?? (output.hasPrefix("{") ? output.startIndex..<output.startIndex : nil), "\(output)")
        let json = String(output[start.lowerBound...])
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(output)")
        let receivers = try #require(result["receivers"] as? [[String: Any]], "\(json)")
        let rates = receivers.compactMap { $0["msgPerSec"] as? Double }
        print("10000 B over a 1400-byte MTU, 1472-byte datagrams: \(rates.map { Int($0) }) msg/s at the receivers")
        // Every daemon delivers (a daemon whose sends the kernel refused would fall silent).
        #expect(rates.count == 3 && rates.allSatisfy { $0 > 1000 }, "\(json)")
    }
}
