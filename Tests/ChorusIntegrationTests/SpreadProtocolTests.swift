import Chorus
import ChorusLocalCluster
import Foundation
import NIOCore
import Testing

/// chorusd's Spread-compatible listener with real daemons: Spread clients (a test client that
/// speaks the protocol byte for byte, in both byte orders, over TCP and the Unix socket) and
/// Chorus clients in the same groups.
@Suite(.serialized) struct SpreadProtocolTests {
    static func cluster(basePort: Int, extraConfig: String = "") async throws -> LocalCluster {
        let cluster = try LocalCluster(count: 3, basePort: basePort, extraConfig: extraConfig, spread: true)
        do {
            try await cluster.start()
        } catch {
            cluster.stop(keepFiles: true)
            throw error
        }
        return cluster
    }

    /// Runs `body` on a thread of its own (the Spread test client blocks).
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    @Test func spreadAndChorusClientsShareAGroupAndOneAgreedOrder() async throws {
        let cluster = try await Self.cluster(basePort: 26_100)
        defer { cluster.stop() }
        let d1 = cluster.member("d1"), d2 = cluster.member("d2"), d3 = cluster.member("d3")
        let perSender = 60
        // Spread clients: little-endian over TCP at d1, big-endian over the Unix socket at d2.
        let little = try SpreadTestClient(port: d1.spreadPort, name: "lefty")
        let big = try SpreadTestClient(path: d2.spreadSocket, name: "righty", little: false)
        #expect(little.privateGroup.hasPrefix("#") && big.privateGroup != little.privateGroup)
        little.join("mix")
        big.join("mix")
        let chorusOrder = try await ChorusClient.withSession(to: d3.endpoint, name: "native") { session in
            try await session.join("mix")
            // Wait for the view with all three members, then send interleaved with the others.
            var iterator = session.events.makeAsyncIterator()
            while let event = try await iterator.next() {
                if case .membership(let view) = event, view.members.count == 3 { break }
            }
            async let spreadSenders: [[String]] = Self.blocking {
                let senders = [little, big]
                for index in 0..<perSender {
                    for (which, client) in senders.enumerated() {
                        client.multicast("s\(which)-\(index)", to: ["mix"], service: 4, messageType: UInt16(which + 1))
                    }
                }
                // Each Spread client reads until it has every data message (membership messages
                // first: the joins).
                return try senders.map { client in
                    var texts: [String] = []
                    while texts.count < 3 * perSender {
                        let message = try client.receive()
                        if message.isData {
                            #expect(message.groups == ["mix"])
                            texts.append(message.text)
                        }
                    }
                    return texts
                }
            }
            for index in 0..<perSender { try await session.multicast("c-\(index)", to: ["mix"]) }
            var texts: [String] = []
            while texts.count < 3 * perSender, let event = try await iterator.next() {
                if case .message(let message) = event { texts.append(message.text) }
            }
            let spread = try await spreadSenders
            return [texts] + spread
        }
        #expect(chorusOrder[0].count == 3 * perSender)
        #expect(chorusOrder[1] == chorusOrder[0], "the little-endian Spread client's order differs from the Chorus client's")
        #expect(chorusOrder[2] == chorusOrder[0], "the big-endian Spread client's order differs from the Chorus client's")
        #expect(Set(chorusOrder[0]).count == 3 * perSender)
    }

