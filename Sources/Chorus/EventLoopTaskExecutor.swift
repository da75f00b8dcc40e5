import NIOCore

/// Runs the jobs of tasks that prefer it on one NIO event loop: the thread that reads and writes
/// a session's socket.
///
/// A session's code then runs on the same thread as its I/O. A frame read from the daemon
/// resumes the task waiting for it without a wake-up of another thread, and a multicast is
/// written to the socket from the calling task itself. On a small machine each such hand-off
/// between threads costs tens of microseconds, so this is most of the client's latency.
///
/// An event loop runs the tasks queued on it until none are left before it polls its sockets
/// again, so a chain of jobs that keep queueing each other (a sender whose every write the
/// socket takes at once, a loop of `Task.yield()`) would keep every socket on the loop from
/// being read. After `maxJobsWithoutInput` jobs in a row without a read on the session, the
/// next job waits a few microseconds on a timer, which lets the loop poll first.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {  // counter confined to the loop
    let eventLoop: any EventLoop
    private var jobsWithoutInput = 0
    static let maxJobsWithoutInput = 32

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if eventLoop.inEventLoop {
            jobsWithoutInput += 1
            if jobsWithoutInput > Self.maxJobsWithoutInput {
                jobsWithoutInput = 0
                eventLoop.scheduleTask(in: .microseconds(20)) { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
                return
            }
        }
        // From the loop itself this only appends to its task queue (no wake-up).
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// The session read from its socket (on the loop): the loop is polling.
    func sawInput() {
        jobsWithoutInput = 0
    }
}
