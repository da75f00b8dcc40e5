import Chorus
import ChorusVerify
import ChorusLocalCluster
import Foundation
import NIOCore
import Testing

/// Real daemons in two sites on this host: the representatives bring up their hop link over real
/// UDP; when a representative is killed, its site's next daemon takes over and the link comes
/// back; clients of both sites get every message, and agreed and safe ones in one order.
@Suite struct WideAreaTests {
    static let sites = """

        [[site]]
        name = "east"
        [[site]]
        name = "west"
        [[link]]
        sites = ["east", "west"]
        cost = 30
        rate_mbit = 100

        """

    /// Three sites, each linked to the other two.
    static let threeSites = """

        [[site]]
        name = "east"
        [[site]]
        name = "west"
        [[site]]
        name = "north"
        [[link]]
        sites = ["east", "west"]
        [[link]]
        sites = ["west", "north"]
        [[link]]
        sites = ["north", "east"]

        """

    /// The `wideArea` part of a daemon's status, as JSON.
    static func wideArea(port: Int) async throws -> [String: Any] {
        try await wideArea(.tcp(host: "127.0.0.1", port: port))
    }

    static func wideArea(_ endpoint: ChorusEndpoint) async throws -> [String: Any] {
        let json = try await BadClientTests.status(endpoint)
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return document?["wideArea"] as? [String: Any] ?? [:]
    }

    static func linkIsUp(port: Int) async -> Bool {
        guard let wide = try? await wideArea(port: port), wide["representative"] as? Bool == true,
            let links = wide["links"] as? [[String: Any]]
        else { return false }
        return links.count == 1 && links[0]["up"] as? Bool == true
    }

    /// Whether the daemons on `ports` all deliver in one configuration of `sites` sites, not agreeing on another.
    static func merged(_ ports: [Int], sites: Int) async -> Bool {
        var ids: Set<String> = []
        for port in ports {
            guard let order = try? await wideArea(port: port)["order"] as? [String: Any],
                (order["configurationSites"] as? [String])?.count == sites, order["reconfiguring"] as? Bool == false,
                let id = order["configuration"] as? String
            else { return false }
            ids.insert(id)
        }
        return ids.count == 1
    }

    static func waitUntil(_ what: String, timeout: Double, _ condition: () async -> Bool) async throws -> Double {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if await condition() { return Date().timeIntervalSince(start) }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("\(what): not within \(timeout) s")
        return timeout
    }

    @Test func representativesLinkSitesAndHandOverWhenOneIsKilled() async throws {
        let cluster = try LocalCluster(count: 3, basePort: 22_900, extraConfig: Self.sites, sites: ["east", "east", "west"])
        defer { cluster.stop() }
        try await cluster.start()
        let (d1, d2, d3) = (cluster.members[0].clientPort, cluster.members[1].clientPort, cluster.members[2].clientPort)
        _ = try await Self.waitUntil("the link up at d1 and d3", timeout: 10) {
            let atD1 = await Self.linkIsUp(port: d1)
            let atD3 = await Self.linkIsUp(port: d3)
            return atD1 && atD3
        }
        // Once east's ring holds both daemons, d1 alone represents it.
        _ = try await Self.waitUntil("d2 not east's representative", timeout: 10) {
            (try? await Self.wideArea(port: d2))?["representative"] as? Bool == false
        }
        let links = try #require(try await Self.wideArea(port: d3)["links"] as? [[String: Any]])
        #expect((links.first?["roundTripMs"] as? Double).map { $0 > 0 && $0 < 50 } == true, "\(links)")
        cluster.kill9("d1")
        // West notices within the dead interval; east's ring re-forms (token timeout 300 ms) and
        // d2 takes over; the link comes back with d2.
        let handOver = try await Self.waitUntil("the link up again at d2", timeout: 10) {
            let atD2 = await Self.linkIsUp(port: d2)
            let atD3 = await Self.linkIsUp(port: d3)
            return atD2 && atD3
        }
        print("wide area: link back up \(String(format: "%.2f", handOver)) s after the representative was killed")
        #expect(handOver < 5, "hand-over took \(handOver) s")
        #expect(cluster.log("d3").contains("hop link to site east down"))
    }

