import ChorusCore
import ChorusWire
import NIOCore

/// Two ends of one hop link joined by simulated wide-area channels, in virtual time: what the
/// link does under delay, jitter, loss, duplication, a bandwidth limit and cuts. Every packet is
/// encoded and decoded on its way. Reproducible from `seed`.
///
/// Payloads are numbered by the simulation (8 bytes, padded to their size), so it records, per
/// end, when each was offered and when each arrived at the other end.
public struct HopLinkSimulation {
    public private(set) var ends: [HopLink]
    /// `channels[i]` carries what end `i` sends.
    public var channels: [WideAreaChannel]
    public private(set) var now: Instant = 0
    /// Per end: when each of its payloads was offered, and when it arrived at the other end.
    public private(set) var offeredAt: [[UInt64: Instant]] = [[:], [:]]
    public private(set) var arrivedAt: [[UInt64: Instant]] = [[:], [:]]
    /// Payloads that arrived more than once, per sending end (the link promises none).
    public private(set) var duplicateArrivals = [0, 0]
    /// Per end: what the link reported, in order (`.up`, `.down`, restarts), with the time.
    public private(set) var events: [[(Instant, HopLinkAction)]] = [[], []]
    /// Data seqs whose first transmission from end 0 is dropped (for measuring a single loss).
    public var dropFirstTransmission: Set<UInt64> = []
    public private(set) var decodeErrors = 0
    /// Ticks after which the link's next deadline was still due (a real driver would spin).
    public private(set) var sameInstantDeadlines = 0
    /// Seqs each end reported missing (a seq reported twice counts twice).
    public private(set) var nacked = [0, 0]

    private var random: SimRandom
    private var queue = EventQueue<Event>()
    private var scheduledTick: [Instant?] = [nil, nil]
    private var nextPayload: [UInt64] = [0, 0]
    private var sentSeqs: Set<UInt64> = []

    private enum Event {
        case arrive(end: Int, bytes: ByteBuffer)
        case tick(end: Int)
        case offer(end: Int, size: Int)
    }

    public init(options: HopLinkOptions, impairment: WideAreaImpairment, seed: UInt64) {
        random = SimRandom(seed: seed)
        ends = [
            HopLink(local: SiteID(1), peer: SiteID(2), incarnation: 1, options: options, now: 0),
            HopLink(local: SiteID(2), peer: SiteID(1), incarnation: 1, options: options, now: 0),
        ]
        channels = [WideAreaChannel(impairment), WideAreaChannel(impairment)]
        for end in 0..<2 { act(end) { link, actions, now in link.start(now: now, into: &actions) } }
    }

    /// Offers `count` payloads of `size` bytes from `end`, one every `interval` from `start`.
    public mutating func offer(from end: Int, count: Int, size: Int = 1000, every interval: Duration64, startingAt start: Instant) {
        for index in 0..<count { queue.push(.offer(end: end, size: size), at: start + UInt64(index) * interval) }
    }

    /// Runs every event up to `time`.
    public mutating func run(until time: Instant) {
        while let next = queue.nextTime, next <= time, let (at, event) = queue.pop() {
            now = at
            switch event {
            case .arrive(let end, let bytes):
                guard let packet = try? HopPacketCodec.decode(bytes) else {
                    decodeErrors += 1
                    continue
                }
                act(end) { link, actions, now in link.receive(packet, now: now, into: &actions) }
            case .tick(let end):
                guard scheduledTick[end] == at else { continue }
                scheduledTick[end] = nil
                act(end, ticking: true) { link, actions, now in link.tick(now: now, into: &actions) }
            case .offer(let end, let size):
                let id = nextPayload[end]
                nextPayload[end] += 1
                var payload = ByteBuffer()
                payload.writeInteger(id)
                payload.writeRepeatingByte(0x5A, count: max(0, size - 8))
                offeredAt[end][id] = now
                act(end) { link, actions, now in _ = link.send(payload, now: now, into: &actions) }
            }
        }
        now = max(now, time)
    }

    /// Restarts `end` with a new incarnation (its link state starts afresh, as after a daemon restart).
    public mutating func restart(_ end: Int, incarnation: UInt64) {
        let old = ends[end]
        ends[end] = HopLink(local: old.local, peer: old.peer, incarnation: incarnation, options: old.options, now: now)
        act(end) { link, actions, now in link.start(now: now, into: &actions) }
    }

    /// Hands a packet straight to `end`, as if from the network (for hostile inputs).
    public mutating func inject(_ packet: HopPacket, to end: Int) {
        act(end) { link, actions, now in link.receive(packet, now: now, into: &actions) }
    }

    private mutating func act(_ end: Int, ticking: Bool = false, _ body: (inout HopLink, inout [HopLinkAction], Instant) -> Void) {
        var actions: [HopLinkAction] = []
        body(&ends[end], &actions, now)
        for action in actions {
            switch action {
            case .send(let packet):
                if end == 0, case .data(let seq, _) = packet.body, dropFirstTransmission.contains(seq),
                    sentSeqs.insert(seq).inserted
                {
                    continue
                }
                if case .control(let control) = packet.body, !control.missing.isEmpty {
                    nacked[end] += control.missing.reduce(0) { $0 + $1.count }
                }
                let bytes = HopPacketCodec.encode(packet)
                for arrival in channels[end].transit(size: bytes.readableBytes + 28, now: now, random: &random) {
                    queue.push(.arrive(end: 1 - end, bytes: bytes), at: arrival)
                }
            case .deliver(_, var payload):
                guard let id = payload.readInteger(as: UInt64.self) else { continue }
                if arrivedAt[1 - end][id] == nil {
                    arrivedAt[1 - end][id] = now
                } else {
                    duplicateArrivals[1 - end] += 1
                }
            case .up, .down, .peerRestarted:
                events[end].append((now, action))
            }
        }
        // A deadline a tick left due would spin a real driver: count it (the tests expect none),
        // and go on a microsecond later.
        if ticking, ends[end].nextDeadline <= now { sameInstantDeadlines += 1 }
        let deadline = max(ends[end].nextDeadline, now + 1_000)
        if scheduledTick[end].map({ deadline < $0 }) ?? true {
            scheduledTick[end] = deadline
            queue.push(.tick(end: end), at: deadline)
        }
    }
}
