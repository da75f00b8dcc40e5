import ChorusProtocol
import ChorusWire
import Testing

@testable import ChorusDaemon

/// A paused sender's requests wait in order, run in order once there is room, and a connection
/// that ends meanwhile ends only after them.
@Suite struct SenderBackpressureTests {
    static func join(_ group: String) -> ClientRequest { .join(group: group) }
    static func groups(_ requests: [ClientRequest]) -> [String] {
        requests.map { if case .join(let group) = $0 { group } else { "?" } }
    }

    @Test func waitingRequestsRunInOrderOnceThereIsRoom() {
        var pressure = SenderBackpressure()
        pressure.pause(refused: Self.join("a"))
        pressure.enqueue(Self.join("b"))
        pressure.enqueue(Self.join("c"))
        #expect(pressure.isPaused && pressure.waiting == 3)
        var ran: [ClientRequest] = []
        // Room for one only: the second is refused and stays first in line.
        var room = 1
        let first = pressure.resume(run: { request in
            guard room > 0 else { return false }
            room -= 1
            ran.append(request)
            return true
        }, isClosed: { false })
        #expect(first == .stillPaused)
        #expect(Self.groups(ran) == ["a"] && pressure.waiting == 2)
        let second = pressure.resume(run: { ran.append($0); return true }, isClosed: { false })
        #expect(second == .drained)
        #expect(Self.groups(ran) == ["a", "b", "c"])
        #expect(!pressure.isPaused && pressure.waiting == 0)
    }

    @Test func anEndWhilePausedComesAfterTheQueue() {
        var pressure = SenderBackpressure()
        let notPaused = pressure.endAfterQueue(error: nil, reason: "connection closed")
        #expect(!notPaused, "not paused: end at once")
        pressure.pause(refused: Self.join("a"))
        let badFrame = pressure.endAfterQueue(error: (.malformedFrame, "bad"), reason: "protocol error")
        let closedToo = pressure.endAfterQueue(error: nil, reason: "connection closed")
        #expect(badFrame && closedToo, "ending after the queue")
        #expect(pressure.ending?.reason == "protocol error", "the first ending counts")
        pressure.enqueue(Self.join("late"))
        #expect(pressure.waiting == 1, "nothing is taken once ending")
        var ran: [ClientRequest] = []
        #expect(pressure.resume(run: { ran.append($0); return true }, isClosed: { false }) == .ended)
        #expect(Self.groups(ran) == ["a"])
    }

    @Test func aSessionClosedWhileRunningStopsAtOnce() {
        var pressure = SenderBackpressure()
        pressure.pause(refused: Self.join("a"))
        pressure.enqueue(Self.join("b"))
        var closed = false
        var ran = 0
        let outcome = pressure.resume(run: { _ in
            ran += 1
            closed = true
            return true
        }, isClosed: { closed })
        #expect(ran == 1 && outcome == .stillPaused)
        pressure.drop()
        #expect(pressure.waiting == 0)
    }

    @Test func roomNeedsAQuarterOfEachBoundFree() {
        #expect(SenderBackpressure.hasRoom(pendingMessages: 0, pendingBytes: 10_000, maxMessages: 100, maxBytes: 1000))
        #expect(SenderBackpressure.hasRoom(pendingMessages: 74, pendingBytes: 749, maxMessages: 100, maxBytes: 1000))
        #expect(!SenderBackpressure.hasRoom(pendingMessages: 75, pendingBytes: 0, maxMessages: 100, maxBytes: 1000))
        #expect(!SenderBackpressure.hasRoom(pendingMessages: 1, pendingBytes: 750, maxMessages: 100, maxBytes: 1000))
    }
}
