import ChorusCore
import ChorusVerify
import ChorusWire
import NIOCore

/// Turns what the engines do into the checkers' `History`.
struct SimRecorder {
    let recording: Bool
    var history = History()
    private var logs: [ProcessID: [TimedEvent]] = [:]
    private var submittedAt: [MessageID: UInt64] = [:]
    var submittedByService = [Int](repeating: 0, count: 6)
    var regularConfigurations = 0
    private var safeFragments = SafeFragmentTracker()

    init(recording: Bool) { self.recording = recording }

    mutating func startProcess(_ process: ProcessID) {
        if recording { logs[process] = [] }
    }

    mutating func crash(_ process: ProcessID, at time: UInt64) {
        if recording { history.crashedAt[process] = time }
    }

    private mutating func append(_ event: ProcessEvent, _ process: ProcessID, _ time: UInt64) {
        logs[process, default: []].append(TimedEvent(time: time, event: event))
    }

    static func messageID(_ data: ClientData) -> MessageID { messageID(data.sender, data.sessionSeq) }

    static func messageID(_ session: SessionID, _ seq: UInt64) -> MessageID {
        MessageID(session: SessionKey(daemon: session.daemon.rawValue, local: session.local), seq: seq)
    }

    static func hash(_ payload: ByteBuffer) -> UInt64 {
        UInt64(CRC32C.checksum(payload)) | UInt64(payload.readableBytes) << 32
    }

    func logLength(of process: ProcessID) -> Int { logs[process]?.count ?? 0 }

    mutating func submit(
        _ id: MessageID, service: Service, groups: [String], payload: ByteBuffer, at process: ProcessID, time: UInt64,
        logPosition: Int
    ) {
        submittedByService[Int(service.rawValue)] += 1
        submittedAt[id] = time
        guard recording else { return }
        history.sent[id] = SentMessage(
            id: id, sender: process, service: ServiceLevel(rawValue: service.rawValue)!, groups: groups,
            contentHash: Self.hash(payload), size: payload.readableBytes, submittedAt: time)
        var entries = [TimedEvent(time: time, event: .submit(id))]
        if service == .safe { entries.append(TimedEvent(time: time, event: .received(id))) }
        logs[process, default: []].insert(contentsOf: entries, at: min(logPosition, logs[process]?.count ?? 0))
    }

    /// Records a delivery; returns the submission time for latency statistics.
    mutating func deliver(_ delivery: GroupDelivery, at process: ProcessID, time: UInt64) -> UInt64? {
        let id = Self.messageID(delivery.data)
        if recording {
            append(
                .deliver(id, service: ServiceLevel(rawValue: delivery.service.rawValue)!, contentHash: Self.hash(delivery.data.payload)),
                process, time)
        }
        return submittedAt[id]
    }

    mutating func view(_ view: GroupView, at process: ProcessID, time: UInt64) {
        guard recording else { return }
        let event = GroupViewEvent(
            group: view.group,
            viewID: ViewIdentifier(
                configuration: ConfigurationID(seq: view.viewID.ring.seq, representative: view.viewID.ring.representative.rawValue),
                index: view.viewID.index),
            kind: view.kind == .regular ? .regular : .transitional,
            reason: {
                switch view.reason {
                case .join: .join
                case .leave: .leave
                case .disconnect: .disconnect
                case .network: .network
                }
            }(),
            members: view.members.map { SessionKey(daemon: $0.daemon.rawValue, local: $0.local) },
            changed: view.changed.map { SessionKey(daemon: $0.daemon.rawValue, local: $0.local) },
            added: view.added.map { SessionKey(daemon: $0.daemon.rawValue, local: $0.local) },
            removed: view.removed.map { SessionKey(daemon: $0.daemon.rawValue, local: $0.local) })
        append(.view(event), process, time)
    }

    mutating func configuration(
        _ configuration: RingConfiguration, members: [ProcessID], at process: ProcessID, time: UInt64
    ) {
        if configuration.kind == .regular { regularConfigurations += 1 }
        guard recording else { return }
        let event = ConfigurationEvent(
            id: ConfigurationID(seq: configuration.ringID.seq, representative: configuration.ringID.representative.rawValue),
            kind: configuration.kind == .regular ? .regular : .transitional, members: members.sorted())
        append(.configuration(event), process, time)
    }

    /// Ground truth for safe delivery: which process holds which safe message, and since when.
    mutating func noteReceived(_ packet: DataPacket, at process: ProcessID, time: UInt64) {
        if packet.isRecovery {
            if case .data(let inner)? = try? PacketCodec.decode(packet.body) {
                noteReceived(inner, at: process, time: time)
            }
            return
        }
        guard packet.service == .safe else { return }
        guard packet.fragment == .packed else {
            if let message = safeFragments.receive(packet, at: process) { append(.received(message), process, time) }
            return
        }
        guard let messages = try? packet.packedMessages() else { return }
        for message in messages {
            if case .data(let data)? = try? GroupMessageCodec.decode(message) {
                append(.received(Self.messageID(data)), process, time)
            }
        }
    }

    mutating func finish() {
        guard recording else { return }
        history.logs = logs
    }
}
