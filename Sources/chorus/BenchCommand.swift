import ArgumentParser
import ChorusSeal
import Chorus
import ChorusLocalCluster
import Foundation
import Histogram
import NIOCore

/// `chorus bench`: senders and receivers on every daemon of a local (or running) site.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure delivered throughput and latency with sender and receiver clients on every daemon.",
        discussion: """
            Starts --daemons local daemons (or uses the running ones named with --connect), one receiver and
            --senders sender sessions per daemon. Receivers join group 'bench'; senders multicast to it flat out
            (or at --rate per sender). Latency is from the sender's write to the receiver's read, on this host's
            monotonic clock. --in-flight 1 measures one-way latency in a closed loop: the first daemon's receiver
            is the one sender and sends its next message when its own daemon has delivered the last one to it
            (as Spread's, Corosync's and the null relay's benchmarks do); every receiver reports its latency.
            """)

    @Option(help: "Local daemons to start (ignored with --connect).")
    var daemons: Int = 3

    @Option(help: "A running daemon to use instead (repeatable): host:port or a Unix socket path.")
    var connect: [String] = []

    @Option(help: "Senders per daemon.")
    var senders: Int = 1

    @Option(help: "Daemons with senders: the first N (default: every daemon).")
    var senderDaemons: Int?

    @Option(help: "The first N daemons run no receiver, only senders (a sender on one daemon, receivers on others).")
    var skipReceivers: Int = 0

    @Option(help: "Service: \(Service.allValueStrings.joined(separator: ", ")).")
    var service: Service = .agreed

    @Option(help: "Payload bytes per message (at least 24).")
    var size: Int = 1000

    @Option(help: "Messages per second per sender; 0 is flat out.")
    var rate: Int = 0

    @Option(help: "Messages each sender may have sent and not yet delivered to the first receiver; 0 is unbounded.")
    var inFlight: Int = 0

    /// What the one sender of `--in-flight 1` waits for before its next message.
    enum Pace: String, ExpressibleByArgument, CaseIterable {
        /// Its own daemon delivered the last message to it (the peers' benchmarks do this).
        case own
        /// The next daemon's receiver has the last message (strictly one in flight).
        case next
    }

    @Option(help: "With --in-flight 1: send the next message once the last is delivered to the sender itself (own) or to the next daemon's receiver (next).")
    var pace: Pace = .own

    @Option(help: "Seconds measured (after --warmup).")
    var duration: Double = 10

    @Option(help: "Seconds of traffic before measuring.")
    var warmup: Double = 1

    @Option(help: "First client port of the local daemons.")
    var basePort: Int = 5100

    @Option(help: "Ring window of the local daemons (packets per rotation); default: chorusd's.")
    var window: Int?

    @Option(help: "Packets one daemon may send per token visit; default: chorusd's.")
    var packetsPerToken: Int?

    @Option(help: "Largest UDP payload of the local daemons' ring datagrams (e.g. 8972 on a 9000-byte MTU); default: chorusd's.")
    var datagramSize: Int?

    @Flag(help: "Turn off UDP segmentation and receive offload in the local daemons.")
    var noUdpOffload = false

    @Flag(help: "Seal the daemons' traffic with a fresh key (as [security] key_file does).")
    var sealed = false

    @Option(help: "Send ring data by IP multicast to this group (e.g. 239.192.0.1:4803) instead of unicast fan-out.")
    var multicast: String?

    @Flag(help: "Connect through the daemons' Unix sockets instead of TCP.")
    var unix = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Option(help: "Sites to spread the local daemons over, round robin (more than 1: joined by the hop protocol, one order across sites).")
    var sites = 1

    @Option(name: .customLong("wan-delay"), help: "With --sites: one-way delay between sites, ms (the daemons delay their own hop datagrams: a test impairment).")
    var wanDelay = 0

    @Option(name: .customLong("wan-loss"), help: "With --sites: percent of hop datagrams dropped (test impairment).")
    var wanLoss = 0

    @Option(help: "With --sites: heartbeat interval of the order across sites, ms.")
    var heartbeat = 10

    @Option(name: .customLong("wan-rate"), help: "With --sites: rate limit of every wide-area link, Mbit/s (rate_mbit).")
    var wanRate = 100

    @Flag(name: .customLong("wan-fixed-outbox"), help: "With --sites: pace_by_bandwidth_delay = false (a site keeps up to the fixed maximum for the others).")
    var wanFixedOutbox = false

    /// Each local daemon's site index (round robin), with --sites above 1.
    var siteOf: [Int]? { sites > 1 && connect.isEmpty ? (0..<daemons).map { $0 % sites } : nil }

    /// The `[[site]]`, `[[link]]` and `[wide_area]` tables for --sites.
    var sitesConfig: String {
        var text = "\n"
        for site in 0..<sites { text += "[[site]]\nname = \"s\(site + 1)\"\n" }
        var links: [(Int, Int)] = []
        if sites <= 4 {
            for a in 0..<sites { for b in (a + 1)..<sites { links.append((a, b)) } }
        } else {
            links = (0..<sites).map { ($0, ($0 + 1) % sites) }
        }
        for (a, b) in links { text += "[[link]]\nsites = [\"s\(a + 1)\", \"s\(b + 1)\"]\nrate_mbit = \(wanRate)\n" }
        text += "[wide_area]\nheartbeat_ms = \(heartbeat)\ntest_delay_ms = \(wanDelay)\ntest_loss_percent = \(wanLoss)\n"
        if wanFixedOutbox { text += "pace_by_bandwidth_delay = false\n" }
        return text
    }

    func validate() throws {
        if size < BenchPayload.headerSize { throw ValidationError("--size must be at least \(BenchPayload.headerSize)") }
        if daemons < 1 || daemons > 16 { throw ValidationError("--daemons is 1 to 16") }
        if senders < 0 { throw ValidationError("--senders is 0 or more") }
        if let senderDaemons, senderDaemons < 1 { throw ValidationError("--sender-daemons is 1 or more") }
        if skipReceivers < 0 { throw ValidationError("--skip-receivers is 0 or more") }
        if skipReceivers > 0, inFlight == 1 { throw ValidationError("--skip-receivers does not go with --in-flight 1 (its sender is the first daemon's receiver)") }
        if sites < 1 || sites > daemons { throw ValidationError("--sites is 1 to --daemons") }
        if !(0...10_000).contains(wanDelay) || !(0...99).contains(wanLoss) || !(1...10_000).contains(heartbeat)
            || !(1...1_000_000).contains(wanRate)
        {
            throw ValidationError("--wan-delay is 0 to 10000 ms, --wan-loss 0 to 99 %, --heartbeat 1 to 10000 ms, --wan-rate 1 to 1000000 Mbit/s")
        }
    }

    func run() async throws {
        var cluster: LocalCluster?
        var endpoints: [ChorusEndpoint] = []
        if connect.isEmpty {
            var ring = ""
            if window != nil || packetsPerToken != nil || multicast != nil || datagramSize != nil || noUdpOffload {
                ring = "[ring]\n"
                if let multicast { ring += "multicast = \"\(multicast)\"\n" }
                if let window { ring += "window = \(window)\n" }
                if let packetsPerToken { ring += "max_packets_per_token = \(packetsPerToken)\n" }
                if let datagramSize { ring += "datagram_size = \(datagramSize)\n" }
                if noUdpOffload { ring += "udp_offload = false\n" }
            }
            let local = try LocalCluster(
                count: daemons, basePort: basePort, ringSection: ring,
                extraConfig: (sites > 1 ? sitesConfig : "") + (sealed ? "\n[security]\nkey_file = \"keys\"\n" : ""), logLevel: "warning",
                sites: siteOf.map { $0.map { "s\($0 + 1)" } })
            cluster = local
            if sealed {
                try KeyFile.write(
                    KeyFile.newKeyLine(id: 1) + "\n", to: local.directory.appendingPathComponent("keys").path, replace: true)
            }
            if !json {
                printError("starting \(daemons) daemon(s) on 127.0.0.1 from port \(basePort)\(sites > 1 ? " in \(sites) sites, \(wanDelay) ms apart" : "")")
            }
            try await local.start()
            endpoints = local.members.map { unix ? $0.unixEndpoint : $0.endpoint }
        } else {
            for text in connect {
                guard let endpoint = ChorusEndpoint(parsing: text) else { throw ValidationError("--connect '\(text)' is not an endpoint") }
                endpoints.append(endpoint)
            }
        }
        defer { cluster?.stop() }
        let result = try await BenchRun(options: self, endpoints: endpoints).run()
        if json {
            print(result.json())
        } else {
            print(result.text())
        }
    }
}

