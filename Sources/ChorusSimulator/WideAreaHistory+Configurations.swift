import ChorusCore
import ChorusWire

/// The checks of configurations of sites: what daemons deliver in each, and virtual synchrony.
extension WideAreaHistory {
    /// One daemon's deliveries in one configuration (with its transitional part).
    struct Segment {
        /// nil: before the daemon's first configuration (or a history without any).
        var configuration: SiteConfigurationID?
        var range: Range<Int>
        /// The regular configuration that followed (nil: the daemon's last).
        var next: SiteConfigurationID?
        /// Before or in the daemon's first configuration (a restarted daemon delivers unreliable
        /// messages before it has the state, and joins its first configuration part way).
        var isFirst: Bool
        /// The part after the transitional configuration that leads to `next`.
        var transitional = false
    }

    /// A daemon's deliveries cut at its configurations: each regular part, and the transitional
    /// part after it (delivered after the transitional configuration, before the next regular one).
    func segments(of daemon: Int) -> [Segment] {
        var result: [Segment] = []
        var start = 0
        var current: SiteConfigurationID?
        var regularSeen = 0
        var inTransitional = false
        func close(at end: Int, next: SiteConfigurationID?) {
            guard current != nil || end > start || inTransitional else { return }
            result.append(
                Segment(configuration: current, range: start..<end, next: next, isFirst: regularSeen <= 1, transitional: inTransitional))
            start = end
        }
        for change in changes[daemon] {
            let end = min(change.afterDeliveries, deliveries[daemon].count)
            close(at: end, next: change.change.id)
            start = end
            switch change.change.kind {
            case .transitional:
                inTransitional = true
            case .regular:
                current = change.change.id
                regularSeen += 1
                inTransitional = false
            }
        }
        close(at: deliveries[daemon].count, next: nil)
        if result.isEmpty { result.append(Segment(configuration: nil, range: 0..<0, next: nil, isFirst: true)) }
        return result
    }

    /// One id names one set of sites; a transitional configuration only sites of its regular one;
    /// every message but unreliable ones is delivered in one configuration.
    func checkConfigurations(_ segments: [[Segment]], _ fail: (String) -> Void) {
        var sitesOf: [SiteConfigurationID: [SiteID]] = [:]
        for (daemon, list) in changes.enumerated() {
            for entry in list where entry.change.kind == .regular {
                if let known = sitesOf[entry.change.id], known != entry.change.sites {
                    fail("configuration \(entry.change.id) is \(known) at one daemon and \(entry.change.sites) at daemon \(daemon)")
                }
                sitesOf[entry.change.id] = entry.change.sites
            }
        }
        for (daemon, list) in changes.enumerated() {
            // A transitional configuration leads to the regular one with its id, next.
            for (index, entry) in list.enumerated() where entry.change.kind == .transitional {
                if index + 1 < list.count {
                    let next = list[index + 1].change
                    if next.kind != .regular || next.id != entry.change.id {
                        fail("daemon \(daemon)'s transitional configuration to \(entry.change.id) is followed by \(next), not by its regular configuration")
                    }
                } else if alive[daemon] {
                    fail("daemon \(daemon) ended in the transitional configuration to \(entry.change.id)")
                }
            }
            for entry in list where entry.change.kind == .transitional {
                if let regular = sitesOf[entry.change.id], !Set(entry.change.sites).isSubset(of: regular) {
                    fail("daemon \(daemon)'s transitional configuration to \(entry.change.id) holds \(entry.change.sites), not all of \(regular)")
                }
            }
        }
        var deliveredIn: [MessageKey: (SiteConfigurationID?, Int)] = [:]
        for (daemon, list) in segments.enumerated() {
            for segment in list {
                // Unreliable messages take no place in the order, nor in a configuration.
                for delivery in deliveries[daemon][segment.range] where delivery.service > .unreliable {
                    if let known = deliveredIn[delivery.message], known.0 != segment.configuration {
                        fail("\(delivery.message) delivered in configuration \(known.0.map(\.description) ?? "none") at daemon \(known.1) and in \(segment.configuration.map(\.description) ?? "none") at daemon \(daemon)")
                    }
                    deliveredIn[delivery.message] = (segment.configuration, daemon)
                }
            }
        }
    }

