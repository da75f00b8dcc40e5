/// A pre-digested `History` shared by the checkers: messages are interned to dense integers and
/// every process's log is split into deliveries and configuration events, so the checkers can use
/// arrays of positions instead of comparing logs pairwise.

/// Identity of a configuration event when comparing processes. Regular configurations are named
/// by id (member lists are checked by `configurationConsistency`); transitional ones also by their
/// members, since different components move into the same regular configuration through
/// different transitional configurations that share its id.
struct ConfigKey: Hashable, CustomStringConvertible {
    var id: ConfigurationID
    var kind: ConfigurationEvent.Kind
    var members: [ProcessID]

    init(_ event: ConfigurationEvent) {
        id = event.id
        kind = event.kind
        members = event.kind == .transitional ? event.members.sorted() : []
    }

    var description: String {
        if self == .endOfRun { return "the end of the run" }
        return kind == .regular ? "regular \(id)" : "transitional \(id)\(listing(members, limit: 16))"
    }
}

/// A stretch of a process's life: from one configuration event to the next one.
struct SegmentKey: Hashable, CustomStringConvertible {
    var from: ConfigKey
    var to: ConfigKey
    var description: String { "\(from) → \(to)" }
}

extension ConfigKey {
    /// Stands for "still here when the run ended" as the end of a process's last stretch.
    static let endOfRun = ConfigKey(
        ConfigurationEvent(id: ConfigurationID(seq: .max, representative: .max), kind: .regular, members: []))
}

/// A session as the checkers order it: the sending process is part of the name so that a session
/// number reused by a later incarnation is not confused with the earlier one.
struct SessionRef: Hashable, CustomStringConvertible {
    var sender: ProcessID?
    var session: SessionKey
    var description: String { sender.map { "\(session)@\($0)" } ?? "\(session)" }
}

/// One `.deliver` event of a process.
struct DeliveryRecord {
    /// Position in the process's log.
    var logIndex: Int
    var time: UInt64
    /// Interned message.
    var message: Int32
    /// Service and hash as delivered.
    var service: ServiceLevel
    var contentHash: UInt64
    /// Index into `ProcessIndex.configs` of the configuration event in force; -1 before any.
    var segment: Int32
    /// False for a repeated delivery of the same message (an integrity violation); the other rules
    /// only look at first deliveries.
    var isFirst: Bool
}

/// One `.configuration` event of a process.
struct ConfigRecord {
    var logIndex: Int
    var time: UInt64
    var event: ConfigurationEvent
    var key: ConfigKey
    /// Index of the regular configuration this event belongs to: itself if regular, the preceding
    /// regular configuration if transitional (-1 if none).
    var regular: Int
    /// Deliveries `firstDelivery..<endDelivery` happened while this configuration was in force.
    var firstDelivery: Int
    var endDelivery: Int
    /// Index of the next configuration event, if any.
    var next: Int?
}

/// The digested log of one process.
final class ProcessIndex {
    let id: ProcessID
    let log: [TimedEvent]
    var deliveries: [DeliveryRecord] = []
    var configs: [ConfigRecord] = []
    /// Per interned message: index into `deliveries` of its first delivery, or -1.
    var firstDelivery: [Int32]
    /// First occurrence of each configuration event.
    var configIndex: [ConfigKey: Int] = [:]

    /// Splits the log; `intern` names each message seen (so one dictionary lookup per event).
    /// `firstDelivery` and `DeliveryRecord.isFirst` are filled in by `finish(messageCount:)`.
    init(id: ProcessID, log: [TimedEvent], intern: (MessageID, ServiceLevel) -> Int32) {
        self.id = id
        self.log = log
        firstDelivery = []
        var lastRegular = -1
        for i in log.indices {
            switch log[i].event {
            case .configuration(let event):
                closeLastConfiguration()
                let index = configs.count
                let regular = event.kind == .regular ? index : lastRegular
                let key = ConfigKey(event)
                configs.append(
                    ConfigRecord(
                        logIndex: i, time: log[i].time, event: event, key: key, regular: regular,
                        firstDelivery: deliveries.count, endDelivery: deliveries.count, next: nil))
                if event.kind == .regular { lastRegular = index }
                if configIndex[key] == nil { configIndex[key] = index }
            case .deliver(let id, let service, let hash):
                deliveries.append(
                    DeliveryRecord(
                        logIndex: i, time: log[i].time, message: intern(id, service), service: service,
                        contentHash: hash, segment: Int32(configs.count - 1), isFirst: true))
            case .submit(let id), .received(let id), .sessionDeliver(let id, _):
                _ = intern(id, .unreliable)
            case .view:
                break
            }
        }
        closeLastConfiguration()
        for i in configs.indices.dropLast() { configs[i].next = i + 1 }
    }

    /// Second phase, once every message is interned.
    func finish(messageCount: Int) {
        firstDelivery = [Int32](repeating: -1, count: messageCount)
        for k in deliveries.indices {
            let m = Int(deliveries[k].message)
            if firstDelivery[m] < 0 {
                firstDelivery[m] = Int32(k)
            } else {
                deliveries[k].isFirst = false
            }
        }
    }

    private func closeLastConfiguration() {
        guard !configs.isEmpty else { return }
        configs[configs.count - 1].endDelivery = deliveries.count
    }

    /// The configuration event in force at delivery `d`, if any.
    func configuration(of d: DeliveryRecord) -> ConfigRecord? {
        d.segment >= 0 ? configs[Int(d.segment)] : nil
    }