    @Test func membershipMessagesAsLibspreadParsesThem() async throws {
        let cluster = try await Self.cluster(basePort: 26_200)
        defer { cluster.stop() }
        let d1 = cluster.member("d1"), d2 = cluster.member("d2")
        try await Self.blocking {
            let first = try SpreadTestClient(port: d1.spreadPort, name: "first")
            first.join("room")
            // A view caused by the network (the two daemons' ring still forming as the test starts)
            // may come first; the join views are the ones checked.
            let own = try first.receive(until: { $0.isRegularMembership && $0.type & 0x0800 == 0 })
            // CAUSED_BY_JOIN, the group in the sender field, the members as the groups, one vs set
            // holding the joiner, offset 0.
            #expect(own.type & 0x0100 != 0 && own.sender == "room" && own.groups == [first.privateGroup])
            #expect(own.membership.sets == [[first.privateGroup]] && own.membership.local == 0)
            let second = try SpreadTestClient(port: d2.spreadPort, name: "second", little: false)
            second.join("room")
            let joined = try first.receive(until: { $0.isRegularMembership && $0.type & 0x0800 == 0 })
            #expect(joined.type & 0x0100 != 0 && Set(joined.groups) == [first.privateGroup, second.privateGroup])
            #expect(joined.membership.sets == [[second.privateGroup]])
            let seenBySecond = try second.receive(until: { $0.isRegularMembership && $0.type & 0x0800 == 0 })
            #expect(seenBySecond.little == false, "a big-endian client is answered in its own order")
            #expect(seenBySecond.groups == joined.groups)
            #expect(seenBySecond.membership.groupID == joined.membership.groupID)
            // A multicast with a message type, self-discarded at its sender.
            second.multicast("to the room", to: ["room"], service: 5, messageType: 4242, selfDiscard: true)
            let data = try first.receive(until: { $0.isData })
            // Spread shows the sender's self-discard bit to the others too.
            #expect(data.type & 0x7F == 0x60 && data.sender == second.privateGroup && data.messageType == 4242 && data.text == "to the room")
            // A private message to one session by its private group.
            first.multicast("just you", to: [second.privateGroup], service: 2)
            let direct = try second.receive(until: { $0.isData })
            #expect(direct.text == "just you" && direct.sender == first.privateGroup, "self-discarded message delivered, or the private one lost: \(direct)")
            // Leave: the leaver gets Spread's self-leave notice; the other a CAUSED_BY_LEAVE view.
            second.leave("room")
            let selfLeave = try second.receive(until: { $0.isSelfLeave || $0.isRegularMembership })
            #expect(selfLeave.isSelfLeave && selfLeave.sender == "room")
            let left = try first.receive(until: { $0.isRegularMembership })
            #expect(left.type & 0x0200 != 0 && left.groups == [first.privateGroup] && left.membership.sets == [[second.privateGroup]])
            // Disconnect: CAUSED_BY_DISCONNECT at the other member.
            second.join("room")
            _ = try first.receive(until: { $0.isRegularMembership })
            second.disconnect()
            let gone = try first.receive(until: { $0.isRegularMembership })
            #expect(gone.type & 0x0400 != 0 && gone.groups == [first.privateGroup])
        }
    }

    @Test func handshakeRefusalsCarrySpreadsCodes() async throws {
        let cluster = try await Self.cluster(basePort: 26_300)
        defer { cluster.stop() }
        let port = cluster.member("d1").spreadPort
        try await Self.blocking {
            let holder = try SpreadTestClient(port: port, name: "taken")
            func code(_ make: () throws -> SpreadTestClient) -> Int8? {
                do {
                    _ = try make()
                    return nil
                } catch let refused as SpreadTestClient.Refused {
                    return refused.code
                } catch {
                    return 0
                }
            }
            #expect(code { try SpreadTestClient(port: port, name: "taken") } == -6)  // REJECT_NOT_UNIQUE
            #expect(code { try SpreadTestClient(port: port, name: "bad#name") } == -5)  // REJECT_ILLEGAL_NAME
            #expect(code { try SpreadTestClient(port: port, name: "x", version: [3, 15, 0]) } == -7)  // REJECT_VERSION
            #expect(code { try SpreadTestClient(port: port, name: "x", methods: ["IP"]) } == -9)  // REJECT_AUTH
            // No name: the daemon makes one up; the holder is still connected.
            let anonymous = try SpreadTestClient(port: port, name: "")
            #expect(anonymous.privateGroup.hasPrefix("#"))
            holder.join("still-here")
            #expect(try holder.receive(until: { $0.isRegularMembership }).sender == "still-here")
        }
    }

