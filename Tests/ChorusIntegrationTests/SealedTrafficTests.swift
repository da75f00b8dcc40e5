import Chorus
import ChorusLocalCluster
import ChorusSeal
import ChorusWire
import Foundation
import NIOCore
import Testing

/// Real daemons whose ring traffic is sealed (`[security] key_file`): they work as before; a
/// daemon with another key can neither join nor disturb them; replayed, forged and plain
/// datagrams are dropped and counted by cause; keys rotate under traffic without a restart.
@Suite(.serialized) struct SealedTrafficTests {
    static func security(_ keyFile: String) -> String { "\n[security]\nkey_file = \"\(keyFile)\"\n" }

    /// Writes a key file with `ids` into `directory` (fresh keys unless `reuse` has them).
    static func writeKeys(_ path: String, _ lines: [String]) throws {
        try KeyFile.write(lines.joined(separator: "\n") + "\n", to: path, replace: true)
    }

    /// One recording client in group `g` per daemon of `cluster`, over TCP.
    static func clients(of cluster: LocalCluster, fullGroup: Int) -> [TestClient] {
        let recorder = HistoryRecorder()
        return cluster.members.enumerated().map { index, member in
            TestClient(
                name: "c\(index + 1)", endpoint: member.endpoint, process: recorder.incarnate(UInt32(index + 1)), group: "g",
                fullGroup: fullGroup, recorder: recorder)
        }
    }

    /// The daemon's `security` status.
    static func security(port: Int) async throws -> [String: Any] {
        let json = try await BadClientTests.status(port: port)
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return document?["security"] as? [String: Any] ?? [:]
    }

    static func rejected(_ security: [String: Any], _ cause: SealRejection) -> Int {
        (security["rejected"] as? [String: Any])?[cause.rawValue] as? Int ?? 0
    }

    @Test func aDaemonWithAnotherKeyCanNeitherJoinNorDisturbTheRing() async throws {
        let cluster = try LocalCluster(count: 3, basePort: 24_100, extraConfig: Self.security("keys"))
        defer { cluster.stop() }
        let keys = cluster.directory.appendingPathComponent("keys").path
        try Self.writeKeys(keys, [KeyFile.newKeyLine(id: 1)])
        // d3 holds key 1 too, but other key material (a stolen id is not a key).
        let otherKeys = cluster.directory.appendingPathComponent("other-keys").path
        try Self.writeKeys(otherKeys, [KeyFile.newKeyLine(id: 1)])
        let text = try String(contentsOf: cluster.configFile, encoding: .utf8)
        try cluster.useConfig(text.replacingOccurrences(of: "key_file = \"keys\"", with: "key_file = \"other-keys\""), for: "d3")
        try await cluster.start()
        let clients = Self.clients(of: cluster, fullGroup: 2)
        defer { Task { for client in clients { await client.stop() } } }
        try await clients[0].wait("d1 and d2 in one group") { $0.lastRegular?.members.count == 2 }
        for round in 0..<40 {
            clients[0].send(round % 2 == 0 ? .agreed : .safe, size: 300)
            clients[1].send(.agreed, size: 300)
        }
        for client in clients.prefix(2) {
            try await client.wait("every message of d1 and d2") { $0.messages.count == 80 }
        }
        // d3 stays alone: its client sees itself only, and none of the others' messages.
        try await clients[2].wait("d3 alone") { $0.lastRegular?.members.count == 1 }
        try await Task.sleep(for: .milliseconds(500))
        #expect(clients[2].lastRegular?.members.count == 1)
        #expect(clients[2].messages.allSatisfy { $0.sender == clients[2].privateGroup })
        let atD1 = try await Self.security(port: cluster.members[0].clientPort)
        #expect(atD1["mode"] as? String == "sealed")
        #expect(Self.rejected(atD1, .badTag) > 0, "\(atD1)")
        #expect((atD1["opened"] as? Int ?? 0) > 0)
        let ring = try #require(try JSONSerialization.jsonObject(with: Data(try await BadClientTests.status(port: cluster.members[0].clientPort).utf8)) as? [String: Any])
        #expect(((ring["ring"] as? [String: Any])?["members"] as? [String])?.count == 2)
    }

