import ChorusProtocol
import ChorusWire

/// One client session's backpressure, as a value with no I/O: when the daemon cannot take a
/// request (its send queue is full, or the client has too much unread), the session pauses, its
/// later requests wait here in order, and it runs them again once there is room. A connection
/// that ends while requests wait still has them run, in order, and only then ends.
///
/// The daemon stops reading a paused client (TCP pushes back on it) and resumes reading once
/// `resume` drained the queue.
struct SenderBackpressure {
    /// Why the session ends once its queue has run: an optional error frame, and the log reason.
    struct Ending {
        var error: (ErrorCode, String)?
        var reason: String
    }

    /// What `resume` left.
    enum Outcome: Equatable {
        /// Every waiting request ran: read from the client again.
        case drained
        /// Every waiting request ran and the connection had ended meanwhile: end the session now.
        case ended
        /// A request was refused again: still paused, the rest still waiting.
        case stillPaused
    }

    private(set) var queued: [ClientRequest] = []
    private var head = 0
    private(set) var isPaused = false
    /// Its waiting requests are being run (a bad frame then ends the session at once).
    private(set) var isResuming = false
    /// Set once the connection ended (or sent a bad frame) while requests were waiting.
    private(set) var ending: Ending?

    /// Requests waiting to run.
    var waiting: Int { queued.count - head }

    /// `request` was refused: the session pauses with it first in line.
    mutating func pause(refused request: ClientRequest) {
        precondition(!isPaused, "already paused")
        queued = [request]
        head = 0
        isPaused = true
    }

    /// A request read while paused waits its turn (nothing is taken once the session is ending).
    mutating func enqueue(_ request: ClientRequest) {
        precondition(isPaused, "not paused")
        if ending == nil { queued.append(request) }
    }

    /// The connection ended or sent a bad frame while paused: returns false if the session must
    /// end at once instead (it is not paused, or a bad frame came from a request of the queue
    /// being run, `whileResuming` false). The first ending counts.
    mutating func endAfterQueue(error: (ErrorCode, String)?, reason: String, whileResuming: Bool = false) -> Bool {
        guard isPaused, whileResuming || !isResuming else { return false }
        if ending == nil { ending = Ending(error: error, reason: reason) }
        return true
    }

    /// Runs the waiting requests in order with `run`, which returns false when there is no room
    /// (that request stays first in line) and may end the session (`isClosed` then returns true).
    mutating func resume(run: (ClientRequest) -> Bool, isClosed: () -> Bool) -> Outcome {
        precondition(isPaused, "not paused")
        isResuming = true
        defer { isResuming = false }
        while head < queued.count, !isClosed() {
            guard run(queued[head]) else { return .stillPaused }
            head += 1
        }
        if isClosed() { return .stillPaused }
        queued.removeAll()
        head = 0
        isPaused = false
        return ending == nil ? .drained : .ended
    }

    /// The session closed: nothing waits any more.
    mutating func drop() {
        queued = []
        head = 0
    }

    /// Whether the send queue has room again for paused senders: a quarter of each bound free,
    /// so senders do not pause and resume on every message.
    static func hasRoom(pendingMessages: Int, pendingBytes: Int, maxMessages: Int, maxBytes: Int) -> Bool {
        pendingMessages < maxMessages - maxMessages / 4 && (pendingMessages == 0 || pendingBytes < maxBytes - maxBytes / 4)
    }
}
