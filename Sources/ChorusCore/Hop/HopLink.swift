import ChorusWire
import DequeModule
import NIOCore

/// One end of a hop link: reliable, rate-limited datagrams between the representatives of two
/// sites, over UDP. A sans-IO state machine, like the ring: the caller feeds it packets, the
/// clock and its own payloads, and performs the actions it returns.
///
/// - Payloads are numbered per link from 1 and handed over on arrival, out of order (a gap never
///   holds later packets back: forwarding does not wait for repairs).
/// - Losses are repaired on this link alone: the receiver acknowledges cumulatively (on every
///   packet it sends, alone within `ackDelay`), and reports missing seqs (NACKs, every gap at
///   once as ranges) once a gap is `nackDelay` old, again every round trip while it stays open;
///   the sender resends what is reported. A sender that goes quiet probes once after `ackDelay`
///   with its highest seq, so a loss at the stream's tail is reported too; a retransmission
///   timer (round trip based, doubling) covers the rest.
/// - At most `window` packets are unacknowledged; a token bucket holds the sending rate to
///   `rate`.
/// - Every packet names both ends' incarnations: a restarted peer starts afresh
///   (`HopLinkAction.peerRestarted`), packets of a former incarnation are dropped.
/// - Liveness: a packet at least every `helloInterval`; silence for `deadInterval` takes the link
///   down (`HopLinkAction.down`), the next packet brings it up. No data is sent while down.
/// - Round trips are measured from every packet's echoed timestamp.
public struct HopLink: Sendable {
    public let local: SiteID
    public let peer: SiteID
    /// This end's incarnation: never 0, and larger after every restart (the daemon derives it
    /// from the clock, like ring seqs).
    public let incarnation: UInt64
    public let options: HopLinkOptions

    public internal(set) var isUp = false
    public internal(set) var counters = HopLinkCounters()
    public internal(set) var roundTrip: RoundTripEstimator

    // The peer.
    var peerIncarnation: UInt64 = 0
    var lastHeard: Instant = 0
    var peerSentAt: UInt64 = 0
    var peerSentAtHeard: Instant = 0

    // Sending.
    var nextSeq: UInt64 = 1
    var queue = Deque<ByteBuffer>()
    public internal(set) var queuedBytes = 0
    var inFlight = Deque<InFlight>()
    /// The seq of `inFlight.first`.
    var firstInFlight: UInt64 = 1
    /// Seqs the peer reported missing, to be sent again before anything new.
    var resend = Deque<UInt64>()
    var bucket: TokenBucket
    var lastSentAt: Instant = 0
    /// When the oldest unacknowledged packet last made progress (for the retransmission timer).
    var progressAt: Instant = 0
    var backoff = 0
    /// A probe is owed once data went out and nothing followed it for `ackDelay`.
    var probeAt: Instant?

    // Receiving.
    var received: ReceiveWindow
    /// Data arrived that no packet of ours has acknowledged yet, since then.
    var ackOwedSince: Instant?

    struct InFlight: Sendable {
        var payload: ByteBuffer
        var lastSentAt: Instant
        var queuedForResend = false
    }

    public init(local: SiteID, peer: SiteID, incarnation: UInt64, options: HopLinkOptions = HopLinkOptions(), now: Instant) {
        precondition(local != peer && incarnation != 0 && options.window >= 1)
        // Zero intervals would make a tick leave its own deadline due.
        precondition(
            options.helloInterval > 0 && options.deadInterval > options.helloInterval && options.ackDelay > 0
                && options.nackDelay > 0 && options.minRetransmitTimeout > 0, "hop link intervals must be positive")
        self.local = local
        self.peer = peer
        self.incarnation = incarnation
        self.options = options
        roundTrip = RoundTripEstimator(initial: options.initialRoundTrip)
        bucket = TokenBucket(rate: options.rate, burst: options.effectiveBurst, now: now)
        received = ReceiveWindow(capacity: options.window)
    }

    /// Payloads queued and sent but not acknowledged.
    public var unacknowledged: Int { inFlight.count }
    /// Payloads waiting for the window or the rate.
    public var queued: Int { queue.count }

    /// Says hello, so the peer learns of this end without waiting for a hello interval.
    public mutating func start(now: Instant, into actions: inout [HopLinkAction]) {
        sendControl(now: now, missing: [], into: &actions)
    }