    @Test func replayedForgedAndPlainDatagramsAreDroppedAndCountedByCause() async throws {
        // d3 is configured, never started: the test seals as d3 with the site's key.
        let cluster = try LocalCluster(count: 3, basePort: 24_200, extraConfig: Self.security("keys"))
        defer { cluster.stop() }
        let keys = cluster.directory.appendingPathComponent("keys").path
        try Self.writeKeys(keys, [KeyFile.newKeyLine(id: 1)])
        for name in ["d1", "d2"] { try cluster.launch(name) }
        for member in cluster.members.prefix(2) { try await cluster.waitUntilListening(member) }
        let port = cluster.members[0].ringPort
        var attacker = DatagramSealer(me: 3, incarnation: DatagramSealer.incarnationNow(), keys: try KeyFile.load(path: keys), members: [1, 2, 3])
        let allocator = ByteBufferAllocator()
        // Authentic but not a ring packet: opened, then refused by the ring's decoder.
        let authentic = attacker.seal(allocator.buffer(string: "not a ring packet"), channel: .ring, allocator: allocator)
        var forged = authentic
        // A new counter (a copy with the same one is refused as a replay before any crypto) and a flipped byte.
        forged.setInteger(UInt64(1000), at: 28)
        forged.setInteger(forged.getInteger(at: 40, as: UInt8.self)! ^ 0xFF, at: 40)
        var plain = allocator.buffer(capacity: 64)
        plain.writeInteger(PacketCodec.magic)
        plain.writeBytes([UInt8](repeating: 0, count: 62))
        var stranger = DatagramSealer(me: 99, incarnation: 1, keys: try KeyFile.load(path: keys), members: [1, 2, 3, 99])
        let fromStranger = stranger.seal(allocator.buffer(string: "x"), channel: .ring, allocator: allocator)
        let socket = try UDPSender()
        for datagram in [authentic, authentic, authentic, forged, plain, fromStranger] { socket.send(datagram, to: port) }
        var security: [String: Any] = [:]
        for _ in 0..<50 {
            security = try await Self.security(port: cluster.members[0].clientPort)
            if Self.rejected(security, .notMember) >= 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Self.rejected(security, .replay) == 2, "\(security)")
        #expect(Self.rejected(security, .badTag) == 1, "\(security)")
        #expect(Self.rejected(security, .unsealed) == 1, "\(security)")
        #expect(Self.rejected(security, .notMember) == 1, "\(security)")
        let log = cluster.log("d1")
        #expect(log.contains("dropped a ring datagram: replay"))
        #expect(!log.contains("PLAIN MODE"))
        // The ring of d1 and d2 was not disturbed.
        let status = try #require(try JSONSerialization.jsonObject(with: Data(try await BadClientTests.status(port: cluster.members[0].clientPort).utf8)) as? [String: Any])
        #expect(((status["ring"] as? [String: Any])?["members"] as? [String])?.count == 2)
    }

