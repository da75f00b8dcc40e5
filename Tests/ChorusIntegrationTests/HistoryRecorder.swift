import Chorus
import ChorusVerify
import Foundation
import NIOCore

/// Builds a `History` for the checkers from what real clients saw: one client per daemon, in
/// the test group, stands for its daemon (a process); a daemon restarted is a new incarnation.
///
/// Configuration events come from the group's network views (each daemon has a member in the
/// group, so a transitional view's `changed` names the daemons that moved together).
final class HistoryRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var history = History()
    private let start = monotonicNow()
    private var incarnations: [UInt32: UInt32] = [:]

    static func monotonicNow() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    var now: UInt64 { Self.monotonicNow() - start }

    /// A new incarnation of `daemon` (call before its client records anything).
    func incarnate(_ daemon: UInt32) -> ProcessID {
        lock.withLock {
            let next = (incarnations[daemon] ?? 0) + 1
            incarnations[daemon] = next
            let process = ProcessID(daemon: daemon, incarnation: next)
            history.aliveAtEnd.insert(process)
            return process
        }
    }

    func crashed(_ process: ProcessID) {
        lock.withLock {
            history.crashedAt[process] = now
            history.aliveAtEnd.remove(process)
        }
    }

    /// Sessions by private group (`#<name>#d<daemon>`), numbered on first sight per daemon.
    private var sessionKeys: [String: SessionKey] = [:]
    private var sessionsPerDaemon: [UInt32: UInt64] = [:]

    /// The checkers' key of the session whose private group is `privateGroup` (`#alice#d2`).
    func session(_ privateGroup: String) -> SessionKey? {
        let parts = privateGroup.split(separator: "#")
        guard parts.count == 2, parts[1].hasPrefix("d"), let daemon = UInt32(parts[1].dropFirst()) else { return nil }
        return lock.withLock {
            if let key = sessionKeys[privateGroup] { return key }
            let local = (sessionsPerDaemon[daemon] ?? 0) + 1
            sessionsPerDaemon[daemon] = local
            let key = SessionKey(daemon: daemon, local: local)
            sessionKeys[privateGroup] = key
            return key
        }
    }

    static func hash(_ buffer: ByteBuffer) -> UInt64 {
        buffer.withUnsafeReadableBytes { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            return hash
        }
    }

    /// A payload that names its message: the sender's seq, then filler.
    static func payload(seq: UInt64, size: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(seq)
        for index in 0..<max(0, size - 8) { buffer.writeInteger(UInt8(truncatingIfNeeded: index &* 31 &+ Int(seq))) }
        return buffer
    }

    /// A message submitted; `inLog`: also in the sender's log (not before its history starts).
    func submitted(
        by process: ProcessID, session: String, seq: UInt64, service: Service, groups: [String], payload: ByteBuffer,
        inLog: Bool = true
    ) {
        guard let key = self.session(session) else { return }
        let id = MessageID(session: key, seq: seq)
        let time = now
        lock.withLock {
            history.sent[id] = SentMessage(
                id: id, sender: process, service: ServiceLevel(rawValue: service.rawValue)!, groups: groups,
                contentHash: Self.hash(payload), size: payload.readableBytes, submittedAt: time)
            if inLog { history.record(.submit(id), at: process, time: time) }
        }
    }

    func delivered(at process: ProcessID, _ message: ChorusMessage) {
        guard let key = session(message.sender), let seq = message.payload.getInteger(at: message.payload.readerIndex, as: UInt64.self)
        else { return }
        let id = MessageID(session: key, seq: seq)
        let time = now
        lock.withLock {
            history.record(
                .deliver(id, service: ServiceLevel(rawValue: message.service.rawValue)!, contentHash: Self.hash(message.payload)),
                at: process, time: time)
        }
    }

    /// A view of the test group. Network views also record the configuration change they mark;
    /// `initial` records the first full view as the configuration the test starts in.
    func view(at process: ProcessID, _ view: ChorusMembership, initial: Bool = false) {
        let parts = view.viewID.split(whereSeparator: { $0 == "/" || $0 == ":" })
        guard parts.count == 3, let representative = UInt32(parts[0]), let seq = UInt64(parts[1]), let index = UInt64(parts[2])
        else { return }
        let configuration = ConfigurationID(seq: seq, representative: representative)
        let members = view.members.compactMap { self.session($0) }.sorted()
        let changed = view.changed.compactMap { self.session($0) }.sorted()
        let added = view.added.compactMap { self.session($0) }.sorted()
        let removed = view.removed.compactMap { self.session($0) }.sorted()
        let time = now
        lock.withLock {
            let daemonsOf = { (sessions: [SessionKey]) in
                Array(Set(sessions.map { ProcessID(daemon: $0.daemon, incarnation: self.incarnations[$0.daemon] ?? 1) })).sorted()
            }
            if initial || view.reason == .network {
                let kind: ConfigurationEvent.Kind = view.kind == .regular ? .regular : .transitional
                let configurationMembers = view.kind == .regular ? daemonsOf(members) : daemonsOf(changed)
                history.record(.configuration(ConfigurationEvent(id: configuration, kind: kind, members: configurationMembers)), at: process, time: time)
            }
            let reason: GroupViewEvent.Reason =
                switch view.reason {
                case .join: .join
                case .leave: .leave
                case .disconnect: .disconnect
                case .network: .network
                }
            history.record(
                .view(GroupViewEvent(
                    group: view.group, viewID: ViewIdentifier(configuration: configuration, index: index),
                    kind: view.kind == .regular ? .regular : .transitional, reason: reason, members: members, changed: changed,
                    added: added, removed: removed)),
                at: process, time: time)
        }
    }

    /// The history so far, ended now.
    func finish() -> History {
        lock.withLock {
            var copy = history
            copy.endTime = now
            return copy
        }
    }
}
