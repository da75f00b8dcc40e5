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

/// The checks of configurations of sites, each broken by hand.
extension WideAreaHistoryTests {
    static let first = SiteConfigurationID(seq: 1, coordinator: SiteID(1))
    static let second = SiteConfigurationID(seq: 2, coordinator: SiteID(1))

    static func change(_ kind: SiteConfigurationChange.Kind, _ id: SiteConfigurationID, _ sites: [UInt32], after: Int)
        -> WideAreaHistory.Change
    {
        WideAreaHistory.Change(change: SiteConfigurationChange(kind: kind, id: id, sites: sites.map(SiteID.init)), afterDeliveries: after)
    }

    /// Both daemons install `first` of both sites, deliver the three messages in it, then go on
    /// to `second` (a transitional configuration of both, then the regular one).
    static func withConfigurations() -> WideAreaHistory {
        var history = legal()
        for daemon in 0..<2 {
            history.changes[daemon] = [
                change(.regular, first, [1, 2], after: 0), change(.transitional, second, [1, 2], after: 3),
                change(.regular, second, [1, 2], after: 3),
            ]
        }
        return history
    }

    @Test func configurationsThatAgreePass() {
        #expect(Self.withConfigurations().violations().isEmpty)
    }

    @Test func oneIdForTwoSetsOfSitesIsCaught() {
        var history = Self.withConfigurations()
        history.changes[1][2] = Self.change(.regular, Self.second, [2], after: 3)
        #expect(history.violations().contains { $0.contains("configuration 2.s1 is") })
    }

    @Test func aTransitionalConfigurationBeyondItsRegularOneIsCaught() {
        var history = Self.withConfigurations()
        history.changes[1][1] = Self.change(.transitional, Self.second, [1, 2, 3], after: 3)
        #expect(history.violations().contains { $0.contains("transitional") })
    }

    /// Daemon 1 delivers a2 only after installing `second`: in another configuration than daemon 0.
    @Test func aMessageInTwoConfigurationsIsCaught() {
        var history = Self.withConfigurations()
        history.changes[1][1].afterDeliveries = 2
        history.changes[1][2].afterDeliveries = 2
        #expect(history.violations().contains { $0.contains("delivered in configuration") })
    }

    /// Both move from `first` to `second`, but daemon 1 never delivered a2 in `first`.
    @Test func differentMessagesBeforeTheSameNextConfigurationAreCaught() {
        var history = Self.withConfigurations()
        history.deliveries[1].remove(at: 2)
        history.changes[1][1].afterDeliveries = 2
        history.changes[1][2].afterDeliveries = 2
        #expect(history.violations().contains { $0.contains("never delivered") && $0.contains("before 2.s1") })
    }

    /// The same, but the daemons move to different configurations: allowed.
    @Test func differentMessagesBeforeDifferentConfigurationsAreAllowed() {
        var history = Self.withConfigurations()
        history.deliveries[1].remove(at: 2)
        history.changes[1] = [
            Self.change(.regular, Self.first, [1, 2], after: 0), Self.change(.transitional, SiteConfigurationID(seq: 2, coordinator: SiteID(2)), [2], after: 2),
            Self.change(.regular, SiteConfigurationID(seq: 2, coordinator: SiteID(2)), [2], after: 2),
        ]
        history.sent[Key(sender: Self.a, seq: 2)]!.daemon = 0
        #expect(history.violations().isEmpty, "\(history.violations())")
    }
}

extension WideAreaHistoryTests {
    /// Daemon 1 delivers a2 after the transitional configuration, daemon 0 before it, and both
    /// move on to the same configuration: they disagree on where the configuration changed.
    @Test func aMessageOnEitherSideOfTheTransitionalConfigurationIsCaught() {
        var history = Self.withConfigurations()
        history.changes[1][1].afterDeliveries = 2
        #expect(history.violations().contains { $0.contains("transitional part") })
    }