    /// Daemons that move from a configuration to the same next one (or end the run in the same
    /// one) deliver the same messages in it; a crashed daemon a run of what such a group did; a
    /// restarted one, in its first configuration, what was sent from `joinSettling` after its start.
    func checkVirtualSynchrony(_ segments: [[Segment]], _ fail: (String) -> Void) {
        struct GroupKey: Hashable {
            var configuration: SiteConfigurationID?
            var next: SiteConfigurationID?
            var transitional: Bool
        }
        var groups: [GroupKey: [(daemon: Int, segment: Segment)]] = [:]
        var crashed: [(daemon: Int, segment: Segment)] = []
        var latecomers: [(daemon: Int, segment: Segment)] = []
        for (daemon, list) in segments.enumerated() {
            for segment in list {
                if segment.next == nil, !alive[daemon] {
                    crashed.append((daemon, segment))
                } else if segment.isFirst, joinedAt[daemon] > 0 {
                    latecomers.append((daemon, segment))
                } else {
                    groups[GroupKey(configuration: segment.configuration, next: segment.next, transitional: segment.transitional), default: []]
                        .append((daemon, segment))
                }
            }
        }
        func owed(_ daemon: Int, _ segment: Segment) -> Set<MessageKey> {
            Set(deliveries[daemon][segment.range].filter { $0.service > .unreliable }.map(\.message))
        }
        for (key, members) in groups where members.count > 1 {
            var union: [MessageKey: Int] = [:]
            for member in members { for message in owed(member.daemon, member.segment) { union[message] = member.daemon } }
            for member in members {
                let have = owed(member.daemon, member.segment)
                for (message, other) in union where !have.contains(message) {
                    let next = key.next.map { "before \($0)" } ?? "at the end"
                    let part = key.transitional ? " (transitional part)" : ""
                    fail("daemon \(member.daemon) never delivered \(message), which daemon \(other) delivered in configuration \(key.configuration.map(\.description) ?? "none")\(part) \(next)")
                }
            }
        }
        for latecomer in latecomers {
            let from = joinedAt[latecomer.daemon] + Self.joinSettling
            let have = owed(latecomer.daemon, latecomer.segment)
            let key = GroupKey(
                configuration: latecomer.segment.configuration, next: latecomer.segment.next, transitional: latecomer.segment.transitional)
            for member in groups[key] ?? [] {
                for message in owed(member.daemon, member.segment) where !have.contains(message) && (sent[message]?.time ?? 0) >= from {
                    let sentAt = sent[message].map { "\($0.service), sent at \(Double($0.time / 1_000_000) / 1000) s" } ?? "never sent"
                    fail("daemon \(latecomer.daemon) (restarted at \(Double(joinedAt[latecomer.daemon] / 1_000_000) / 1000) s) never delivered \(message) (\(sentAt)), which daemon \(member.daemon) delivered in configuration \(key.configuration.map(\.description) ?? "none")")
                }
            }
        }
        // In a regular part, a daemon delivers an ordered message only once every site promised
        // past it, so it has everything before it: no daemon's regular part has a hole in what the
        // regular parts of that configuration delivered.
        var regularOrder: [SiteConfigurationID?: Set<WideAreaPosition>] = [:]
        for (daemon, list) in segments.enumerated() {
            for segment in list where !segment.transitional {
                for delivery in deliveries[daemon][segment.range] where delivery.service >= .causal {
                    if let position = delivery.position { regularOrder[segment.configuration, default: []].insert(position) }
                }
            }
        }
        let sortedOrders = regularOrder.mapValues { $0.sorted() }
        for (daemon, list) in segments.enumerated() {
            for segment in list where !segment.transitional {
                let mine = deliveries[daemon][segment.range].filter { $0.service >= .causal }.compactMap(\.position)
                guard mine.count > 1, let order = sortedOrders[segment.configuration] else { continue }
                let index = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
                for (a, b) in zip(mine, mine.dropFirst()) where index[b]! > index[a]! + 1 {
                    fail("daemon \(daemon) delivered \(b) without \(order[index[a]! + 1]) before it in configuration \(segment.configuration.map(\.description) ?? "none") (\(index[b]! - index[a]! - 1) missing)")
                    break
                }
            }
        }
        // A crashed daemon's ordered deliveries in its last configuration: a run without holes of
        // the order some group of that configuration delivered.
        for entry in crashed {
            let mine = deliveries[entry.daemon][entry.segment.range].filter { $0.service >= .causal }.compactMap(\.position)
            guard mine.count > 1 else { continue }
            let candidates = groups.filter { $0.key.configuration == entry.segment.configuration }.values
            guard !candidates.isEmpty else { continue }
            var firstHole: String?
            var holeFree = false
            for members in candidates {
                var order = Set<WideAreaPosition>()
                for member in members {
                    for delivery in deliveries[member.daemon][member.segment.range] where delivery.service >= .causal {
                        if let position = delivery.position { order.insert(position) }
                    }
                }
                let sorted = order.union(mine).sorted()
                let index = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0) })
                var hole: String?
                for (a, b) in zip(mine, mine.dropFirst()) where index[b]! > index[a]! + 1 {
                    hole = "daemon \(entry.daemon) delivered \(b) without \(sorted[index[a]! + 1]) before it (\(index[b]! - index[a]! - 1) missing)"
                    break
                }
                if hole == nil {
                    holeFree = true
                    break
                }
                firstHole = firstHole ?? hole
            }
            if !holeFree, let firstHole { fail(firstHole) }
        }
    }
}
