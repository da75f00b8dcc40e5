/// Rule `integrity`, per process and delivery:
/// - a message is delivered at most once per process;
/// - every delivered message exists in `History.sent`;
/// - the delivered content hash equals the sent one (no corruption);
/// - the delivered service equals the sent one;
/// - it is not delivered before it was submitted (virtual time);
/// and per `.submit` event: the message exists in `sent` and `sent` names this process as sender.
extension Checkers {
    static func checkIntegrity(_ ix: HistoryIndex, _ sink: inout ViolationSink) {
        for p in ix.processes {
            for d in p.deliveries {
                let m = d.message
                let name = ix.id(m)
                if !d.isFirst {
                    let first = p.deliveries[Int(p.firstDelivery[Int(m)])]
                    sink.report(
                        "\(p.id) delivered \(name) twice: at t=\(first.time) (log #\(first.logIndex)) and again at t=\(d.time) (log #\(d.logIndex))",
                        processes: [p.id], messages: [name])
                    continue
                }
                guard let sent = ix.sent[Int(m)] else {
                    sink.report(
                        "\(p.id) delivered \(name) at t=\(d.time), but no such message was ever sent",
                        processes: [p.id], messages: [name])
                    continue
                }
                if d.contentHash != sent.contentHash {
                    sink.report(
                        "\(p.id) delivered \(name) at t=\(d.time) with content hash \(hex(d.contentHash)), but \(sent.sender) sent hash \(hex(sent.contentHash)) (corrupted)",
                        processes: [p.id, sent.sender], messages: [name])
                }
                if d.service != sent.service {
                    sink.report(
                        "\(p.id) delivered \(name) as \(d.service), but it was sent as \(sent.service)",
                        processes: [p.id, sent.sender], messages: [name])
                }
                if d.time < sent.submittedAt {
                    sink.report(
                        "\(p.id) delivered \(name) at t=\(d.time), before it was submitted at t=\(sent.submittedAt)",
                        processes: [p.id, sent.sender], messages: [name])
                }
            }
            for (i, entry) in p.log.enumerated() {
                guard case .submit(let name) = entry.event else { continue }
                if let sent = ix.history.sent[name] {
                    if sent.sender != p.id {
                        sink.report(
                            "\(p.id) logged the submission of \(name) (log #\(i)), but History.sent names \(sent.sender) as its sender",
                            processes: [p.id, sent.sender], messages: [name])
                    }
                } else {
                    sink.report(
                        "\(p.id) logged the submission of \(name) (log #\(i)), but it is missing from History.sent",
                        processes: [p.id], messages: [name])
                }
            }
        }
    }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