    /// Queues `payload` (at most `WireLimits.maxHopPayload` bytes) for the peer and sends what the
    /// window and the rate allow. Returns false, queueing nothing, when `maxQueuedBytes` are
    /// already waiting (the caller should slow down) or the payload is too large.
    @discardableResult
    public mutating func send(_ payload: ByteBuffer, now: Instant, into actions: inout [HopLinkAction]) -> Bool {
        // Each payload counts at least 64 bytes, so empty ones cannot queue without bound.
        let size = max(64, payload.readableBytes)
        guard payload.readableBytes <= WireLimits.maxHopPayload, queuedBytes == 0 || queuedBytes + size <= options.maxQueuedBytes
        else {
            counters.refusedPayloads += 1
            return false
        }
        queue.append(payload)
        queuedBytes += size
        pump(now: now, into: &actions)
        return true
    }

    /// When `tick` should run next: the earliest of the hello, acknowledgement, NACK, probe,
    /// retransmission, rate and liveness deadlines.
    public var nextDeadline: Instant {
        var next = lastSentAt + options.helloInterval
        if let owed = ackOwedSince { next = min(next, owed + options.ackDelay) }
        next = min(next, received.nextAsk)
        if isUp {
            next = min(next, lastHeard + options.deadInterval)
            if let probeAt { next = min(next, probeAt) }
            if !inFlight.isEmpty { next = min(next, progressAt + retransmitTimeout) }
            if hasSomethingToSend, !bucket.canSend { next = min(next, bucket.readyAt) }
        }
        return next
    }

    /// Runs what is due at `now`.
    public mutating func tick(now: Instant, into actions: inout [HopLinkAction]) {
        if isUp, now >= lastHeard + options.deadInterval {
            isUp = false
            counters.downs += 1
            probeAt = nil
            actions.append(.down)
        }
        if received.nextAsk <= now { askForMissing(now: now, into: &actions) }
        if isUp, !inFlight.isEmpty, now >= progressAt + retransmitTimeout { retransmitTimedOut(now: now, into: &actions) }
        pump(now: now, into: &actions)
        let owed = ackOwedSince.map { now >= $0 + options.ackDelay } ?? false
        let probe = isUp && (probeAt.map { now >= $0 } ?? false) && !inFlight.isEmpty
        if owed || probe || now >= lastSentAt + options.helloInterval {
            sendControl(now: now, missing: [], into: &actions)
        }
        if probe || inFlight.isEmpty { probeAt = nil }
    }

    /// The retransmission timeout: a round trip, four variations and the peer's ack delay, within
    /// the configured bounds, doubled per timeout without progress.
    var retransmitTimeout: Duration64 {
        let base = roundTrip.smoothed + 4 * roundTrip.variation + options.ackDelay
        let bounded = min(options.maxRetransmitTimeout, max(options.minRetransmitTimeout, base))
        return min(options.maxRetransmitTimeout, bounded << min(backoff, 16))
    }

    var hasSomethingToSend: Bool { !resend.isEmpty || (!queue.isEmpty && inFlight.count < options.window) }
}

/// What a hop link asks its driver to do.
public enum HopLinkAction: Sendable, Equatable {
    /// Send this packet to the peer.
    case send(HopPacket)
    /// A payload from the peer arrived, for the first time (seqs may come out of order).
    case deliver(seq: UInt64, payload: ByteBuffer)
    /// The peer is heard from (again).
    case up
    /// Nothing came from the peer for `deadInterval`.
    case down
    /// The peer started afresh (a new incarnation): these payloads went to its former
    /// incarnation and were not acknowledged (some may have arrived, their acknowledgement lost);
    /// numbering starts again from 1.
    case peerRestarted(unacknowledged: [ByteBuffer])
}

/// What a hop link counts (shown by `chorus status`).
public struct HopLinkCounters: Sendable, Equatable {
    public var dataSent = 0
    public var controlSent = 0
    public var bytesSent = 0
    public var retransmissions = 0
    public var retransmitTimeouts = 0
    public var delivered = 0
    public var duplicates = 0
    /// Payloads `send` refused (queue full or too large).
    public var refusedPayloads = 0
    /// Packets dropped: for another link, for a former incarnation of this end or from one of
    /// the peer, beyond the window, or with values no honest peer sends (an ack or a NACK above
    /// what this end sent).
    public var foreign = 0
    public var stale = 0
    public var outOfWindow = 0
    public var implausible = 0
    public var peerRestarts = 0
    public var downs = 0
    public init() {}
}