    /// The regular configuration a delivery belongs to (the one in force, or the one preceding the
    /// transitional configuration in force).
    func regularConfiguration(of d: DeliveryRecord) -> ConfigRecord? {
        guard d.segment >= 0 else { return nil }
        let r = configs[Int(d.segment)].regular
        return r >= 0 ? configs[r] : nil
    }

    func delivered(_ m: Int32) -> Bool { firstDelivery[Int(m)] >= 0 }
}

/// The whole history, digested.
final class HistoryIndex {
    let history: History
    /// Sorted by process id.
    let processes: [ProcessIndex]
    let processIndex: [ProcessID: Int]
    /// Interned messages: every message of `history.sent`, then any unknown one seen in a log.
    let messageIDs: [MessageID]
    let messageIndex: [MessageID: Int32]
    /// Ground truth per interned message (nil for messages missing from `history.sent`).
    let sent: [SentMessage?]
    /// The service a message promises: as sent, or as first delivered if it was never sent.
    let service: [ServiceLevel]
    /// The session of each interned message.
    let session: [SessionRef]

    init(_ history: History) {
        self.history = history
        var ids = history.sent.keys.sorted()
        var index: [MessageID: Int32] = [:]
        index.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() { index[id] = Int32(i) }
        let sentCount = ids.count
        var services = ids.map { history.sent[$0]!.service }
        func intern(_ id: MessageID, _ service: ServiceLevel) -> Int32 {
            if let known = index[id] {
                if Int(known) >= sentCount && services[Int(known)] < service { services[Int(known)] = service }
                return known
            }
            let new = Int32(ids.count)
            index[id] = new
            ids.append(id)
            services.append(service)
            return new
        }
        var built: [ProcessIndex] = []
        var byID: [ProcessID: Int] = [:]
        for p in history.logs.keys.sorted() {
            byID[p] = built.count
            built.append(ProcessIndex(id: p, log: history.logs[p]!, intern: intern))
        }
        for p in built { p.finish(messageCount: ids.count) }
        processes = built
        processIndex = byID
        messageIDs = ids
        messageIndex = index
        sent = ids.map { history.sent[$0] }
        service = services
        session = ids.map { SessionRef(sender: history.sent[$0]?.sender, session: $0.session) }
    }

    var messageCount: Int { messageIDs.count }

    func id(_ m: Int32) -> MessageID { messageIDs[Int(m)] }

    /// "d1:3 (agreed)".
    func describe(_ m: Int32) -> String { "\(messageIDs[Int(m)]) (\(service[Int(m)]))" }

    func process(_ id: ProcessID) -> ProcessIndex? { processIndex[id].map { processes[$0] } }

    /// Every process's configuration segments that have a successor event, grouped by
    /// (configuration, next configuration). Processes in one group moved together.
    private(set) lazy var segmentGroups: [(key: SegmentKey, members: [(process: Int, config: Int)])] = {
        var groups: [SegmentKey: [(process: Int, config: Int)]] = [:]
        for (pi, p) in processes.enumerated() {
            for (ci, c) in p.configs.enumerated() {
                guard let next = c.next else { continue }
                groups[SegmentKey(from: c.key, to: p.configs[next].key), default: []].append((pi, ci))
            }
        }
        return groups.map { (key: $0.key, members: $0.value) }
            .sorted { ($0.key.from.id, $0.key.to.id, $0.members[0].process) < ($1.key.from.id, $1.key.to.id, $1.members[0].process) }
    }()

    /// Messages submitted after this time may still be on their way when the run ends.
    func finalStretchCutoff(_ options: CheckOptions) -> UInt64 {
        history.endTime >= options.grace ? history.endTime - options.grace : 0
    }

    /// The last configuration of every process alive at the end of a run whose tail was quiescent,
    /// grouped by that configuration (key `from → .endOfRun`). Empty when faults went on to the end
    /// or the quiet tail is shorter than `livenessBound` plus the grace (nothing is sure to have settled).
    func finalGroups(_ options: CheckOptions) -> [(key: SegmentKey, members: [(process: Int, config: Int)])] {
        guard let quiet = history.quiescentFrom, quiet <= UInt64.max - options.livenessBound,
            quiet + options.livenessBound <= finalStretchCutoff(options)
        else { return [] }
        var groups: [SegmentKey: [(process: Int, config: Int)]] = [:]
        for (pi, p) in processes.enumerated() where history.aliveAtEnd.contains(p.id) && !p.configs.isEmpty {
            let last = p.configs.count - 1
            groups[SegmentKey(from: p.configs[last].key, to: .endOfRun), default: []].append((pi, last))
        }
        return groups.map { (key: $0.key, members: $0.value) }
            .sorted { ($0.key.from.id, $0.members[0].process) < ($1.key.from.id, $1.members[0].process) }
    }

    /// Every process's configuration segments, grouped by the configuration they start with,
    /// whatever followed (a crash, another configuration, the end of the history).
    private(set) lazy var configurationGroups: [(key: ConfigKey, members: [(process: Int, config: Int)])] = {
        var groups: [ConfigKey: [(process: Int, config: Int)]] = [:]
        for (pi, p) in processes.enumerated() {
            for (ci, c) in p.configs.enumerated() { groups[c.key, default: []].append((pi, ci)) }
        }
        return groups.map { (key: $0.key, members: $0.value) }
            .sorted { ($0.key.id, $0.members[0].process) < ($1.key.id, $1.members[0].process) }
    }()
}