    /// Clients on all three daemons (two in east, one in west) send fifo, agreed and safe
    /// messages; every client gets every message, each sender's in its order, and the agreed and
    /// safe ones in the same order everywhere. Then east's representative is killed with kill -9
    /// under traffic: the survivors still get everything the surviving clients send, in one order.
    @Test func clientMessagesCrossSitesInOneOrder() async throws {
        let cluster = try LocalCluster(count: 3, basePort: 23_100, extraConfig: Self.sites, sites: ["east", "east", "west"])
        defer { cluster.stop() }
        try await cluster.start()
        _ = try await Self.waitUntil("the link up", timeout: 10) {
            let atD1 = await Self.linkIsUp(port: cluster.members[0].clientPort)
            let atD3 = await Self.linkIsUp(port: cluster.members[2].clientPort)
            return atD1 && atD3
        }
        _ = try await Self.waitUntil("one configuration of both sites", timeout: 10) {
            await Self.merged(cluster.members.map(\.clientPort), sites: 2)
        }
        let recorder = HistoryRecorder()
        let clients = cluster.members.enumerated().map { index, member in
            TestClient(
                name: "c\(index + 1)", endpoint: member.endpoint, process: recorder.incarnate(UInt32(index + 1)), group: "g",
                fullGroup: 3, recorder: recorder)
        }
        // Views span sites: every client sees the members of both sites.
        for client in clients {
            try await client.wait("the group across both sites") { $0.lastRegular?.members.count == 3 }
        }
        let services: [Service] = [.fifo, .agreed, .safe]
        let rounds = 60
        for round in 0..<rounds {
            for client in clients { client.send(services[round % 3], size: 200) }
        }
        for client in clients {
            try await client.wait("every message", timeout: 30) { $0.messages.count == rounds * clients.count }
        }
        Self.expectOneOrder(clients, "before the kill")
        // Status shows the order: ready, and west's messages taken at east's d2.
        let order = try #require(try await Self.wideArea(port: cluster.members[1].clientPort)["order"] as? [String: Any])
        #expect(order["ready"] as? Bool == true)
        let sites = try #require(order["sites"] as? [[String: Any]])
        #expect(sites.first { $0["site"] as? String == "west" }?["received"] as? Int ?? 0 >= rounds, "\(sites)")

        // Kill east's representative under traffic; the others go on sending.
        for round in 0..<rounds {
            for client in clients.dropFirst() { client.send(services[round % 3], size: 200) }
            if round == rounds / 3 {
                cluster.kill9("d1")
                recorder.crashed(clients[0].process)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let survivors = Array(clients.dropFirst())
        do {
            for client in survivors {
                try await client.wait("every survivor's message", timeout: 30) {
                    $0.messages.count == rounds * clients.count + rounds * survivors.count
                }
            }
        } catch {
            // What the survivors' order layers hold, and the clients' counts per sender, for the report.
            for member in cluster.members.dropFirst() {
                print("\(member.name) wide area: \((try? await Self.wideArea(port: member.clientPort)) ?? [:])")
            }
            for client in survivors {
                print("\(client.name): \(Dictionary(grouping: client.messages, by: \.sender).mapValues(\.count))")
            }
            cluster.stop(keepFiles: true)
            print("daemon logs kept in \(cluster.directory.path)")
            throw error
        }
        Self.expectOneOrder(survivors, "after the kill")
        // The survivors' views drop d1's session in both sites, and extended virtual synchrony
        // holds on what the clients saw.
        for client in survivors {
            try await client.wait("the group without d1", timeout: 15) { $0.lastRegular?.members.count == 2 }
        }
        Self.expectVirtualSynchrony(recorder)
        for client in survivors { await client.stop() }
    }

    /// The checkers that apply to client-recorded histories (as `ClusterFixture.violations`),
    /// here across sites: configurations are inferred from the group's views, which span sites.
    static func expectVirtualSynchrony(_ recorder: HistoryRecorder, sourceLocation: SourceLocation = #_sourceLocation) {
        let violations = Checkers.checkAll(
            recorder.finish(),
            options: CheckOptions(livenessBound: 2_000_000_000).disabling(.safeDelivery, .liveness, .configurationConsistency))
        #expect(violations.isEmpty, "\(violations.prefix(5).map(\.description))", sourceLocation: sourceLocation)
    }

    /// Each sender's messages arrive in its order at every client, and the agreed and safe ones in
    /// one order at every client.
    static func expectOneOrder(_ clients: [TestClient], _ when: String) {
        func key(_ message: ChorusMessage) -> String {
            "\(message.sender):\(String(describing: message.payload.getInteger(at: message.payload.readerIndex, as: UInt64.self)))"
        }
        for client in clients {
            var last: [String: UInt64] = [:]
            for message in client.messages {
                let seq = message.payload.getInteger(at: message.payload.readerIndex, as: UInt64.self) ?? 0
                #expect(seq > last[message.sender, default: 0], "\(when): \(client.name) got \(key(message)) out of its sender's order")
                last[message.sender] = seq
            }
        }
        let orders = clients.map { $0.messages.filter { $0.service >= .agreed }.map(key) }
        for (client, order) in zip(clients, orders) {
            #expect(order == orders[0], "\(when): \(client.name)'s agreed order differs from \(clients[0].name)'s")
        }
    }

    static func micros(since start: ContinuousClock.Instant, _ clock: ContinuousClock) -> Int64 {
        let elapsed = clock.now - start
        return elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
    }

    /// Three sites, one daemon each, 30 ms apart (hop datagrams delayed by the daemons' test
    /// impairment), 10 ms heartbeats: every client gets every agreed message in one order, and a
    /// message from another site arrives within the one-way delay plus the heartbeat plus a few
    /// milliseconds (the issue's bound, 45 ms, at p50; real scheduling on two cores adds a little).
    /// With 5 % of hop datagrams lost too, nothing is lost or reordered, and the median holds.
    @Test(arguments: [0, 5])
    func agreedLatencyAcrossSitesThirtyMillisecondsApart(lossPercent: Int) async throws {
        let config = Self.threeSites + """
            [wide_area]
            heartbeat_ms = 10
            test_delay_ms = 30
            test_loss_percent = \(lossPercent)

            """
        let cluster = try LocalCluster(
            count: 3, basePort: 23_200 + 50 * lossPercent, extraConfig: config, sites: ["east", "west", "north"])
        defer { cluster.stop() }
        try await cluster.start()
        _ = try await Self.waitUntil("every link up", timeout: 15) {
            for member in cluster.members {
                guard let wide = try? await Self.wideArea(port: member.clientPort),
                    let links = wide["links"] as? [[String: Any]], links.count == 2,
                    links.allSatisfy({ $0["up"] as? Bool == true })
                else { return false }
            }
            return true
        }
        _ = try await Self.waitUntil("one configuration of the three sites", timeout: 10) {
            await Self.merged(cluster.members.map(\.clientPort), sites: 3)
        }
        let count = 100
        let clock = ContinuousClock()
        let start = clock.now
        let results = try await withThrowingTaskGroup(of: (Int, [String], [Double]).self) { group in
            for (index, member) in cluster.members.enumerated() {
                group.addTask {
                    try await ChorusClient.withSession(to: member.endpoint, name: "lat\(index)") { session in
                        try await session.join("g")
                        let sender = Task {
                            try await Task.sleep(for: .milliseconds(300))
                            for seq in 0..<count {
                                var payload = ByteBuffer()
                                payload.writeInteger(UInt8(index))
                                payload.writeInteger(UInt32(seq))
                                payload.writeInteger(Self.micros(since: start, clock))
                                try await session.multicast(payload, to: ["g"], service: .agreed)
                                try await Task.sleep(for: .milliseconds(7 + 3 * index))
                            }
                        }
                        var order: [String] = []
                        var latencies: [Double] = []
                        for try await event in session.events {
                            guard case .message(let message) = event else { continue }
                            var payload = message.payload
                            guard let from = payload.readInteger(as: UInt8.self), let seq = payload.readInteger(as: UInt32.self),
                                let sentAt = payload.readInteger(as: Int64.self)
                            else { continue }
                            order.append("\(from).\(seq)")
                            if Int(from) != index {
                                let now: Int64 = Self.micros(since: start, clock)
                                latencies.append(Double(now - sentAt) / 1000)
                            }
                            if order.count == count * 3 { break }
                        }
                        try await sender.value
                        return (index, order, latencies)
                    }
                }
            }
            var all: [(Int, [String], [Double])] = []
            for try await result in group { all.append(result) }
            return all.sorted { $0.0 < $1.0 }
        }
        let first: [String] = results[0].1
        for (index, order, _) in results {
            #expect(order.count == 3 * count)
            #expect(order == first, "client \(index)'s agreed order differs from client 0's")
        }
        let latencies: [Double] = results.flatMap { $0.2 }.sorted()
        let p50 = latencies[latencies.count / 2]
        let p99 = latencies[latencies.count * 99 / 100]
        print("agreed across 3 sites 30 ms apart, \(lossPercent) % loss (real daemons, 10 ms heartbeats): p50 \(p50) ms, p99 \(p99) ms over \(latencies.count) deliveries")
        // Under loss a lost datagram costs a round trip on its link (and a loaded CI machine adds more).
        #expect(p50 <= (lossPercent == 0 ? 50 : 100), "p50 \(p50) ms")
    }

    /// The order layer's counters of the daemon on `port` (`SiteOrderCounters`, as JSON).
    static func orderCounters(port: Int) async throws -> [String: Any] {
        ((try await wideArea(port: port)["order"] as? [String: Any])?["counters"] as? [String: Any]) ?? [:]
    }

    /// Pruning with real daemons: a group whose sessions are all in east. West's daemon gets
    /// stand-ins for its messages (their place in the order, no body): east's representative
    /// counts them sent and the bytes spared, west's daemon counts them taken. Then a client in
    /// west joins (west's first session in the group: its join is numbered past west's lease, and
    /// from then on east sends west the bodies): it gets every message sent after all three see
    /// it in the group, whole, and the agreed and safe ones in east's order.
    @Test func aSiteWithoutMembersGetsStandInsUntilOneJoins() async throws {
        let cluster = try LocalCluster(count: 3, basePort: 25_500, extraConfig: Self.sites, sites: ["east", "east", "west"])
        defer { cluster.stop() }
        try await cluster.start()
        let ports = cluster.members.map(\.clientPort)
        _ = try await Self.waitUntil("one configuration of both sites", timeout: 15) { await Self.merged(ports, sites: 2) }
        let recorder = HistoryRecorder()
        let east = [0, 1].map { index in
            TestClient(
                name: "e\(index + 1)", endpoint: cluster.members[index].endpoint, process: recorder.incarnate(UInt32(index + 1)),
                group: "east-only", fullGroup: 2, recorder: recorder)
        }
        for client in east { try await client.wait("east's view") { $0.lastRegular?.members.count == 2 } }
        let rounds = 60
        for round in 0..<rounds { for client in east { client.send([.fifo, .agreed, .safe][round % 3], size: 1000) } }
        for client in east { try await client.wait("east's messages", timeout: 20) { $0.messages.count == rounds * 2 } }
        let westTook = try await Self.waitUntil("west taking stand-ins", timeout: 10) {
            ((try? await Self.orderCounters(port: ports[2]))?["standInsTaken"] as? Int ?? 0) >= rounds * 2
        }
        var sent = 0
        var spared = 0
        for port in ports.prefix(2) {
            let counters = try await Self.orderCounters(port: port)
            sent += counters["standInsSent"] as? Int ?? 0
            spared += counters["bytesSpared"] as? Int ?? 0
        }
        print("pruning with real daemons: \(sent) stand-ins sent by east, \(spared) bytes spared, west took them within \(westTook) s")
        #expect(sent >= rounds * 2, "\(sent) stand-ins for \(rounds * 2) messages")
        #expect(spared >= rounds * 2 * 1000)

        let west = TestClient(
            name: "w", endpoint: cluster.members[2].endpoint, process: recorder.incarnate(3), group: "east-only", fullGroup: 3,
            recorder: recorder, lateJoiner: true)
        for client in east + [west] { try await client.wait("the group across both sites") { $0.lastRegular?.members.count == 3 } }
        let takenBefore = try await Self.orderCounters(port: ports[2])["standInsTaken"] as? Int ?? 0
        let marks = east.map { $0.messages.count }
        for round in 0..<rounds { for client in east { client.send([.fifo, .agreed, .safe][round % 3], size: 1000) } }
        for (index, client) in east.enumerated() {
            try await client.wait("east's messages after the join", timeout: 20) { $0.messages.count - marks[index] == rounds * 2 }
        }
        try await west.wait("every message after the join", timeout: 20) { $0.messages.count == rounds * 2 }
        #expect(west.messages.allSatisfy { $0.payload.readableBytes == 1000 }, "west got a message without its body")
        let eastOrder = east[0].messages[marks[0]...].filter { $0.service >= .agreed }.map { "\($0.sender):\($0.payload.getInteger(at: $0.payload.readerIndex, as: UInt64.self) ?? 0)" }
        let westOrder = west.messages.filter { $0.service >= .agreed }.map { "\($0.sender):\($0.payload.getInteger(at: $0.payload.readerIndex, as: UInt64.self) ?? 0)" }
        #expect(westOrder == eastOrder, "west's agreed order differs from east's")
        let takenAfter = try await Self.orderCounters(port: ports[2])["standInsTaken"] as? Int ?? 0
        #expect(takenAfter == takenBefore, "west took \(takenAfter - takenBefore) stand-ins after its session joined")
        for client in east + [west] { await client.stop() }
    }

    /// A whole site stopped and started again: west's only daemon killed with kill -9; east goes
    /// on as a configuration of its own (and its clients' messages flow meanwhile); west started
    /// again begins a new stream alone and merges; then every client gets every message, agreed
    /// and safe ones in one order.
    @Test func aWholeSiteRestartedMergesAgain() async throws {
        let cluster = try LocalCluster(count: 3, basePort: 23_600, extraConfig: Self.sites, sites: ["east", "east", "west"])
        defer { cluster.stop() }
        try await cluster.start()
        let ports = cluster.members.map(\.clientPort)
        _ = try await Self.waitUntil("one configuration of both sites", timeout: 15) { await Self.merged(ports, sites: 2) }
        cluster.kill9("d3")
        let alone = try await Self.waitUntil("east in a configuration of its own", timeout: 15) {
            await Self.merged(Array(ports.prefix(2)), sites: 1)
        }
        print("whole site killed: east alone after \(String(format: "%.2f", alone)) s")
        #expect(alone < 4, "east alone after \(alone) s")
        // East's clients carry on meanwhile.
        let recorder = HistoryRecorder()
        let east = [0, 1].map { index in
            TestClient(
                name: "e\(index + 1)", endpoint: cluster.members[index].endpoint, process: recorder.incarnate(UInt32(index + 1)),
                group: "g", fullGroup: 2, recorder: recorder)
        }
        for client in east { try await client.wait("east's view") { $0.lastRegular?.members.count == 2 } }
        for round in 0..<20 { for client in east { client.send([.fifo, .agreed, .safe][round % 3], size: 100) } }
        for client in east { try await client.wait("east's messages while west is down", timeout: 20) { $0.messages.count == 40 } }

        try cluster.launch("d3")
        try await cluster.waitUntilListening(cluster.members[2])
        let merged = try await Self.waitUntil("one configuration of both sites again", timeout: 20) { await Self.merged(ports, sites: 2) }
        print("whole site restarted: merged \(String(format: "%.2f", merged)) s after it listened")
        // Its proposals are numbered from the wall clock, so east does not take them for its
        // earlier incarnation's (which cost an agreement timeout, 3 s, before).
        #expect(merged < 3, "merged \(merged) s after the restart")
        let west = TestClient(
            name: "w", endpoint: cluster.members[2].endpoint, process: recorder.incarnate(3), group: "g", fullGroup: 3, recorder: recorder,
            lateJoiner: true)
        for client in east + [west] { try await client.wait("the group across both sites") { $0.lastRegular?.members.count == 3 } }
        let clients = east + [west]
        let marks = clients.map { $0.messages.count }
        let rounds = 30
        for round in 0..<rounds { for client in clients { client.send([.fifo, .agreed, .safe][round % 3], size: 200) } }
        for (index, client) in clients.enumerated() {
            try await client.wait("every message after the merge", timeout: 30) { $0.messages.count - marks[index] == rounds * clients.count }
        }
        let after = clients.indices.map { Array(clients[$0].messages[marks[$0]...]) }
        let orders = after.map { $0.filter { $0.service >= .agreed }.map { "\($0.sender):\($0.payload.getInteger(at: $0.payload.readerIndex, as: UInt64.self) ?? 0)" } }
        for (client, order) in zip(clients, orders) { #expect(order == orders[0], "\(client.name)'s agreed order differs") }
        for client in clients { await client.stop() }
    }

    /// Real restarts inside a site: east's representative is killed with kill -9 and restarted,
    /// then another east daemon; each comes back without the order's state, gets it from its
    /// ring, and the restarted representative takes its site back. Clients on the restarted
    /// daemons and in west then get every message, agreed and safe in one order.
    @Test func restartedDaemonsRejoinTheOrder() async throws {
        let cluster = try LocalCluster(
            count: 4, basePort: 23_400, extraConfig: Self.sites, sites: ["east", "east", "east", "west"])
        defer { cluster.stop() }
        try await cluster.start()
        let (d1, d2, d4) = (cluster.members[0], cluster.members[1], cluster.members[3])
        _ = try await Self.waitUntil("the link up", timeout: 10) {
            let atD1 = await Self.linkIsUp(port: d1.clientPort)
            let atD4 = await Self.linkIsUp(port: d4.clientPort)
            return atD1 && atD4
        }
        cluster.kill9("d1")
        _ = try await Self.waitUntil("d2 representing east", timeout: 10) { await Self.linkIsUp(port: d2.clientPort) }
        try cluster.launch("d1")
        try await cluster.waitUntilListening(d1)
        _ = try await Self.waitUntil("d1 representing east again", timeout: 10) { await Self.linkIsUp(port: d1.clientPort) }
        cluster.kill9("d3")
        // Relaunched only once east's ring has gone on without it (a new incarnation, not a blip).
        _ = try await Self.waitUntil("east's ring without d3", timeout: 10) {
            guard let json = try? await BadClientTests.status(port: d1.clientPort),
                let document = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                let ring = document["ring"] as? [String: Any], let members = ring["members"] as? [String]
            else { return false }
            return !members.contains("d3")
        }
        try cluster.launch("d3")
        try await cluster.waitUntilListening(cluster.members[2])
        _ = try await Self.waitUntil("one configuration of both sites", timeout: 15) {
            await Self.merged(cluster.members.map(\.clientPort), sites: 2)
        }

        let recorder = HistoryRecorder()
        let clients = [0, 2, 3].map { index in
            TestClient(
                name: "r\(index + 1)", endpoint: cluster.members[index].endpoint, process: recorder.incarnate(UInt32(index + 1)),
                group: "g", fullGroup: 3, recorder: recorder)
        }
        for client in clients {
            try await client.wait("the group across both sites", timeout: 20) { $0.lastRegular?.members.count == 3 }
        }
        let services: [Service] = [.fifo, .agreed, .safe]
        let rounds = 40
        for round in 0..<rounds {
            for client in clients { client.send(services[round % 3], size: 300) }
        }
        for client in clients {
            try await client.wait("every message", timeout: 30) { $0.messages.count == rounds * clients.count }
        }
        Self.expectOneOrder(clients, "after the restarts")
        #expect(cluster.log("d1").contains("representative of site east"))
        for client in clients { await client.stop() }
    }
}
