import ChorusCore
import ChorusSimulator
import ChorusWire
import Testing

/// The checks across sites read what they are given: a history broken by hand fails each one.
@Suite struct WideAreaHistoryTests {
    typealias Key = WideAreaHistory.MessageKey
    static let a = SessionID(daemon: NodeID(1), local: 1)
    static let b = SessionID(daemon: NodeID(4), local: 1)

    static func position(_ lamport: UInt64, _ site: UInt32, _ seq: UInt64) -> WideAreaPosition {
        WideAreaPosition(lamport: lamport, origin: SiteID(site), seq: seq)
    }

    /// Two daemons (one per site); a1, a2 from site 1, b1 from site 2, all agreed; both deliver
    /// a1 b1 a2.
    static func legal() -> WideAreaHistory {
        var history = WideAreaHistory(daemons: 2)
        let messages: [(Key, WideAreaPosition, Int)] = [
            (Key(sender: a, seq: 1), position(10, 1, 1), 0), (Key(sender: b, seq: 1), position(11, 2, 1), 1),
            (Key(sender: a, seq: 2), position(12, 1, 2), 0),
        ]
        for (key, _, daemon) in messages {
            history.sent[key] = WideAreaHistory.Sent(daemon: daemon, service: .agreed, time: 0, causalPast: nil)
        }
        for daemon in 0..<2 {
            history.deliveries[daemon] = messages.map { key, position, _ in
                WideAreaHistory.Delivery(message: key, service: .agreed, position: position, time: 1)
            }
        }
        return history
    }

    @Test func aLegalHistoryPasses() {
        #expect(Self.legal().violations().isEmpty)
    }

    @Test func aSwappedPairBreaksTheOrder() {
        var history = Self.legal()
        history.deliveries[1].swapAt(0, 1)
        #expect(history.violations().contains { $0.contains("not one total order") })
    }

    @Test func aSecondPositionForOneMessageIsCaught() {
        var history = Self.legal()
        history.deliveries[1][1].position = Self.position(11, 2, 7)
        #expect(history.violations().contains { $0.contains("is at") })
    }

    @Test func aMissingDeliveryIsCaught() {
        var history = Self.legal()
        history.deliveries[1].remove(at: 2)
        #expect(history.violations().contains { $0.contains("never delivered") })
    }

    @Test func aMissingDeliveryAtACrashedDaemonIsAllowed() {
        var history = Self.legal()
        history.deliveries[1].remove(at: 2)
        history.alive[1] = false
        #expect(history.violations().isEmpty)
    }

    @Test func aDuplicateIsCaught() {
        var history = Self.legal()
        history.deliveries[0].append(history.deliveries[0][0])
        #expect(history.violations().contains { $0.contains("twice") })
    }

    @Test func fifoInversionIsCaught() {
        var history = Self.legal()
        for daemon in 0..<2 {
            for index in history.deliveries[daemon].indices { history.deliveries[daemon][index].service = .fifo }
            history.deliveries[daemon].swapAt(0, 2)
        }
        for key in history.sent.keys { history.sent[key]!.service = .fifo }
        #expect(history.violations().contains { $0.contains("fifo") })
    }

    @Test func aMessageBeforeItsCausalPastIsCaught() {
        var history = Self.legal()
        // b1 was sent after its daemon delivered a2, yet sits before a2.
        history.sent[Key(sender: Self.b, seq: 1)]!.causalPast = Self.position(12, 1, 2)
        #expect(history.violations().contains { $0.contains("causal past") })
    }

    @Test func anUnsentMessageIsCaught() {
        var history = Self.legal()
        history.sent[Key(sender: Self.b, seq: 1)] = nil
        #expect(history.violations().contains { $0.contains("never sent") })
    }
}

extension WideAreaHistoryTests {
    @Test func aHoleAtACrashedDaemonIsCaught() {
        var history = Self.legal()
        history.deliveries[1].remove(at: 1)
        history.alive[1] = false
        #expect(history.violations().contains { $0.contains("missing") })
    }

    @Test func twoMessagesAtOnePositionAreCaught() {
        var history = Self.legal()
        history.deliveries[1][2].position = Self.position(10, 1, 1)
        history.deliveries[0][2].position = Self.position(10, 1, 1)
        #expect(history.violations().contains { $0.contains("are both at") })
    }
}
