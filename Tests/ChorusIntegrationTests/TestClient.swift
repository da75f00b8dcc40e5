import Chorus
import ChorusLocalCluster
import ChorusVerify
import Foundation
import NIOCore

/// A client session driven by a test: it joins the test group, records everything it sees (and
/// what it sends) in a `HistoryRecorder`, and sends when told to.
final class TestClient: @unchecked Sendable {
    enum Command: Sendable {
        case send(service: Service, size: Int)
        case stop
    }

    let name: String
    let process: ProcessID
    let group: String
    private let recorder: HistoryRecorder
    private let lock = NSLock()
    private var _privateGroup = ""
    private var _views: [(time: UInt64, view: ChorusMembership)] = []
    private var _messages: [ChorusMessage] = []
    private var _error: (any Error)?
    private var _initialRecorded = false
    private var seq: UInt64 = 0
    private let commands: AsyncStream<Command>.Continuation
    private var task: Task<Void, Never>?
    /// Number of daemons whose clients make up the full group (for the initial configuration).
    let fullGroup: Int
    /// Its messages are numbered from `firstSeq + 1` (a restarted daemon's new client reuses the
    /// old one's private group, so its numbers must not repeat the old one's).
    let firstSeq: UInt64
    /// A client that joins a configuration under way: its history starts at the next regular
    /// network view (the checkers model processes that move from configuration to configuration,
    /// not ones that appear in the middle of one).
    let lateJoiner: Bool

    init(
        name: String, endpoint: ChorusEndpoint, process: ProcessID, group: String, fullGroup: Int, recorder: HistoryRecorder,
        firstSeq: UInt64 = 0, lateJoiner: Bool = false
    ) {
        self.firstSeq = firstSeq
        self.lateJoiner = lateJoiner
        self.seq = firstSeq
        self.name = name
        self.process = process
        self.group = group
        self.recorder = recorder
        self.fullGroup = fullGroup
        let (stream, continuation) = AsyncStream.makeStream(of: Command.self)
        self.commands = continuation
        self.task = Task { [self] in
            do {
                try await ChorusClient.withSession(to: endpoint, name: name) { session in
                    lock.withLock { _privateGroup = session.privateGroup }
                    try await session.join(group)
                    try await withThrowingTaskGroup(of: Void.self) { tasks in
                        tasks.addTask { try await self.receive(session) }
                        tasks.addTask { try await self.send(session, stream) }
                        try await tasks.next()
                        tasks.cancelAll()
                    }
                }
            } catch {
                lock.withLock { _error = error }
            }
        }
    }

    private func receive(_ session: ChorusSession) async throws {
        for try await event in session.events {
            switch event {
            case .message(let message):
                if lock.withLock({ _initialRecorded }) { recorder.delivered(at: process, message) }
                lock.withLock { _messages.append(message) }
            case .membership(let view):
                guard view.group == group else { continue }
                let initial = lock.withLock {
                    let first =
                        !_initialRecorded && view.kind == .regular
                        && (lateJoiner ? view.reason == .network : view.members.count == fullGroup)
                    if first { _initialRecorded = true }
                    return first
                }
                if lock.withLock({ _initialRecorded }) || initial { recorder.view(at: process, view, initial: initial) }
                lock.withLock { _views.append((recorder.now, view)) }
            case .status, .refused: break
            }
        }
    }

    private func send(_ session: ChorusSession, _ stream: AsyncStream<Command>) async throws {
        for await command in stream {
            switch command {
            case .send(let service, let size):
                let next = lock.withLock { () -> UInt64 in
                    seq += 1
                    return seq
                }
                let payload = HistoryRecorder.payload(seq: next, size: size)
                recorder.submitted(
                    by: process, session: session.privateGroup, seq: next, service: service, groups: [group], payload: payload,
                    inLog: lock.withLock { _initialRecorded })
                try await session.multicast(payload, to: [group], service: service)
            case .stop:
                return
            }
        }
    }

    func send(_ service: Service, size: Int) { commands.yield(.send(service: service, size: size)) }

    /// Ends the session (the connection closes).
    func stop() async {
        commands.yield(.stop)
        commands.finish()
        await task?.value
    }

    var privateGroup: String { lock.withLock { _privateGroup } }
    var views: [(time: UInt64, view: ChorusMembership)] { lock.withLock { _views } }
    var messages: [ChorusMessage] { lock.withLock { _messages } }
    var error: (any Error)? { lock.withLock { _error } }

    /// Waits until `condition` holds, failing after `timeout` seconds with what the client saw.
    func wait(_ what: String, timeout: Double = 15, _ condition: (TestClient) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition(self) {
            if let error { throw ClusterError("\(name): session ended (\(error)) while waiting for \(what)") }
            guard Date() < deadline else {
                throw ClusterError("\(name): timed out after \(timeout) s waiting for \(what); views: \(views.map { "\($0.view.kind) \($0.view.reason) \($0.view.members)" })")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The last regular view of the group, if any.
    var lastRegular: ChorusMembership? { views.last { $0.view.kind == .regular }?.view }

    /// Messages of service reliable or stronger received from `sender`.
    func reliableCount(from sender: String) -> Int {
        messages.filter { $0.sender == sender && $0.service >= .reliable }.count
    }
}
