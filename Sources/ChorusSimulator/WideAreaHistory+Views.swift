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
        /// The configurations of sites the daemon installed between them: daemons that took
        /// different paths (a group without members in one part of a partition shows no view
        /// there) did not move together, and the configuration checks compare what they delivered.
        var path: [String]
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
    /// - Daemons that show the same two views of a group one after the other deliver the same
    ///   ordered messages between them; with `checkEveryServiceBetweenViews`, the same messages
    ///   of every service but unreliable between two network views (a configuration or a
    ///   site's daemons changing) shown one after the other, joins and leaves aside.
    /// - At the end (`expectedFinalMembers`): every running daemon's last view of each group
    ///   lists exactly the expected members, and is regular.
    func checkViews(_ fail: (String) -> Void) {
        var shown: [ViewKey: Shown] = [:]
        /// Per pair of consecutive views, the first daemon that showed both and the causal,
        /// agreed and safe messages it delivered between them; with `checkEveryServiceBetweenViews`,
        /// the same for consecutive network views and every service but unreliable.
        var between: [ViewPair: Between] = [:]
        var betweenNetworkViews: [ViewPair: Between] = [:]
        for (daemon, records) in views.enumerated() {
            let ordered = deliveries[daemon].enumerated().filter { $0.element.service >= .causal && $0.element.position != nil }
            var last: [String: GroupView] = [:]
            var lastShown: [String: Previous] = [:]
            var lastNetworkShown: [String: Previous] = [:]
            // Where this daemon showed the next view of the same group (a view's neighbours lie
            // before it: a transitional view shown inside a regular configuration, at a site's
            // daemon change, is followed by its regular view without a configuration change).
            var nextViewAt = [Int](repeating: Int.max, count: records.count)
            var laterViewAt: [String: Int] = [:]
            for index in records.indices.reversed() {
                nextViewAt[index] = laterViewAt[records[index].view.group] ?? Int.max
                laterViewAt[records[index].view.group] = records[index].afterDeliveries
            }
            for (index, record) in records.enumerated() {
                let view = record.view
                let key = ViewKey(group: view.group, id: view.viewID, configuration: record.configuration)
                // Ordered messages between any two views; with the strict check every service's
                // between two network views (reliable and fifo may cross joins and leaves).
                compareBetween(
                    &between, &lastShown, key, record.afterDeliveries, record.changesBefore, daemon: daemon, ordered: true, fail)
                if checkEveryServiceBetweenViews, view.reason == .network {
                    compareBetween(
                        &betweenNetworkViews, &lastNetworkShown, key, record.afterDeliveries, record.changesBefore, daemon: daemon,
                        ordered: false, fail)
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
                // last regular change to its next change (a transitional view: to the next regular
                // one), and never past the group's next view.
                let earlier = changes[daemon].prefix(record.changesBefore)
                let later = changes[daemon].dropFirst(record.changesBefore)
                let start = earlier.last { $0.change.kind == .regular }?.afterDeliveries ?? 0
                let end = min(
                    later.first { view.kind == .regular || $0.change.kind == .regular }?.afterDeliveries ?? Int.max,
                    nextViewAt[index])
                let before = ordered.last { $0.offset < record.afterDeliveries && $0.offset >= start }?.element.position
                let after = ordered.first { $0.offset >= record.afterDeliveries && $0.offset < end }?.element.position
                let mine = Shown(
                    daemon: daemon, kind: view.kind, reason: view.reason, members: view.members, changed: view.changed,
                    before: before, after: after)
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

    /// The first daemon that showed a pair of views and what it delivered between them.
    private struct Between {
        var daemon: Int
        var messages: Set<MessageKey>
    }

    /// Compares what `daemon` delivered between its last view of the group in `lastShown` and
    /// `key` (ordered services only, or every service but unreliable) with the first daemon that
    /// showed the same pair.
    /// A daemon's last view of a group, where it was shown.
    private struct Previous {
        var key: ViewKey
        var afterDeliveries: Int
        var changesBefore: Int
    }

    private func compareBetween(
        _ between: inout [ViewPair: Between], _ lastShown: inout [String: Previous],
        _ key: ViewKey, _ afterDeliveries: Int, _ changesBefore: Int, daemon: Int, ordered: Bool, _ fail: (String) -> Void
    ) {
        defer { lastShown[key.group] = Previous(key: key, afterDeliveries: afterDeliveries, changesBefore: changesBefore) }
        guard let previous = lastShown[key.group] else { return }
        let messages = Set(
            deliveries[daemon][previous.afterDeliveries..<afterDeliveries].lazy
                .filter { ordered ? $0.service >= .causal : $0.service != .unreliable }
                .map(\.message))
        let path = changes[daemon][previous.changesBefore..<changesBefore].map { "\($0.change.kind) \($0.change.id)" }
        let pair = ViewPair(first: previous.key, second: key, path: path)
        guard let other = between[pair] else {
            between[pair] = Between(daemon: daemon, messages: messages)
            return
        }
        guard other.messages != messages else { return }
        let onlyOther = other.messages.subtracting(messages).sorted { $0.description < $1.description }
        let onlyMine = messages.subtracting(other.messages).sorted { $0.description < $1.description }
        fail(
            "daemons \(other.daemon) and \(daemon) showed views \(previous.key.id) then \(key.id) of group \(key.group) but delivered different messages between them: only \(other.daemon) \(onlyOther.prefix(3)), only \(daemon) \(onlyMine.prefix(3))"
        )
    }
}
