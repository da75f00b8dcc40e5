import ChorusCore
import NIOCore

/// The ring's timers on an event loop: one deadline per kind, and a single scheduled task at the
/// earliest, so re-arming a timer (the token timeout, on every token) costs no scheduling.
struct RingTimers {
    private var deadlines = [Instant?](repeating: nil, count: RingTimer.allCases.count)
    private var scheduled: Scheduled<Void>?
    private var scheduledAt: Instant = .max

    mutating func arm(_ timer: RingTimer, at deadline: Instant) {
        deadlines[timer.rawValue] = deadline
    }

    /// Makes sure a task runs at or before the earliest deadline.
    mutating func reschedule(on loop: any EventLoop, now: Instant, fire: @escaping @Sendable () -> Void) {
        var earliest = Instant.max
        for deadline in deadlines { if let deadline, deadline < earliest { earliest = deadline } }
        guard earliest != .max else { return }
        if scheduled != nil, scheduledAt <= earliest { return }
        scheduled?.cancel()
        scheduledAt = earliest
        let delay = earliest > now ? earliest - now : 0
        scheduled = loop.scheduleTask(in: .nanoseconds(Int64(delay)), fire)
    }

    /// Called when the scheduled task runs: returns the timers that are due (and disarms them).
    mutating func takeDue(now: Instant) -> [RingTimer] {
        scheduled = nil
        scheduledAt = .max
        var due: [RingTimer] = []
        for timer in RingTimer.allCases {
            if let deadline = deadlines[timer.rawValue], deadline <= now {
                deadlines[timer.rawValue] = nil
                due.append(timer)
            }
        }
        return due
    }

    mutating func cancelAll() {
        scheduled?.cancel()
        scheduled = nil
        scheduledAt = .max
        deadlines = deadlines.map { _ in nil }
    }
}
