import Chorus
import ChorusLocalCluster
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile and broken clients against a real daemon: each gets an error frame and a closed
/// session; the daemon and the other sessions carry on.
@Suite(.serialized) struct BadClientTests {
    static let errorFrame: UInt8 = 0x84

    /// The error code of the first error frame in what the daemon sent.
    static func errorCode(_ bytes: [UInt8]) -> UInt16? {
        guard let frame = RawSocket.frames(bytes).first(where: { $0.type == errorFrame }), frame.body.count >= 2 else { return nil }
        return UInt16(frame.body[0]) << 8 | UInt16(frame.body[1])
    }

    @Test func malformedInputGetsAnErrorFrameAndAClosedSession() async throws {
        // A small message limit, so an oversized payload fits in a frame but not in the ring.
        let fixture = try await ClusterFixture.start(basePort: 21_400, extraConfig: "max_message_size = 65536\n")
        defer { fixture.cluster.stop() }
        let port = fixture.cluster.members[0].clientPort
        let oversized = RawSocket.frame(0x04, [4, 0, 0, 0, 1] + RawSocket.shortString("g") + [UInt8](repeating: 7, count: 70_000))
        let welcomeAndJoin = RawSocket.connectFrame("raw") + RawSocket.frame(0x02, RawSocket.shortString("g"))
        var random = SystemRandomNumberGenerator()
        let cases: [(String, [UInt8], UInt16?)] = [
            ("random bytes", (0..<512).map { _ in UInt8.random(in: 0...255, using: &random) }, nil),
            ("huge length", [0x7F, 0xFF, 0xFF, 0xFF, 0x04], ErrorCode.frameTooLarge.rawValue),
            ("zero length", [0, 0, 0, 0], ErrorCode.malformedFrame.rawValue),
            ("unknown frame type", RawSocket.connectFrame("u") + RawSocket.frame(0x55, [1, 2, 3]), ErrorCode.unknownFrameType.rawValue),
            ("daemon frame type from a client", RawSocket.connectFrame("d") + RawSocket.frame(0x82, []), ErrorCode.unknownFrameType.rawValue),
            ("join before connect", RawSocket.frame(0x02, RawSocket.shortString("g")), ErrorCode.notConnected.rawValue),
            ("truncated join", RawSocket.connectFrame("t") + RawSocket.frame(0x02, [40, 65, 66]), ErrorCode.malformedFrame.rawValue),
            ("empty group name", RawSocket.connectFrame("e") + RawSocket.frame(0x02, [0]), ErrorCode.invalidGroupName.rawValue),
            ("private group join", RawSocket.connectFrame("p") + RawSocket.frame(0x02, RawSocket.shortString("#1#d1")), ErrorCode.reservedGroupName.rawValue),
            ("bad service", welcomeAndJoin + RawSocket.frame(0x04, [9, 0, 0, 0, 1] + RawSocket.shortString("g")), ErrorCode.invalidService.rawValue),
            ("no target group", welcomeAndJoin + RawSocket.frame(0x04, [4, 0, 0, 0, 0, 65]), ErrorCode.tooManyGroups.rawValue),
            ("bad session name", RawSocket.connectFrame("no spaces"), ErrorCode.invalidName.rawValue),
            ("oversized payload", welcomeAndJoin + oversized, ErrorCode.payloadTooLarge.rawValue),
            ("too many groups", welcomeAndJoin + RawSocket.frame(0x04, [4, 0, 0, 0, 200] + (0..<200).flatMap { RawSocket.shortString("g\($0)") }), ErrorCode.tooManyGroups.rawValue),
            ("wrong version", RawSocket.frame(0x01, [0, 99, 1, 1, 65]), ErrorCode.unsupportedVersion.rawValue),
        ]
        for (label, bytes, code) in cases {
            let socket = try RawSocket(port: port)
            socket.write(bytes)
            let (reply, closed) = socket.readToEnd()
            #expect(closed, "\(label): the session was not closed")
            let got = Self.errorCode(reply)
            #expect(got != nil, "\(label): no error frame in \(reply.count) bytes")
            if let code { #expect(got == code, "\(label): error code \(String(describing: got)), expected \(code)") }
        }
        // A truncated frame, then the client goes away: nothing to answer, nothing leaks.
        do {
            let socket = try RawSocket(port: port)
            socket.write(RawSocket.connectFrame("half") + [0, 0, 1, 0, 0x04, 4])
        }
        // The daemon and the other sessions carry on.
        let (c1, c2, c3) = (fixture.clients[0], fixture.clients[1], fixture.clients[2])
        for client in [c1, c2, c3] { client.send(.agreed, size: 64) }
        for client in [c1, c2, c3] { try await client.wait("messages after the abuse") { $0.messages.count >= 3 } }
        #expect(fixture.cluster.isRunning("d1"))
        let status = try await Self.status(port: port)
        #expect(status.contains("\"clientProtocolErrors\":\(cases.count)") || status.contains("\"clientProtocolErrors\":\(cases.count + 1)"), "\(status)")
        await fixture.stop()
    }

    /// A sender far faster than the ring (send queue of 16 messages): it is paused, not refused,
    /// and every message it sent is delivered.
    @Test func aSenderThatOutrunsTheRingWaitsAndLosesNothing() async throws {
        let fixture = try await ClusterFixture.start(basePort: 21_450, extraConfig: "\n[sessions]\nmax_pending_messages = 16\n")
        defer { fixture.cluster.stop() }
        let (c1, c2, c3) = (fixture.clients[0], fixture.clients[1], fixture.clients[2])
        for _ in 0..<3000 { c1.send(.reliable, size: 1000) }
        for client in [c1, c2, c3] {
            try await client.wait("all 3000 messages", timeout: 60) { $0.reliableCount(from: c1.privateGroup) == 3000 }
        }
        let status = try await Self.status(port: fixture.cluster.members[0].clientPort)
        #expect(!status.contains("\"sendersPaused\":0"), "the sender was never paused: \(status)")
        let violations = fixture.violations(livenessBound: 0)
        #expect(violations.isEmpty, "\(violations.prefix(5).map(\.description))")
        await fixture.stop()
    }

    /// A client that writes a burst and closes at once, while the daemon is pausing it: every
    /// message it wrote before closing is delivered (found in review: the queued tail was lost).
    @Test func aBurstThenCloseLosesNothing() async throws {
        let fixture = try await ClusterFixture.start(basePort: 21_470, extraConfig: "\n[sessions]\nmax_pending_messages = 16\n")
        defer { fixture.cluster.stop() }
        var bytes = RawSocket.connectFrame("burst")
        for index in 0..<2000 {
            var payload = [UInt8](repeating: 0, count: 8)
            withUnsafeBytes(of: UInt64(index + 1).bigEndian) { payload = Array($0) }
            bytes += RawSocket.frame(0x04, [2, 0, 0, 0, 1] + RawSocket.shortString("g") + payload + [UInt8](repeating: 9, count: 400))
        }
        // Write the burst, end the stream at once, and read until the daemon closes (as
        // docs/protocol.md says a client should end a session).
        let socket = try RawSocket(port: fixture.cluster.members[0].clientPort)
        socket.write(bytes)
        socket.shutdownWrite()
        let burst: (TestClient) -> Int = { client in client.messages.filter { $0.payload.readableBytes == 408 }.count }
        for client in fixture.clients {
            try await client.wait("the whole burst", timeout: 30) { burst($0) == 2000 }
        }
        #expect(socket.readToEnd().closed)
        // fifo from one sender: in order everywhere.
        let seqs = fixture.clients[1].messages.filter { $0.payload.readableBytes == 408 }.compactMap {
            $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt64.self)
        }
        #expect(seqs == Array(1...2000).map(UInt64.init))
        await fixture.stop()
    }

