/// Rule `safeDelivery`, for every safe message m:
/// 1. If some process delivers m while in regular configuration C, every member of C held m no
///    later than the earliest such delivery: it has a `.received(m)`, `.deliver(m)` or (being the
///    sender) `.submit(m)` at a time <= that delivery's time. A member with no log never held it.
/// 2. If some process delivers m in configuration C (regular or transitional), every other member
///    of C that is in `aliveAtEnd` with no crash recorded delivers m at some point. Conservative:
///    only required when the earliest delivery is at least the delivery grace (`CheckOptions.grace`) before `endTime`.
/// Deliveries are grouped per (message, configuration) first, so the cost is
/// O(safe messages × members), not O(deliveries × members).
extension Checkers {
    static func checkSafeDelivery(_ ix: HistoryIndex, _ options: CheckOptions, _ sink: inout ViolationSink) {
        struct Key: Hashable {
            var message: Int32
            var config: ConfigKey
        }
        var earliest: [Key: (time: UInt64, process: Int, members: [ProcessID])] = [:]
        for (pi, p) in ix.processes.enumerated() {
            for d in p.deliveries where d.isFirst && ix.service[Int(d.message)] == .safe {
                guard let c = p.configuration(of: d) else { continue }
                let key = Key(message: d.message, config: c.key)
                if let e = earliest[key], e.time <= d.time { continue }
                earliest[key] = (d.time, pi, c.event.members)
            }
        }
        guard !earliest.isEmpty else { return }
        // When each process first held each safe message.
        var held = [[Int32: UInt64]](repeating: [:], count: ix.processes.count)
        for (pi, p) in ix.processes.enumerated() {
            for entry in p.log {
                let name: MessageID
                switch entry.event {
                case .received(let m), .submit(let m), .deliver(let m, _, _): name = m
                default: continue
                }
                guard let m = ix.messageIndex[name], ix.service[Int(m)] == .safe else { continue }
                if let t = held[pi][m], t <= entry.time { continue }
                held[pi][m] = entry.time
            }
        }
        let ordered = earliest.sorted { ($0.key.message, $0.key.config.id) < ($1.key.message, $1.key.config.id) }
        for (key, first) in ordered {
            let m = key.message
            let deliverer = ix.processes[first.process].id
            for member in first.members where member != deliverer {
                let qi = ix.processIndex[member]
                if key.config.kind == .regular {
                    let t = qi.flatMap { held[$0][m] }
                    if t == nil || t! > first.time {
                        sink.report(
                            "\(deliverer) delivered safe \(ix.id(m)) at t=\(first.time) in \(key.config), but member \(member) "
                                + (t.map { "only received it at t=\($0)" } ?? "never received it"),
                            processes: [deliverer, member], messages: [ix.id(m)])
                    }
                }
                guard ix.history.aliveAtEnd.contains(member), ix.history.crashedAt[member] == nil,
                    options.hasGrace(after: first.time, endTime: ix.history.endTime)
                else { continue }
                if qi.map({ !ix.processes[$0].delivered(m) }) ?? true {
                    sink.report(
                        "\(deliverer) delivered safe \(ix.id(m)) at t=\(first.time) in \(key.config), but member \(member), alive at the end (t=\(ix.history.endTime)), never delivered it",
                        processes: [deliverer, member], messages: [ix.id(m)])
                }
            }
        }
    }
}
