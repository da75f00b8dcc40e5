import NIOConcurrencyHelpers
import NIOCore

/// Events read from the daemon, waiting for the session's reader: filled on the connection's
/// event loop, emptied by the one task iterating ``ChorusSession/events``.
///
/// The reader takes everything waiting in one step (one lock per socket read, not per event),
/// and a reader waiting for events is resumed once per read. When more than `highWatermark`
/// bytes wait, the connection stops reading until the reader has taken them: the daemon then
/// holds the rest (and, for a reader that never catches up, disconnects it as a slow receiver).
final class SessionInbox: @unchecked Sendable {  // state behind `lock`
    private let lock = NIOLock()
    private var pending: [ChorusEvent] = []
    private var pendingBytes = 0
    private var end: End?
    private var waiter: UnsafeContinuation<Void, Never>?
    private var readingPaused = false
    private let channel: any Channel
    let highWatermark: Int

    enum End {
        case closed
        case failed(ChorusClientError)
    }

    init(channel: any Channel, highWatermark: Int = 4 << 20) {
        self.channel = channel
        self.highWatermark = highWatermark
    }

    // MARK: The event loop's side

    /// Hands over the events of one read (leaving `events` empty). Returns false when the
    /// connection should stop reading until the reader catches up.
    func deliver(_ events: inout [ChorusEvent], bytes: Int) -> Bool {
        let (resume, keepReading): (UnsafeContinuation<Void, Never>?, Bool) = lock.withLock {
            if pending.isEmpty {
                swap(&pending, &events)
            } else {
                pending.append(contentsOf: events)
                events.removeAll(keepingCapacity: true)
            }
            pendingBytes += bytes
            if pendingBytes >= highWatermark { readingPaused = true }
            return (waiter.take(), !readingPaused)
        }
        resume?.resume()
        return keepReading
    }

    /// No more events: the connection ended (`nil`) or failed.
    func finish(_ error: ChorusClientError?) {
        let resume: UnsafeContinuation<Void, Never>? = lock.withLock {
            if end == nil { end = error.map { .failed($0) } ?? .closed }
            return waiter.take()
        }
        resume?.resume()
    }

    /// The error that ended the session, if it ended with one.
    var failure: ChorusClientError? {
        lock.withLock {
            if case .failed(let error) = end { return error }
            return nil
        }
    }

    // MARK: The reader's side

    enum Taken {
        case events
        case empty
        case ended(End)
    }

    /// Moves every waiting event into `batch` (which must be empty).
    func take(into batch: inout [ChorusEvent]) -> Taken {
        let (taken, resumeReading): (Taken, Bool) = lock.withLock {
            if pending.isEmpty {
                if let end { return (.ended(end), false) }
                return (.empty, false)
            }
            swap(&pending, &batch)
            pendingBytes = 0
            let resume = readingPaused
            readingPaused = false
            return (.events, resume)
        }
        if resumeReading {
            let channel = self.channel
            channel.eventLoop.execute {
                channel.setOption(ChannelOptions.autoRead, value: true).whenSuccess { channel.read() }
            }
        }
        return taken
    }

    /// Suspends until events arrive, the session ends, or the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let ready = lock.withLock {
                    if !pending.isEmpty || end != nil || Task.isCancelled { return true }
                    waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            lock.withLock { waiter.take() }?.resume()
        }
    }
}

extension Optional {
    fileprivate mutating func take() -> Wrapped? {
        var value: Wrapped? = nil
        swap(&self, &value)
        return value
    }
}
