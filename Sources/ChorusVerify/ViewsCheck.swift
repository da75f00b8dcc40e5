/// Rule `views`, on `.view` events:
/// 1. Per process and group, view ids strictly increase.
/// 2. Per process and group, a transitional view is followed (before any other view of that group)
///    by a regular view, also when configurations cascade.
/// 3. Processes that moved together from one configuration event to the same next one (the groups
///    of `failureAtomicity`) saw, per group, the same sequence of view events in between, each at
///    the same point relative to agreed/safe deliveries (the number of first deliveries of
///    agreed/safe messages since the configuration event). Conservative: a group is compared only
///    between processes that both recorded views of it in that stretch, since a daemon might only
///    record views of groups it tracks.
/// 4. Causal messages, which may be delivered ahead of the total order, still sit on the same side
///    of every view of their target groups: processes that delivered a causal message m after the
///    same configuration event saw the same last view of each of m's groups before it, whatever
///    happened to them later (what precedes m does not depend on it). Compared for groups both
///    processes recorded views of after that event, starting with the same view (daemons that
///    part before a state exchange completes show different first views).
/// 5. Where a process reports what a view added and removed, that is exactly the difference from
///    the previous view of the group it showed, and a join view adds the joiner, a leave or
///    disconnect view removes the one concerned. The previous view counts if it is of the same
///    configuration (for a join, leave or disconnect view), of the configuration before (for a
///    transitional view), or the transitional view just before (for a regular network view);
///    otherwise the group starts afresh: added within the members, removed outside them.
/// A view as one process showed it, with the number of agreed/safe deliveries before it in its
/// configuration and its time.
struct PlacedView {
    var view: GroupViewEvent
    var position: Int
    var time: UInt64
}

extension Checkers {
    static func checkViews(_ ix: HistoryIndex, _ options: CheckOptions, _ sink: inout ViolationSink) {
        /// Per process, per configuration index: group → [(view, agreed deliveries before it)].
        var segmentViews = [[[String: [PlacedView]]]]()
        /// Per process, per configuration index: causal message → (group → last view of it before).
        var causalPlacements = [[[Int32: [String: ViewIdentifier?]]]]()
        for p in ix.processes {
            var perConfig = [[String: [PlacedView]]](repeating: [:], count: p.configs.count)
            var placements = [[Int32: [String: ViewIdentifier?]]](repeating: [:], count: p.configs.count)
            var last: [String: GroupViewEvent] = [:]
            var lastEpoch: [String: Int] = [:]  // the configuration index `last` was shown in
            var config = -1
            var agreedSince = 0
            var deliveryIndex = 0
            for (i, entry) in p.log.enumerated() {
                switch entry.event {
                case .configuration:
                    config += 1
                    agreedSince = 0
                case .deliver:
                    let d = p.deliveries[deliveryIndex]
                    deliveryIndex += 1
                    if d.isFirst && ix.service[Int(d.message)] >= .agreed { agreedSince += 1 }
                    if d.isFirst, config >= 0, ix.service[Int(d.message)] == .causal, let groups = ix.sent[Int(d.message)]?.groups {
                        var before: [String: ViewIdentifier?] = [:]
                        for group in groups { before[group] = .some(perConfig[config][group]?.last?.view.viewID) }
                        placements[config][d.message] = before
                    }
                case .view(let view):
                    if let previous = last[view.group] {
                        if view.viewID <= previous.viewID {
                            sink.report(
                                "\(p.id): view ids of group \(view.group) do not increase: \(previous.viewID) then \(view.viewID) (log #\(i))",
                                processes: [p.id])
                        }
                        // Even when the configuration changes again before the group state is
                        // re-synchronised, a regular view comes before the next transitional one.
                        // (It may be of a later configuration: when the exchange of the one the
                        // transitional view leads to was cut short before the announcements of
                        // this group's members arrived, the group has no view there.)
                        if previous.kind == .transitional && view.kind != .regular {
                            sink.report(
                                "\(p.id): transitional view \(previous.viewID) of group \(view.group) followed by another transitional view \(view.viewID) (log #\(i)) instead of a regular one",
                                processes: [p.id])
                        }
                    }
                    let previous = last[view.group].flatMap { previous in
                        Self.countsForDifference(previous, epoch: lastEpoch[view.group]!, before: view, epoch: config)
                            ? previous : nil
                    }
                    checkDifference(view, from: previous, p.id, i, &sink)
                    last[view.group] = view
                    lastEpoch[view.group] = config
                    if config >= 0 { perConfig[config][view.group, default: []].append(PlacedView(view: view, position: agreedSince, time: entry.time)) }
                default:
                    break
                }
            }
            segmentViews.append(perConfig)
            causalPlacements.append(placements)
        }
        for (key, members) in ix.segmentGroups where members.count > 1 {
            compareViews(members, key, segmentViews, ix, &sink)
        }
        // The last configuration too: what one process showed a grace period before the end, the
        // others must have shown as well, at the same place.
        let cutoff = ix.finalStretchCutoff(options)
        for (key, members) in ix.finalGroups(options) where members.count > 1 {
            let settled = members.map { member in
                segmentViews[member.process][member.config].mapValues { views in views.filter { $0.time <= cutoff }.count }
            }
            compareViews(members, key, segmentViews, ix, &sink) { group, a, b in
                max(settled[a][group] ?? 0, settled[b][group] ?? 0)
            }
        }
        for (key, members) in ix.configurationGroups where members.count > 1 {
            compareCausalPlacements(members, key, segmentViews, causalPlacements, ix, &sink)
        }
    }