    /// A library session that returns right after writing a batch the daemon is still pausing:
    /// the session's end must not cut off what was written (found in review: the close did).
    @Test func aLibrarySessionEndingRightAfterSendingLosesNothing() async throws {
        let fixture = try await ClusterFixture.start(basePort: 21_800, extraConfig: "\n[sessions]\nmax_pending_messages = 16\n")
        defer { fixture.cluster.stop() }
        try await ChorusClient.withSession(to: fixture.cluster.members[0].endpoint, name: "quick", membershipNotices: false) {
            session in
            let batch = (1...2000).map { index in
                var payload = ByteBuffer()
                payload.writeInteger(UInt64(index))
                payload.writeRepeatingByte(5, count: 2000)  // 4 MB: more than the socket buffers hold
                return MulticastRequest(service: .fifo, groups: ["g"], payload: payload)
            }
            try await session.multicast(batch: batch)
        }
        for client in fixture.clients {
            try await client.wait("the whole batch", timeout: 30) { $0.messages.filter { $0.payload.readableBytes == 2008 }.count == 2000 }
        }
        await fixture.stop()
    }

    static func status(port: Int) async throws -> String {
        try await status(.tcp(host: "127.0.0.1", port: port))
    }

    static func status(_ endpoint: ChorusEndpoint) async throws -> String {
        try await ChorusClient.withSession(to: endpoint, name: "status-probe", membershipNotices: false) {
            session in
            try await session.requestStatus()
            for try await event in session.events { if case .status(let json) = event { return json } }
            return ""
        }
    }

    @Test func aClientThatStopsReadingIsDisconnected() async throws {
        let fixture = try await ClusterFixture.start(
            basePort: 21_500,
            extraConfig: "\n[sessions]\nslow_receiver_timeout_ms = 5000\nmax_client_backlog = 25165824\n")
        defer { fixture.cluster.stop() }
        let member = fixture.cluster.members[0]
        // A member of g that never reads, with a small socket buffer.
        let sleeper = try RawSocket(port: member.clientPort, receiveBuffer: 4096)
        sleeper.write(RawSocket.connectFrame("sleeper") + RawSocket.frame(0x02, RawSocket.shortString("g")))
        let (c1, c2) = (fixture.clients[0], fixture.clients[1])
        try await c1.wait("the sleeper's join") { $0.lastRegular?.members.count == 4 }
        // 40 MB through the group, far more than the backlog bound (24 MiB; at 16 MiB the sender,
        // which reads its own messages too, was once cut off itself on a loaded machine).
        for _ in 0..<2000 { c2.send(.agreed, size: 20_000) }
        try await c1.wait("the sleeper's disconnection", timeout: 30) { $0.lastRegular?.members.count == 3 }
        for client in [c1, c2] {
            try await client.wait("every message", timeout: 30) { $0.messages.count >= 2000 }
        }
        let status = try await Self.status(port: member.clientPort)
        #expect(status.contains("\"slowReceiverDisconnects\":1"), "\(status)")
        #expect(fixture.cluster.log("d1").contains("slow receiver"))
        // Memory stayed bounded: far below the 40 MB that went through.
        if let pid = fixture.cluster.pid("d1"), let rss = Self.residentMegabytes(pid) {
            print("d1 resident memory after the slow receiver: \(rss) MB")
            #expect(rss < 150)
        }
        await fixture.stop()
    }

    static func residentMegabytes(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kilobytes / 1024
    }
}