    @Test func keysRotateUnderTrafficWithoutARestart() async throws {
        let cluster = try LocalCluster(count: 3, basePort: 24_300, extraConfig: Self.security("keys"))
        defer { cluster.stop() }
        let keys = cluster.directory.appendingPathComponent("keys").path
        let first = KeyFile.newKeyLine(id: 1)
        let second = KeyFile.newKeyLine(id: 2)
        try Self.writeKeys(keys, [first])
        try await cluster.start()
        let clients = Self.clients(of: cluster, fullGroup: 3)
        defer { Task { for client in clients { await client.stop() } } }
        for client in clients { try await client.wait("the full group") { $0.lastRegular?.members.count == 3 } }
        let viewsBefore = clients.map { $0.views.count }
        var sent = 0
        func sendRound() {
            for client in clients { client.send(.agreed, size: 200) }
            sent += 1
        }
        func sealing() async throws -> [Int] {
            var ids: [Int] = []
            for member in cluster.members { ids.append(try await Self.security(port: member.clientPort)["sealingKey"] as? Int ?? -1) }
            return ids
        }
        for _ in 0..<20 { sendRound() }
        // Step 1: the new key everywhere; the daemons move to it once every one of them has it.
        try Self.writeKeys(keys, [first, second])
        cluster.signal("d1", SIGHUP)
        cluster.signal("d2", SIGHUP)
        for _ in 0..<20 { sendRound() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await sealing() == [1, 1, 1], "d3 has not reloaded: everyone stays on key 1")
        // d3 by the command instead of the signal: over TCP it is refused, on the Unix socket (as
        // the daemon's user) it reloads.
        let overTCP = try CommandLineTests.run(["reload-keys", "--daemon", "127.0.0.1:\(cluster.members[2].clientPort)"])
        #expect(overTCP.status != 0 && overTCP.output.contains("only the daemon's user"), "\(overTCP.output)")
        let reloaded = try CommandLineTests.run(["reload-keys", "--daemon", cluster.members[2].unixSocket])
        #expect(reloaded.status == 0 && reloaded.output.contains("keys reloaded: [1, 2]"), "\(reloaded.output)")
        _ = try await WideAreaTests.waitUntil("every daemon sealing with key 2", timeout: 10) { (try? await sealing()) == [2, 2, 2] }
        for _ in 0..<20 { sendRound() }
        // Step 2: the old key leaves every file.
        try Self.writeKeys(keys, [second])
        for member in cluster.members { cluster.signal(member.name, SIGHUP) }
        _ = try await WideAreaTests.waitUntil("every daemon holding key 2 only", timeout: 10) {
            var all = true
            for member in cluster.members {
                let security = (try? await Self.security(port: member.clientPort)) ?? [:]
                all = all && (security["keys"] as? [Int]) == [2]
            }
            return all
        }
        for _ in 0..<20 { sendRound() }
        for client in clients {
            try await client.wait("every message through the rotation") { $0.messages.count == sent * clients.count }
        }
        // No daemon was cut off on the way: no view changed.
        #expect(clients.map { $0.views.count } == viewsBefore)
        #expect(cluster.log("d1").contains("sealing with key 2 (was 1)"))
    }

    /// Issue 11's figure: a rotation under full load loses nothing and changes no configuration.
    @Test func aRotationUnderFullLoadLosesNothingAndChangesNoView() async throws {
        let cluster = try LocalCluster(count: 3, basePort: 24_600, extraConfig: Self.security("keys"))
        defer { cluster.stop() }
        let keys = cluster.directory.appendingPathComponent("keys").path
        let first = KeyFile.newKeyLine(id: 1)
        let second = KeyFile.newKeyLine(id: 2)
        try Self.writeKeys(keys, [first])
        try await cluster.start()
        let clients = Self.clients(of: cluster, fullGroup: 3)
        defer { Task { for client in clients { await client.stop() } } }
        for client in clients { try await client.wait("the full group") { $0.lastRegular?.members.count == 3 } }
        let viewsBefore = clients.map { $0.views.count }
        // Flat out: every client queues all its messages at once (the daemons pause it when
        // their send queue is full), and the keys rotate while they flow.
        let perClient = 40_000
        let total = perClient * clients.count
        for round in 0..<perClient { for client in clients { client.send(round % 4 == 0 ? .safe : .agreed, size: 200) } }
        func sealingKeys() async throws -> [Int] {
            var ids: [Int] = []
            for member in cluster.members { ids.append(try await Self.security(port: member.clientPort)["sealingKey"] as? Int ?? -1) }
            return ids
        }
        try await clients[0].wait("traffic under way") { $0.messages.count > 1000 }
        try Self.writeKeys(keys, [first, second])
        for member in cluster.members { cluster.signal(member.name, SIGHUP) }
        _ = try await WideAreaTests.waitUntil("every daemon sealing with key 2", timeout: 10) { (try? await sealingKeys()) == [2, 2, 2] }
        let atSwitch = clients[0].messages.count
        try Self.writeKeys(keys, [second])
        for member in cluster.members { cluster.signal(member.name, SIGHUP) }
        for client in clients {
            try await client.wait("every message", timeout: 120) { $0.messages.count == total }
        }
        print("rotation under full load: every daemon sealing with key 2 after \(atSwitch) of the \(total) messages c1 gets; views before \(viewsBefore), after \(clients.map { $0.views.count })")
        // The switch came while the clients were still sending flat out.
        #expect(atSwitch < total / 2, "key 2 everywhere only after \(atSwitch) of \(total) messages")
        #expect(clients.map { $0.views.count } == viewsBefore)
        var sealing: [Int] = []
        for member in cluster.members { sealing.append(try await Self.security(port: member.clientPort)["sealingKey"] as? Int ?? -1) }
        #expect(sealing == [2, 2, 2])
        WideAreaTests.expectOneOrder(clients, "through the rotation")
    }