    /// Rule 5: whether `previous` (shown in configuration `previousEpoch`) is the view `view`'s
    /// difference is computed against.
    private static func countsForDifference(
        _ previous: GroupViewEvent, epoch previousEpoch: Int, before view: GroupViewEvent, epoch: Int
    ) -> Bool {
        if previousEpoch == epoch { return true }
        guard previousEpoch == epoch - 1 else { return false }
        switch (view.kind, view.reason) {
        case (.transitional, _): return true
        case (.regular, .network): return previous.kind == .transitional
        default: return false
        }
    }

    /// Rule 5: `view.added` and `view.removed` against the previous view of its group.
    private static func checkDifference(
        _ view: GroupViewEvent, from previous: GroupViewEvent?, _ process: ProcessID, _ index: Int,
        _ sink: inout ViolationSink
    ) {
        guard let added = view.added, let removed = view.removed else { return }
        let members = Set(view.members)
        var wrong: [String] = []
        if let previous {
            let before = Set(previous.members)
            let expectedAdded = members.subtracting(before).sorted()
            let expectedRemoved = before.subtracting(members).sorted()
            if added != expectedAdded { wrong.append("added \(listing(added)), not \(listing(expectedAdded))") }
            if removed != expectedRemoved { wrong.append("removed \(listing(removed)), not \(listing(expectedRemoved))") }
        } else {
            if !Set(added).isSubset(of: members) { wrong.append("added \(listing(added)) outside the members") }
            if !Set(removed).isDisjoint(with: members) { wrong.append("removed \(listing(removed)) still members") }
        }
        switch view.reason {
        case .join where previous != nil && added != view.changed:
            wrong.append("a join of \(listing(view.changed)) added \(listing(added))")
        case .leave where removed != view.changed, .disconnect where removed != view.changed:
            wrong.append("a \(view.reason) of \(listing(view.changed)) removed \(listing(removed))")
        default: break
        }
        guard !wrong.isEmpty else { return }
        sink.report(
            "\(process): \(view.kind) view \(view.viewID) of group \(view.group) (log #\(index)) \(wrong.joined(separator: "; ")) against the previous view \(previous.map { "\($0.viewID) \(listing($0.members))" } ?? "(none)")",
            processes: [process])
    }