    @Test func aHeaderForAnotherSessionClosesTheSessionAndAccessRulesGetRejectMessages() async throws {
        let rules = """

            [[access_rule]]
            groups = ["secret*"]
            join = []
            send = []

            """
        let cluster = try await Self.cluster(basePort: 26_400, extraConfig: rules)
        defer { cluster.stop() }
        let port = cluster.member("d1").spreadPort
        try await Self.blocking {
            let client = try SpreadTestClient(port: port, name: "rules")
            client.join("secret-room")
            let rejected = try client.receive()
            #expect(rejected.isReject && rejected.rejectedType & 0x0001_0000 != 0 && rejected.groups == ["secret-room"])
            client.multicast("leak", to: ["secrets"], messageType: 9)
            let refusedSend = try client.receive()
            #expect(refusedSend.isReject && refusedSend.rejectedType & 0x10 != 0 && refusedSend.text == "leak" && refusedSend.messageType == 9)
            // The session is still open: an allowed join works.
            client.join("open")
            #expect(try client.receive(until: { $0.isRegularMembership }).sender == "open")
            // Impersonation: Spread closes the session, and so does chorusd.
            let victim = try SpreadTestClient(port: port, name: "victim")
            client.send(type: 0x10, groups: ["open"], data: Array("forged".utf8), sender: victim.privateGroup)
            #expect(client.isClosedByDaemon())
        }
    }

    @Test func aKilledDaemonGivesTransitionalThenRegularNetworkMemberships() async throws {
        let cluster = try await Self.cluster(basePort: 26_500)
        defer { cluster.stop() }
        try await Self.blocking {
            let clients = try ["d1", "d2", "d3"].map { try SpreadTestClient(port: cluster.member($0).spreadPort, name: "m-\($0)") }
            for client in clients { client.join("net") }
            let full = try clients[0].receive(until: { $0.isRegularMembership && $0.groups.count == 3 })
            cluster.kill9("d3")
            let transitional = try clients[0].receive(until: { $0.isTransitional || $0.isRegularMembership })
            #expect(transitional.isTransitional && transitional.sender == "net" && transitional.groups.isEmpty)
            let regular = try clients[0].receive(until: { $0.isRegularMembership })
            #expect(regular.type & 0x0800 != 0, "CAUSED_BY_NETWORK")
            #expect(Set(regular.groups) == [clients[0].privateGroup, clients[1].privateGroup])
            #expect(regular.membership.groupID != full.membership.groupID)
            // The local vs set: the members that came through together with this one.
            let local = regular.membership.sets[regular.membership.local]
            #expect(Set(local) == [clients[0].privateGroup, clients[1].privateGroup])
        }
    }

    @Test func aSpreadClientThatDoesNotReadIsCutOffAsSpreadCutsItOff() async throws {
        let config = """

            [sessions]
            spread_max_session_messages = 300

            """
        let cluster = try await Self.cluster(basePort: 26_600, extraConfig: config)
        defer { cluster.stop() }
        let d1 = cluster.member("d1"), d2 = cluster.member("d2")
        try await Self.blocking {
            let sleeper = try SpreadTestClient(port: d1.spreadPort, name: "sleeper", receiveBuffer: 4096)
            let reader = try SpreadTestClient(port: d1.spreadPort, name: "reader")
            let sender = try SpreadTestClient(port: d2.spreadPort, name: "sender")
            for client in [sleeper, reader, sender] { client.join("flood") }
            _ = try reader.receive(until: { $0.isRegularMembership && $0.groups.count == 3 })
            // 20 MB: far more than the sleeper's socket and the daemon's 300 messages take.
            let chunk = String(repeating: "x", count: 10_000)
            var received = 0
            var views: [SpreadTestClient.Message] = []
            func take() throws {
                let message = try reader.receive()
                if message.isData { received += 1 } else if message.isRegularMembership { views.append(message) }
            }
            for index in 0..<2000 {
                sender.multicast(chunk, to: ["flood"], service: 1, selfDiscard: true)
                if index % 50 == 49 {
                    while received < index - 200 { try take() }
                }
            }
            while received < 2000 { try take() }
            // The sleeper was cut off (a disconnect view; a ring change under load may come first,
            // seen once in a CI run); the reader got everything and is still connected.
            while !views.contains(where: { $0.type & 0x0400 != 0 }) { try take() }
            let disconnect = views.first { $0.type & 0x0400 != 0 }!
            #expect(
                Set(disconnect.groups) == [reader.privateGroup, sender.privateGroup],
                "views: \(views.map { "type 0x\(String($0.type, radix: 16)) \($0.groups)" })")
            #expect(sleeper.isClosedByDaemon())
        }
        #expect(cluster.log("d1").contains("spread_max_session_messages"))
    }
}
