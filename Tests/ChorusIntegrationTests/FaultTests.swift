import Chorus
import ChorusLocalCluster
import ChorusVerify
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// kill -9, SIGSTOP/SIGCONT and SIGTERM against real daemons, with clients watching.
/// Token timeout 300 ms (LocalCluster.fastTimeouts) unless a test says otherwise.
@Suite(.serialized) struct FaultTests {
    @Test func killNineThenRestartGivesNetworkViewsAndMerge() async throws {
        let fixture = try await ClusterFixture.start(basePort: 21_100)
        defer { fixture.cluster.stop() }
        let (c1, c2, c3) = (fixture.clients[0], fixture.clients[1], fixture.clients[2])
        // Traffic in flight while the daemon dies.
        for round in 0..<100 {
            for client in [c1, c2, c3] { client.send(round % 2 == 0 ? .agreed : .safe, size: 200) }
        }
        // Kill once the traffic is flowing, with most of it still to come.
        try await c1.wait("the first messages") { $0.messages.count >= 10 }
        let killedAt = fixture.recorder.now
        fixture.cluster.kill9("d3")
        fixture.recorder.crashed(c3.process)

        for survivor in [c1, c2] {
            try await survivor.wait("a regular network view without d3") {
                $0.lastRegular.map { $0.reason == .network && $0.members.count == 2 } ?? false
            }
            let afterKill = survivor.views.filter { $0.time >= killedAt }.map(\.view)
            let transitional = afterKill.firstIndex { $0.kind == .transitional && $0.reason == .network }
            let regular = afterKill.firstIndex { $0.kind == .regular && $0.reason == .network }
            #expect(transitional != nil && regular != nil && transitional! < regular!, "transitional view first: \(afterKill)")
            #expect(afterKill[transitional!].changed.count == 2, "the members that moved together: \(afterKill[transitional!].changed)")
        }
        let viewAt = c1.views.last { $0.view.kind == .regular }!.time
        print("kill -9 → regular network view at the survivors: \(milliseconds(viewAt - killedAt)) ms")

        // What was in flight obeys extended virtual synchrony (the checkers on the clients' history).
        // The survivors deliver all of their own messages; c3's are settled by the new view.
        for survivor in [c1, c2] {
            try await survivor.wait("the survivors' messages") {
                $0.reliableCount(from: c1.privateGroup) == 100 && $0.reliableCount(from: c2.privateGroup) == 100
            }
        }
        let violations = fixture.violations()
        #expect(violations.isEmpty, "\(violations.prefix(5).map(\.description))")
        // The survivors delivered exactly the same agreed/safe messages.
        let ordered = [c1, c2].map { $0.messages.filter { $0.service >= .agreed }.map(\.payload) }
        #expect(ordered[0] == ordered[1])

        // Restart: the views merge.
        let restartedAt = fixture.recorder.now
        try fixture.cluster.launch("d3")
        try await fixture.cluster.waitUntilListening(fixture.cluster.member("d3"))
        let c3b = fixture.connect(index: 2, member: fixture.cluster.member("d3"), name: "client-d3-again")
        for client in [c1, c2, c3b] {
            try await client.wait("the merged group") { $0.lastRegular?.members.count == 3 }
        }
        let merged = c1.views.last { $0.view.kind == .regular }!.time
        print("restart → merged view with 3 members: \(milliseconds(merged - restartedAt)) ms")
        #expect(c1.views.contains { $0.time >= restartedAt && $0.view.reason == .network && $0.view.kind == .regular })
        await c3b.stop()
        await fixture.stop()
    }

    @Test func stoppedDaemonPartitionsThenMerges() async throws {
        let fixture = try await ClusterFixture.start(basePort: 21_200)
        defer { fixture.cluster.stop() }
        let (c1, c2, c3) = (fixture.clients[0], fixture.clients[1], fixture.clients[2])
        fixture.cluster.signal("d2", SIGSTOP)
        let stoppedAt = fixture.recorder.now
        for client in [c1, c3] {
            try await client.wait("a view without d2") { $0.lastRegular.map { $0.reason == .network && $0.members.count == 2 } ?? false }
        }
        print("SIGSTOP → view without d2: \(milliseconds(c1.views.last!.time - stoppedAt)) ms")
        try await Task.sleep(for: .milliseconds(700))  // well past the 300 ms token timeout
        let continuedAt = fixture.recorder.now
        fixture.cluster.signal("d2", SIGCONT)
        for client in [c1, c2, c3] {
            try await client.wait("the merged view") { client in
                client.views.contains { $0.time >= continuedAt && $0.view.kind == .regular && $0.view.members.count == 3 }
            }
        }
        let mergedAt = c1.views.last { $0.view.kind == .regular && $0.view.members.count == 3 }!.time
        print("SIGCONT → merged view: \(milliseconds(mergedAt - continuedAt)) ms")
        // d2 itself saw its partition (a transitional view with only itself) before the merge.
        #expect(c2.views.contains { $0.view.kind == .transitional && $0.view.reason == .network && $0.view.changed == [c2.privateGroup] })
        // Messages after the merge reach everyone, in one order.
        for client in [c1, c2, c3] { client.send(.agreed, size: 100) }
        for client in [c1, c2, c3] {
            try await client.wait("the post-merge messages") { $0.messages.count >= 3 }
        }
        let violations = fixture.violations()
        #expect(violations.isEmpty, "\(violations.prefix(5).map(\.description))")
        await fixture.stop()
    }

    @Test func gracefulStopIsSeenAtOnce() async throws {
        // Default (LAN) timeouts: token timeout 1 s. A graceful leave must not wait for it.
        let fixture = try await ClusterFixture.start(basePort: 21_300, ringSection: "")
        defer { fixture.cluster.stop() }
        let (c1, c2) = (fixture.clients[0], fixture.clients[1])
        let stoppedAt = fixture.recorder.now
        fixture.cluster.terminate("d3")
        for client in [c1, c2] {
            try await client.wait("the view without d3", timeout: 5) { $0.lastRegular?.members.count == 2 }
        }
        let seenAt = c1.views.last { $0.view.kind == .regular }!.time
        let elapsed = milliseconds(seenAt - stoppedAt)
        print("SIGTERM → view without d3: \(elapsed) ms (token timeout 1000 ms)")
        #expect(elapsed < 600, "a graceful leave took \(elapsed) ms, as long as a timeout")
        #expect(fixture.cluster.log("d3").contains("leaving the ring"))
        await fixture.stop()
    }
}