/// The first bytes of every bench payload: when it was sent, by whom, its number.
enum BenchPayload {
    static let headerSize = 24

    static func make(size: Int, sender: Int, seq: UInt64, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: size)
        write(count: 1, size: size, sender: sender, firstSeq: seq, into: &buffer)
        return buffer
    }

    /// Appends `count` payloads, numbered from `firstSeq`, all stamped with the time now.
    static func write(count: Int, size: Int, sender: Int, firstSeq: UInt64, into buffer: inout ByteBuffer) {
        let now = monotonicNanoseconds()
        for offset in 0..<count {
            buffer.writeInteger(now)
            buffer.writeInteger(UInt64(sender))
            buffer.writeInteger(firstSeq + UInt64(offset))
            buffer.writeRepeatingByte(0x2A, count: size - headerSize)
        }
    }

    static func read(_ payload: ByteBuffer) -> (sent: UInt64, sender: Int, seq: UInt64)? {
        guard let sent = payload.getInteger(at: payload.readerIndex, as: UInt64.self),
            let sender = payload.getInteger(at: payload.readerIndex + 8, as: UInt64.self),
            let seq = payload.getInteger(at: payload.readerIndex + 16, as: UInt64.self)
        else { return nil }
        return (sent, Int(sender), seq)
    }
}

/// The host's monotonic clock, shared by every process here (send and receive times compare).
func monotonicNanoseconds() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