    @Test func hopTrafficBetweenSitesIsSealedToo() async throws {
        let cluster = try LocalCluster(
            count: 3, basePort: 24_500, extraConfig: WideAreaTests.sites + Self.security("keys"), sites: ["east", "east", "west"])
        defer { cluster.stop() }
        try Self.writeKeys(cluster.directory.appendingPathComponent("keys").path, [KeyFile.newKeyLine(id: 1)])
        try await cluster.start()
        _ = try await WideAreaTests.waitUntil("one configuration of both sites", timeout: 15) {
            await WideAreaTests.merged(cluster.members.map(\.clientPort), sites: 2)
        }
        let clients = Self.clients(of: cluster, fullGroup: 3)
        defer { Task { for client in clients { await client.stop() } } }
        for client in clients { try await client.wait("the group across both sites") { $0.lastRegular?.members.count == 3 } }
        for round in 0..<30 { for client in clients { client.send(round % 2 == 0 ? .agreed : .safe, size: 500) } }
        for client in clients { try await client.wait("every message") { $0.messages.count == 90 } }
        WideAreaTests.expectOneOrder(clients, "sealed")
        // West's daemon (its site's representative) opened hop datagrams and dropped none.
        let west = try await Self.security(port: cluster.members[2].clientPort)
        #expect((west["opened"] as? Int ?? 0) > 0 && (west["rejected"] as? [String: Any])?.isEmpty == true, "\(west)")
        let hop = try await WideAreaTests.wideArea(port: cluster.members[2].clientPort)
        let bad = (hop["counters"] as? [String: Any])?["badDatagrams"] as? Int
        if bad != 0 {
            // An authenticated hop datagram that did not decode: what the daemon logged says why.
            let log = (try? String(contentsOf: cluster.directory.appendingPathComponent("d3.log"), encoding: .utf8)) ?? ""
            print("west's log on bad hop datagrams:\n" + log.split(separator: "\n").filter { $0.contains("bad hop datagram") }.joined(separator: "\n"))
        }
        // Once seen at 1 in a clean-clone CI run: the hop socket read east's sealed hellos before
        // its sealing was set, and decoded them as they came (keys now load before any socket).
        #expect(bad == 0, "\(hop)")
    }

    @Test func keyFilesOthersCanReadAreRefusedAndKeygenWritesOwnerOnlyFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let chorus = LocalCluster.siblingExecutable("chorus")
        let written = try CommandLineTests.runProgram(chorus, ["keygen", "--out", keys])
        #expect(written.status == 0, "\(written.output)")
        let added = try CommandLineTests.runProgram(chorus, ["keygen", "--out", keys, "--add"])
        #expect(added.status == 0 && added.output.contains("added key 2"), "\(added.output)")
        #expect(try KeyFile.load(path: keys).ids == [1, 2])
        let refused = try CommandLineTests.runProgram(chorus, ["keygen", "--out", keys])
        #expect(refused.status != 0 && refused.output.contains("exists"), "\(refused.output)")

        let config = directory.appendingPathComponent("chorus.toml").path
        try "[[daemon]]\nname = \"a\"\naddress = \"127.0.0.1\"\n\n[security]\nkey_file = \"keys\"\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let chorusd = LocalCluster.siblingExecutable("chorusd")
        let valid = try CommandLineTests.runProgram(chorusd, ["--check-config", config])
        #expect(valid.status == 0, "\(valid.output)")
        chmod(keys, 0o640)
        let open = try CommandLineTests.runProgram(chorusd, ["--check-config", config])
        #expect(open.status != 0, "\(open.output)")
        #expect(open.output.contains("chorus.toml:6: security.key_file") && open.output.contains("chmod 600"), "\(open.output)")
    }
}

/// A plain UDP socket on 127.0.0.1 for sending crafted datagrams.
final class UDPSender {
    let fd: Int32
    init() throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
    }
    deinit { close(fd) }
    func send(_ buffer: ByteBuffer, to port: Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bytes = Array(buffer.readableBytesView)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, socketAddress, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }
}
