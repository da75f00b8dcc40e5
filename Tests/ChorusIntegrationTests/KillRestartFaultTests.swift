import Chorus
import ChorusLocalCluster
import ChorusVerify
import Foundation
import Testing

/// Real crashes: four daemons under steady agreed, safe, fifo and causal traffic (fragments
/// included), one killed with SIGKILL at a time and restarted once the survivors have a view
/// without it, nine times per run, the lowest id (the ring's representative) among the victims.
/// Each restart brings a new client (a new incarnation in the history, from its first
/// configuration change on); the killed one's history ends at the kill. Every client's history
/// is checked with every rule that applies to it, and each fifo-or-stronger delivery against its
/// sender's views.
@Suite(.serialized) struct KillRestartFaultTests {
    @Test func viewsAndMessagesAgreeAcrossKillsAndRestarts() async throws {
        let fixture = try await ClusterFixture.start(count: 4, basePort: 22_500)
        defer { fixture.cluster.stop() }
        try await killAndRestart(fixture)
    }

    /// The same across two sites (east: d1, d2; west: d3, d4), views spanning both: among the
    /// victims are both representatives (d1, d3), so the hop link changes hands under traffic,
    /// each kill and each restart is a configuration change of both sites, and the restarted
    /// daemon's new client joins while its site's ring and the order across sites take it back.
    @Test func viewsAndMessagesAgreeAcrossKillsAndRestartsInTwoSites() async throws {
        let fixture = try await ClusterFixture.start(
            count: 4, basePort: 23_000, extraConfig: WideAreaTests.sites, sites: ["east", "east", "west", "west"])
        defer { fixture.cluster.stop() }
        try await killAndRestart(fixture)
    }

    private func killAndRestart(
        _ started: ClusterFixture, services: [Service] = [.agreed, .safe, .fifo, .causal]
    ) async throws {
        var fixture = started
        let daemons = fixture.clients.count
        let traffic = SteadyTraffic(clients: fixture.clients, services: services)
        traffic.start()
        let victims = [1, 2, 0, 3, 1, 0, 2, 3, 0]  // d2, d3, d1, d4, d2, d1, d3, d4, d1
        for (round, victim) in victims.enumerated() {
            let member = fixture.cluster.members[victim]
            traffic.burst(12)
            traffic.replace(victim, with: nil)
            fixture.cluster.kill9(member.name)
            fixture.recorder.crashed(fixture.clients[victim].process)
            traffic.burst(12)
            for (index, client) in fixture.clients.enumerated() where index != victim {
                try await client.wait("a view without \(member.name) (round \(round))", timeout: 20) {
                    $0.lastRegular?.members.count == daemons - 1
                }
            }
            traffic.burst(12)
            try fixture.cluster.launch(member.name)
            try await fixture.cluster.waitUntilListening(member)
            // Numbered on from the old client's last message: the new session has the same private group.
            let fresh = fixture.connect(
                index: victim, member: member, name: "client-\(member.name)-\(round + 2)",
                firstSeq: UInt64(round + 1) * 100_000, lateJoiner: true)
            await fixture.clients[victim].stop()
            fixture.clients[victim] = fresh
            // The fresh client first: if its session ended, its error says why.
            for client in [fresh] + fixture.clients.filter({ $0 !== fresh }) {
                try await client.wait("\(member.name) back (round \(round))", timeout: 20) {
                    $0.lastRegular?.members.count == daemons
                }
            }
            traffic.replace(victim, with: fresh)
            traffic.burst(12)
        }
        let sent = await traffic.stop()
        traffic.burst(4)
        try await fixture.awaitMessages(upTo: zip(fixture.clients, sent).map { $0.firstSeq + UInt64($1 + 4) })
        let checked = fixture.checkSendersInViews(fixture.recorder.finish())
        print("kill -9 and restart: \(victims.count) rounds, fifo-or-stronger deliveries checked against their senders' views: \(checked)")
        #expect(checked > daemons * (sent.min()! + 4))
        let violations = fixture.violations()
        #expect(violations.isEmpty, "\(violations.prefix(5).map(\.description))")
        await fixture.stop()
    }
}
