import ChorusVerify

/// A tiny DSL for writing histories by hand. Every recorded event advances a global virtual clock by
/// 10 ns, so the order of calls is the order in time.
struct HistoryBuilder {
    var history = History()
    private(set) var now: UInt64 = 0
    private var nextSeq: [SessionKey: UInt64] = [:]

    static func p(_ daemon: UInt32, _ incarnation: UInt32 = 0) -> ProcessID {
        ProcessID(daemon: daemon, incarnation: incarnation)
    }

    static func session(_ daemon: UInt32, _ local: UInt64 = 1) -> SessionKey {
        SessionKey(daemon: daemon, local: local)
    }

    static func config(_ seq: UInt64, _ representative: UInt32 = 1) -> ConfigurationID {
        ConfigurationID(seq: seq, representative: representative)
    }

    /// The content hash the builder gives a message.
    static func hash(_ id: MessageID) -> UInt64 {
        UInt64(id.session.daemon) &* 1_000_003 &+ UInt64(id.session.local) &* 10_007 &+ id.seq
    }

    private mutating func record(_ event: ProcessEvent, at process: ProcessID) {
        now += 10
        history.record(event, at: process, time: now)
    }

    /// Every process in `at` (default: the members) installs regular configuration `id`.
    mutating func regular(_ id: ConfigurationID, members: [ProcessID], at: [ProcessID]? = nil) {
        let event = ConfigurationEvent(id: id, kind: .regular, members: members.sorted())
        for p in at ?? members { record(.configuration(event), at: p) }
    }

    /// Every process in `at` (default: the members) installs the transitional configuration leading to `to`.
    mutating func transitional(to id: ConfigurationID, members: [ProcessID], at: [ProcessID]? = nil) {
        let event = ConfigurationEvent(id: id, kind: .transitional, members: members.sorted())
        for p in at ?? members { record(.configuration(event), at: p) }
    }

    /// A session of `from` submits a message; returns its id.
    @discardableResult
    mutating func send(
        _ from: ProcessID, _ service: ServiceLevel, session local: UInt64 = 1, groups: [String] = ["g"]
    ) -> MessageID {
        let session = SessionKey(daemon: from.daemon, local: local)
        let seq = nextSeq[session, default: 0] + 1
        nextSeq[session] = seq
        let id = MessageID(session: session, seq: seq)
        record(.submit(id), at: from)
        history.sent[id] = SentMessage(
            id: id, sender: from, service: service, groups: groups, contentHash: Self.hash(id), size: 16,
            submittedAt: now)
        return id
    }

    mutating func receive(_ id: MessageID, at processes: [ProcessID]) {
        for p in processes { record(.received(id), at: p) }
    }

    /// Each process in turn delivers the message, with the sent hash and service unless overridden.
    mutating func deliver(_ id: MessageID, at processes: [ProcessID], hash: UInt64? = nil, service: ServiceLevel? = nil) {
        let sent = history.sent[id]
        for p in processes {
            record(
                .deliver(
                    id, service: service ?? sent?.service ?? .reliable,
                    contentHash: hash ?? sent?.contentHash ?? Self.hash(id)),
                at: p)
        }
    }

    /// Delivers several messages, in order, at each process.
    mutating func deliverAll(_ ids: [MessageID], at processes: [ProcessID]) {
        for id in ids { deliver(id, at: processes) }
    }

    mutating func view(
        _ group: String, _ id: ViewIdentifier, _ kind: GroupViewEvent.Kind = .regular,
        reason: GroupViewEvent.Reason = .join, members: [SessionKey], changed: [SessionKey] = [],
        added: [SessionKey]? = nil, removed: [SessionKey]? = nil, at processes: [ProcessID]
    ) {
        let event = GroupViewEvent(
            group: group, viewID: id, kind: kind, reason: reason, members: members.sorted(), changed: changed.sorted(),
            added: added?.sorted(), removed: removed?.sorted())
        for p in processes { record(.view(event), at: p) }
    }

    mutating func crash(_ p: ProcessID) {
        now += 10
        history.crashedAt[p] = now
    }

    /// Lets virtual time pass.
    mutating func wait(_ duration: UInt64) { now += duration }

    /// Marks the point after which no faults happen.
    mutating func quiesce() { history.quiescentFrom = now }

    /// Finishes the history: `alive` are alive at the end, which is `extra` ns from now.
    func finish(alive: [ProcessID], extra: UInt64 = 10_000) -> History {
        var h = history
        h.aliveAtEnd = Set(alive)
        h.endTime = now + extra
        return h
    }
}

/// The rules a list of violations breaks.
func rules(_ violations: [Violation]) -> Set<Rule> { Set(violations.map(\.rule)) }

/// Liveness bound used by the tests (virtual ns); `finish(extra:)` defaults well beyond it.
let testBound: UInt64 = 1_000
let testOptions = CheckOptions(livenessBound: testBound)
