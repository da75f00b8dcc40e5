/// Rule `configurationConsistency`, on `.configuration` events:
/// - a process's first configuration event is regular;
/// - ids only increase: after a regular configuration the next event has a larger id; after a
///   transitional configuration the next event is the regular configuration it announced (same id);
/// - a process is a member of every configuration it installs;
/// - all processes installing regular configuration C list the same members;
/// - a transitional configuration's members are a subset of the preceding regular configuration's
///   members and of the following regular configuration's members (at that process);
/// - processes moving from the same regular configuration through transitional configurations with
///   the same id list the same transitional members (they are the processes that moved together).
extension Checkers {
    static func checkConfigurationConsistency(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        var regularMembers: [ConfigurationID: (members: [ProcessID], process: ProcessID)] = [:]
        struct Move: Hashable {
            var from: ConfigurationID
            var to: ConfigurationID
        }
        var transitionalMembers: [Move: (members: [ProcessID], process: ProcessID)] = [:]
        for p in ix.processes {
            for (ci, c) in p.configs.enumerated() {
                let e = c.event
                let members = e.members.sorted()
                if ci == 0 && e.kind != .regular {
                    sink.report(
                        "\(p.id): first configuration event is transitional \(e.id) (log #\(c.logIndex)), not a regular configuration",
                        processes: [p.id])
                }
                if ci > 0 {
                    let previous = p.configs[ci - 1].event
                    if previous.kind == .regular && e.id <= previous.id {
                        sink.report(
                            "\(p.id): configuration ids do not increase: regular \(previous.id) then \(e.kind) \(e.id) (log #\(c.logIndex))",
                            processes: [p.id])
                    } else if previous.kind == .transitional && (e.kind != .regular || e.id != previous.id) {
                        sink.report(
                            "\(p.id): transitional configuration towards \(previous.id) followed by \(e.kind) \(e.id) (log #\(c.logIndex)) instead of regular \(previous.id)",
                            processes: [p.id])
                    }
                }
                if !members.contains(p.id) {
                    sink.report(
                        "\(p.id) installed \(e.kind) configuration \(e.id) (log #\(c.logIndex)) without being a member of it: \(listing(members, limit: 16))",
                        processes: [p.id])
                }
                if e.kind == .regular {
                    if let known = regularMembers[e.id] {
                        if known.members != members {
                            sink.report(
                                "regular configuration \(e.id) has members \(listing(known.members, limit: 16)) at \(known.process) but \(listing(members, limit: 16)) at \(p.id)",
                                processes: [known.process, p.id])
                        }
                    } else {
                        regularMembers[e.id] = (members, p.id)
                    }
                    continue
                }
                // Transitional.
                if c.regular >= 0 {
                    let before = p.configs[c.regular].event
                    let outside = members.filter { !before.members.contains($0) }
                    if !outside.isEmpty {
                        sink.report(
                            "\(p.id): transitional configuration towards \(e.id) has members \(listing(outside)) that are not in the preceding regular configuration \(before.id)",
                            processes: [p.id] + outside)
                    }
                    let move = Move(from: before.id, to: e.id)
                    if let known = transitionalMembers[move] {
                        if known.members != members {
                            sink.report(
                                "\(known.process) and \(p.id) both moved from regular \(before.id) towards \(e.id) but their transitional configurations differ: \(listing(known.members, limit: 16)) vs \(listing(members, limit: 16))",
                                processes: [known.process, p.id])
                        }
                    } else {
                        transitionalMembers[move] = (members, p.id)
                    }
                }
                if let next = c.next, p.configs[next].event.kind == .regular, p.configs[next].event.id == e.id {
                    let after = p.configs[next].event
                    let outside = members.filter { !after.members.contains($0) }
                    if !outside.isEmpty {
                        sink.report(
                            "\(p.id): transitional configuration towards \(e.id) has members \(listing(outside)) that are not in regular configuration \(after.id)",
                            processes: [p.id] + outside)
                    }
                }
            }
        }
    }
}
