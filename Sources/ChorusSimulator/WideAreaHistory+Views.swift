import ChorusCore
import ChorusWire

/// The checks of group views across sites, on what every daemon showed its clients.
extension WideAreaHistory {
    /// One view as shown after one configuration: the same at every daemon that shows it.
    private struct ViewKey: Hashable {
        var group: String
        var id: GroupViewID
        /// The configuration the daemon was in (a transitional view's id names the next one, which
        /// daemons coming from different configurations share with different members).
        var configuration: SiteConfigurationID?
    }

    /// Two views of a group one daemon showed one after the other.
    private struct ViewPair: Hashable {
        var first: ViewKey
        var second: ViewKey
    }

    /// What one daemon showed of one view, and where among the ordered messages.
    private struct Shown {
        var daemon: Int
        var kind: GroupView.Kind
        var reason: GroupView.Reason
        var members: [SessionID]
        var changed: [SessionID]
        /// The last causal, agreed or safe message delivered before the view, and the first after
        /// it (nil: none at this daemon).
        var before: WideAreaPosition?
        var after: WideAreaPosition?
    }

    /// - Per daemon and group: view ids strictly increase; a transitional view is followed by a
    ///   regular one before any other transitional view.
    /// - One view (group, id, configuration before it) has the same kind, reason and members
    ///   (and, but for network views, the same `changed`) wherever it is shown, and sits between
    ///   the same ordered messages wherever both neighbours were delivered.
    /// - At the end (`expectedFinalMembers`): every running daemon's last view of each group
    ///   lists exactly the expected members, and is regular.
    func checkViews(_ fail: (String) -> Void) {
        var shown: [ViewKey: Shown] = [:]
        /// With `checkEveryServiceBetweenViews`: per pair of consecutive views, the first daemon
        /// that showed both and what it delivered between them.
        var between: [ViewPair: (daemon: Int, messages: Set<MessageKey>)] = [:]
        for (daemon, records) in views.enumerated() {
            let ordered = deliveries[daemon].enumerated().filter { $0.element.service >= .causal && $0.element.position != nil }
            var last: [String: GroupView] = [:]
            var lastShown: [String: (key: ViewKey, afterDeliveries: Int)] = [:]
            for record in records {
                let view = record.view
                if checkEveryServiceBetweenViews {
                    let key = ViewKey(group: view.group, id: view.viewID, configuration: record.configuration)
                    if let previous = lastShown[view.group] {
                        let messages = Set(
                            deliveries[daemon][previous.afterDeliveries..<record.afterDeliveries].lazy.filter { $0.service != .unreliable }
                                .map(\.message))
                        let pair = ViewPair(first: previous.key, second: key)
                        if let other = between[pair] {
                            if other.messages != messages {
                                let onlyOther = other.messages.subtracting(messages).sorted { $0.description < $1.description }
                                let onlyMine = messages.subtracting(other.messages).sorted { $0.description < $1.description }
                                fail("daemons \(other.daemon) and \(daemon) showed views \(previous.key.id) then \(view.viewID) of group \(view.group) but delivered different messages between them: only \(other.daemon) \(onlyOther.prefix(3)), only \(daemon) \(onlyMine.prefix(3))")
                            }
                        } else {
                            between[pair] = (daemon, messages)
                        }
                    }
                    lastShown[view.group] = (key, record.afterDeliveries)
                }
                if let previous = last[view.group] {
                    if !(previous.viewID < view.viewID) {
                        fail("daemon \(daemon): view ids of group \(view.group) do not increase: \(previous.viewID) then \(view.viewID)")
                    }
                    if previous.kind == .transitional, view.kind == .transitional {
                        fail("daemon \(daemon): transitional view \(previous.viewID) of group \(view.group) followed by transitional view \(view.viewID)")
                    }
                }
                last[view.group] = view
                // Neighbours within the part of the configuration the view is in: from the daemon's
                // last regular change to its next change (a transitional view: to the next regular one).
                let earlier = changes[daemon].prefix(record.changesBefore)
                let later = changes[daemon].dropFirst(record.changesBefore)
                let start = earlier.last { $0.change.kind == .regular }?.afterDeliveries ?? 0
                let end = later.first { view.kind == .regular || $0.change.kind == .regular }?.afterDeliveries ?? Int.max
                let before = ordered.last { $0.offset < record.afterDeliveries && $0.offset >= start }?.element.position
                let after = ordered.first { $0.offset >= record.afterDeliveries && $0.offset < end }?.element.position
                let mine = Shown(
                    daemon: daemon, kind: view.kind, reason: view.reason, members: view.members, changed: view.changed,
                    before: before, after: after)
                let key = ViewKey(group: view.group, id: view.viewID, configuration: record.configuration)
                guard let other = shown[key] else {
                    shown[key] = mine
                    continue
                }
                if other.kind != mine.kind || other.reason != mine.reason || other.members != mine.members
                    || (mine.reason != .network && other.changed != mine.changed)
                {
                    fail("view \(view.viewID) of group \(view.group) is \(other.kind) \(other.reason) \(other.members) at daemon \(other.daemon) but \(mine.kind) \(mine.reason) \(mine.members) at daemon \(daemon)")
                }
                if let a = other.before, let b = mine.before, a != b {
                    fail("view \(view.viewID) of group \(view.group) comes after \(a) at daemon \(other.daemon) but after \(b) at daemon \(daemon)")
                }
                if let a = other.after, let b = mine.after, a != b {
                    fail("view \(view.viewID) of group \(view.group) comes before \(a) at daemon \(other.daemon) but before \(b) at daemon \(daemon)")
                }
            }
            guard alive[daemon], let expected = expectedFinalMembers else { continue }
            for (group, members) in expected.sorted(by: { $0.key < $1.key }) {
                guard let final = last[group] else {
                    fail("daemon \(daemon) showed no view of group \(group); expected \(members) at the end")
                    continue
                }
                if final.members != members || final.kind != .regular {
                    fail("daemon \(daemon)'s last view of group \(group) is \(final.kind) \(final.viewID) \(final.members); expected \(members) at the end")
                }
            }
        }
    }
}
