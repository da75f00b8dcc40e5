/// Rule `viewPlacement`: what a client sees of a configuration change. At each process, a message
/// delivered while the regular configuration R is in force (in R itself, or in the transitional
/// configuration that ends R) must fall, for each of its groups that has views there, in views of R
/// (so never between a transitional view and the regular view it leads to):
/// 1. not before the regular network view of R of that group (the state exchange's result), where
///    the process has one (the message would appear in the old configuration's views; a group
///    with no member then gets its first view of R from a join, and may have messages before it);
/// 2. not after a regular view of a configuration newer than R (the process already showed the
///    next one). The transitional view that ends R leads to the next configuration and legitimately
///    comes before R's last messages.
extension Checkers {
    static func checkViewPlacement(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        for p in ix.processes {
            // Where each group's first regular view of each configuration is in the log.
            var firstRegular: [ViewKey: Int] = [:]
            for (i, entry) in p.log.enumerated() {
                if case .view(let view) = entry.event, view.kind == .regular, view.reason == .network {
                    let key = ViewKey(configuration: view.viewID.configuration, group: view.group)
                    if firstRegular[key] == nil { firstRegular[key] = i }
                }
            }
            var last: [String: GroupViewEvent] = [:]
            var deliveryIndex = 0
            for (i, entry) in p.log.enumerated() {
                switch entry.event {
                case .view(let view):
                    last[view.group] = view
                case .deliver:
                    let d = p.deliveries[deliveryIndex]
                    deliveryIndex += 1
                    guard d.isFirst, let config = p.configuration(of: d), config.regular >= 0,
                        let groups = ix.sent[Int(d.message)]?.groups
                    else { continue }
                    let home = p.configs[config.regular].event.id
                    for group in groups {
                        guard let view = last[group] else { continue }
                        let problem: String?
                        if let first = firstRegular[ViewKey(configuration: home, group: group)], first > i {
                            problem = "before its regular view (log #\(first)), after view \(view.viewID)"
                        } else if view.kind == .regular && view.viewID.configuration > home {
                            problem = "after view \(view.viewID) of a newer configuration"
                        } else {
                            problem = nil
                        }
                        if let problem {
                            sink.report(
                                "\(p.id): message \(ix.describe(d.message)) of configuration \(home) delivered \(problem) of group \(group) (log #\(i))",
                                processes: [p.id])
                        }
                    }
                default:
                    break
                }
            }
        }
    }
}

private struct ViewKey: Hashable {
    var configuration: ConfigurationID
    var group: String
}
