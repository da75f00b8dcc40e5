import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

/// With IP multicast a daemon receives its own data packets back (found by the real-daemon
/// test of the six services over multicast: own unreliable messages were delivered twice).
@Suite struct OwnEchoTests {
    @Test func ownPacketsEchoedBackAreNotDeliveredAgain() {
        var harness = RingHarness(nodes: [1, 2])
        harness.start()
        harness.run(until: 500_000_000)
        #expect(harness.lastRegular(1)?.members.count == 2)
        // Capture what d1 sends, and loop every data packet back to d1 as multicast would.
        var echoes: [Packet] = []
        harness.apply(NodeID(1)) { ring, actions, now in
            for service in [Service.unreliable, .reliable, .agreed, .safe] {
                ring.submit(service: service, payload: ByteBuffer(string: "m-\(service)"), now: now, into: &actions)
            }
        }
        harness.run(until: 600_000_000)
        harness.apply(NodeID(1)) { ring, actions, now in
            for service in [Service.unreliable, .reliable] {
                ring.submit(service: service, payload: ByteBuffer(string: "again-\(service)"), now: now, into: &actions)
            }
            for case .send(.data(let packet), _) in actions { echoes.append(.data(packet)) }
        }
        for echo in echoes {
            harness.apply(NodeID(1)) { ring, actions, now in ring.receive(echo, now: now, into: &actions) }
        }
        harness.run(until: 800_000_000)
        let mine = harness.payloads(1)
        for text in ["m-unreliable", "m-reliable", "m-agreed", "m-safe", "again-unreliable", "again-reliable"] {
            #expect(mine.filter { $0 == text }.count == 1, "\(text) delivered \(mine.filter { $0 == text }.count) times at d1")
        }
        #expect(!echoes.isEmpty)
    }

    /// `isQuiet` (what graceful shutdown waits for): false while a message is queued or not yet
    /// received everywhere, true once the ring has gone round idle.
    @Test func quietOnlyOnceEverythingIsReceivedEverywhere() {
        var harness = RingHarness(nodes: [1, 2, 3])
        harness.start()
        harness.run(until: 1_000_000_000)
        #expect(harness.rings[NodeID(2)]!.isQuiet)
        harness.submit(2, .agreed, "last words")
        #expect(!harness.rings[NodeID(2)]!.isQuiet)
        harness.run(until: 1_500_000_000)
        #expect(harness.rings[NodeID(2)]!.isQuiet)
        #expect(harness.payloads(1).contains("last words") && harness.payloads(3).contains("last words"))
    }
}