    /// A running daemon's regular part skips b1, which the other delivered between a1 and a2.
    @Test func aHoleInARegularPartIsCaught() {
        var history = Self.withConfigurations()
        history.deliveries[1].remove(at: 1)
        for index in 1...2 { history.changes[1][index].afterDeliveries = 2 }
        history.sent[Key(sender: Self.b, seq: 1)]!.daemon = 0
        #expect(history.violations().contains { $0.contains("missing") })
    }
}

extension WideAreaHistoryTests {
    /// A transitional configuration not followed by its regular one is caught.
    @Test func aTransitionalConfigurationWithoutItsRegularOneIsCaught() {
        var history = Self.withConfigurations()
        history.changes[1].removeLast()
        #expect(history.violations().contains { $0.contains("ended in the transitional configuration") })
        history.changes[1].append(Self.change(.regular, SiteConfigurationID(seq: 3, coordinator: SiteID(1)), [1, 2], after: 3))
        #expect(history.violations().contains { $0.contains("not by its regular configuration") })
    }
}

/// The view checks across sites read what they are given: views broken by hand fail each rule.
@Suite struct WideAreaViewChecksTests {
    static let a = WideAreaHistoryTests.a
    static let b = WideAreaHistoryTests.b
    static let configuration = SiteConfigurationID(seq: 1, coordinator: SiteID(1))
    static func id(_ index: UInt64) -> GroupViewID {
        GroupViewID(ring: RingID(seq: 1, representative: NodeID(1)), index: index)
    }
    static func view(_ index: UInt64, _ members: [SessionID], kind: GroupView.Kind = .regular, reason: GroupView.Reason = .network) -> GroupView {
        GroupView(group: "g", viewID: id(index), kind: kind, reason: reason, members: members, changed: members, recipients: [])
    }

    /// The legal history of `WideAreaHistoryTests`, in one configuration; both daemons show a
    /// view of both sessions before everything, and b's leave after a1.
    static func legal() -> WideAreaHistory {
        var history = WideAreaHistoryTests.legal()
        for daemon in 0..<2 {
            history.changes[daemon] = [WideAreaHistory.Change(change: SiteConfigurationChange(kind: .regular, id: configuration, sites: [SiteID(1), SiteID(2)]), afterDeliveries: 0)]
            history.views[daemon] = [
                WideAreaHistory.ViewRecord(view: view(1, [a, b]), afterDeliveries: 0, configuration: configuration, changesBefore: 1),
                WideAreaHistory.ViewRecord(view: view(2, [a], reason: .leave), afterDeliveries: 1, configuration: configuration, changesBefore: 1),
            ]
            history.views[daemon][1].view.changed = [b]
        }
        history.expectedFinalMembers = ["g": [a]]
        return history
    }

    @Test func legalViewsPass() {
        #expect(Self.legal().violations().isEmpty, "\(Self.legal().violations())")
    }

    @Test func idsThatDoNotIncreaseAreCaught() {
        var history = Self.legal()
        history.views[1][1].view.viewID = Self.id(1)
        #expect(history.violations().contains { $0.contains("do not increase") })
    }

    @Test func oneIdWithTwoMembershipsIsCaught() {
        var history = Self.legal()
        history.views[1][0].view.members = [Self.a]
        #expect(history.violations().contains { $0.contains("is regular network") })
    }

    @Test func aViewAtAnotherPlaceIsCaught() {
        var history = Self.legal()
        history.views[1][1].afterDeliveries = 2
        #expect(history.violations().contains { $0.contains("comes after") })
    }

    @Test func twoTransitionalViewsInARowAreCaught() {
        var history = Self.legal()
        history.views[1][0].view.kind = .transitional
        history.views[1][1].view.kind = .transitional
        #expect(history.violations().contains { $0.contains("followed by transitional view") })
    }

    @Test func aWrongFinalViewIsCaught() {
        var history = Self.legal()
        history.expectedFinalMembers = ["g": [Self.a, Self.b]]
        #expect(history.violations().contains { $0.contains("last view of group g") })
        history.views[0].removeAll()
        #expect(history.violations().contains { $0.contains("showed no view of group g") })
    }
}