    /// Rule 3 for processes that moved together from one configuration to the same next one.
    private static func compareViews(
        _ members: [(process: Int, config: Int)], _ key: SegmentKey,
        _ segmentViews: [[[String: [PlacedView]]]], _ ix: HistoryIndex,
        _ sink: inout ViolationSink, compared: ((String, Int, Int) -> Int)? = nil
    ) {
        let reference = members[0]
        let referenceViews = segmentViews[reference.process][reference.config]
        let referenceID = ix.processes[reference.process].id
        for (m, member) in members.enumerated().dropFirst() {
            let views = segmentViews[member.process][member.config]
            let id = ix.processes[member.process].id
            // Every group either process has views of: every daemon computes every view.
            for group in Set(referenceViews.keys).union(views.keys).sorted() {
                let a = referenceViews[group] ?? []
                let b = views[group] ?? []
                let count = compared?(group, 0, m) ?? max(a.count, b.count)
                guard let k = (0..<count).first(where: { k in
                    k >= a.count || k >= b.count || !sameView(a[k].view, b[k].view) || a[k].position != b[k].position
                }) else { continue }
                sink.report(
                    "\(referenceID) and \(id) both went \(key) but saw different views of group \(group) at view #\(k + 1): "
                        + "\(referenceID) saw \(describe(a, k)); \(id) saw \(describe(b, k))",
                    processes: [referenceID, id])
            }
        }
    }

    /// Rule 4 for processes that started a stretch with the same configuration event: each causal
    /// message is compared with the first process (in index order) that delivered it there.
    private static func compareCausalPlacements(
        _ members: [(process: Int, config: Int)], _ key: ConfigKey,
        _ segmentViews: [[[String: [PlacedView]]]],
        _ causalPlacements: [[[Int32: [String: ViewIdentifier?]]]], _ ix: HistoryIndex, _ sink: inout ViolationSink
    ) {
        var first: [Int32: (process: Int, config: Int)] = [:]
        for member in members {
            let views = segmentViews[member.process][member.config]
            for (m, before) in causalPlacements[member.process][member.config].sorted(by: { $0.key < $1.key }) {
                guard let reference = first[m] else {
                    first[m] = member
                    continue
                }
                let referenceViews = segmentViews[reference.process][reference.config]
                let referenceBefore = causalPlacements[reference.process][reference.config][m] ?? [:]
                // Compared only where both started from the same view of the group (the state
                // exchange's result): processes that parted before it ended may show different ones.
                for (group, last) in before.sorted(by: { $0.key < $1.key })
                where referenceViews[group] != nil && views[group] != nil && referenceBefore[group] != last
                    && referenceViews[group]?.first?.view.viewID == views[group]?.first?.view.viewID
                {
                    let referenceID = ix.processes[reference.process].id
                    let id = ix.processes[member.process].id
                    let other = referenceBefore[group] ?? nil
                    sink.report(
                        "\(referenceID) and \(id) both delivered causal message \(ix.describe(m)) after \(key) but among different views of group \(group): "
                            + "after \(other.map { "view \($0)" } ?? "no view") at \(referenceID), after \(last.map { "view \($0)" } ?? "no view") at \(id)",
                        processes: [referenceID, id])
                }
            }
        }
    }

    private static func describe(_ views: [PlacedView], _ k: Int) -> String {
        guard k < views.count else { return "no further view" }
        let v = views[k].view
        return "\(v.kind) view \(v.viewID) (\(v.reason), members \(listing(v.members)), changed \(listing(v.changed))) after \(views[k].position) agreed/safe deliveries"
    }
}

/// Two daemons' copies of one view agree. For a network view `changed` is the set that moved
/// together with *that* daemon, so daemons that arrived from different components differ there.
private func sameView(_ a: GroupViewEvent, _ b: GroupViewEvent) -> Bool {
    guard a.group == b.group, a.viewID == b.viewID, a.kind == b.kind, a.reason == b.reason, a.members == b.members
    else { return false }
    return a.reason == .network || a.changed == b.changed
}
