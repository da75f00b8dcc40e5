import ChorusCore
import ChorusSimulator
import ChorusWire
import NIOCore
import Testing

/// The hop protocol's link (`HopLink`) between two simulated sites: every payload arrives once,
/// losses cost one round trip, the rate holds under loss, cuts are noticed, restarts start afresh,
/// and what no honest peer sends is refused.
@Suite struct HopLinkTests {
    static let millisecond: UInt64 = 1_000_000
    static let second: UInt64 = 1_000_000_000

    static func simulation(
        delay: Duration64 = 25 * millisecond, jitter: Duration64 = 0, loss: Double = 0, duplication: Double = 0,
        bandwidth: UInt64 = 0, rate: UInt64 = 0, seed: UInt64 = 1
    ) -> HopLinkSimulation {
        var options = HopLinkOptions()
        options.rate = rate
        var impairment = WideAreaImpairment(delay: delay, jitter: jitter, loss: loss, bandwidth: bandwidth)
        impairment.duplication = duplication
        var simulation = HopLinkSimulation(options: options, impairment: impairment, seed: seed)
        simulation.run(until: 200 * millisecond)
        return simulation
    }

    static func expectEveryPayloadOnce(_ simulation: HopLinkSimulation, from end: Int, _ what: String) {
        let missing = simulation.offeredAt[end].keys.filter { simulation.arrivedAt[end][$0] == nil }
        #expect(missing.isEmpty, "\(what): \(missing.count) of \(simulation.offeredAt[end].count) never arrived")
        #expect(simulation.duplicateArrivals[end] == 0, "\(what): duplicates")
        #expect(simulation.decodeErrors == 0)
        #expect(simulation.sameInstantDeadlines == 0, "\(what): a tick left its deadline due")
    }

    @Test func theLinkComesUpAndMeasuresTheRoundTrip() {
        let simulation = Self.simulation(delay: 25 * Self.millisecond)
        for end in 0..<2 {
            #expect(simulation.ends[end].isUp)
            let rtt = simulation.ends[end].roundTrip
            #expect(rtt.samples > 0 && rtt.smoothed >= 50 * Self.millisecond && rtt.smoothed < 51 * Self.millisecond, "\(rtt)")
        }
    }

    /// Both directions at once under 10 % loss, 5 % duplication and jitter that reorders: every
    /// payload arrives exactly once, and the link resent only a little more than it lost.
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func everyPayloadArrivesOnceUnderLossDuplicationAndReordering(seed: UInt64) {
        var simulation = Self.simulation(
            delay: 20 * Self.millisecond, jitter: 10 * Self.millisecond, loss: 0.10, duplication: 0.05, seed: seed)
        let start = simulation.now
        simulation.offer(from: 0, count: 5000, size: 900, every: 200_000, startingAt: start)
        simulation.offer(from: 1, count: 2000, size: 200, every: 500_000, startingAt: start)
        simulation.run(until: start + 10 * Self.second)
        Self.expectEveryPayloadOnce(simulation, from: 0, "seed \(seed) 0 → 1")
        Self.expectEveryPayloadOnce(simulation, from: 1, "seed \(seed) 1 → 0")
        let counters = simulation.ends[0].counters
        #expect(counters.retransmissions >= 400 && counters.retransmissions < 1000, "\(counters) \(simulation.channels[0].lost)")
        #expect(simulation.ends[0].unacknowledged == 0 && simulation.ends[1].unacknowledged == 0)
    }

    /// Reordering alone (10 ms of jitter, no loss) makes the sender resend little: a gap is
    /// reported only once it is older than the reordering seen. Reporting after the fixed 2 ms
    /// resent about half of 5,000 packets; now fewer than 5 % (the first reorderings, before the
    /// estimate has seen them).
    @Test(arguments: [UInt64(1), 2])
    func reorderingAloneCausesFewResends(seed: UInt64) {
        var simulation = Self.simulation(delay: 20 * Self.millisecond, jitter: 10 * Self.millisecond, seed: seed)
        let start = simulation.now
        simulation.offer(from: 0, count: 5000, size: 900, every: 200_000, startingAt: start)
        simulation.run(until: start + 10 * Self.second)
        Self.expectEveryPayloadOnce(simulation, from: 0, "seed \(seed)")
        let resent = simulation.ends[0].counters.retransmissions
        #expect(resent < 250, "seed \(seed): \(resent) resends of 5000 with no loss")
    }

    /// One lost packet in a steady stream, and one at the stream's tail, each cost at most one
    /// round trip (50 ms) plus 10 ms over what the packet would have taken.
    @Test func aLostPacketCostsOneRoundTrip() {
        for (count, lost) in [(200, UInt64(100)), (100, UInt64(100))] {
            var simulation = Self.simulation(delay: 25 * Self.millisecond)
            simulation.dropFirstTransmission = [lost]
            let start = simulation.now
            simulation.offer(from: 0, count: count, size: 1000, every: Self.millisecond, startingAt: start)
            simulation.run(until: start + 2 * Self.second)
            Self.expectEveryPayloadOnce(simulation, from: 0, "lost \(lost) of \(count)")
            let id = lost - 1  // payload ids count from 0, seqs from 1
            let took = simulation.arrivedAt[0][id]! - simulation.offeredAt[0][id]!
            let normal = simulation.arrivedAt[0][0]! - simulation.offeredAt[0][0]!
            #expect(took <= normal + 60 * Self.millisecond, "lost \(lost) of \(count): took \(took), normally \(normal)")
            #expect(took > normal + 40 * Self.millisecond, "it was lost once")
        }
    }

    /// A 50 ms link with 1 % loss and a 10 Mbit/s token bucket: the link carries at least 80 %
    /// of the rate (the bucket counts headers, the figure counts payloads), and never more.
    @Test func theRateHoldsUnderOnePercentLoss() {
        let rate: UInt64 = 1_250_000
        var simulation = Self.simulation(delay: 25 * Self.millisecond, loss: 0.01, rate: rate)
        let start = simulation.now
        // Offered faster than the rate: the queue stays full.
        simulation.offer(from: 0, count: 30_000, size: 1200, every: 500_000, startingAt: start)
        let measured: UInt64 = 10
        simulation.run(until: start + measured * Self.second)
        let arrived = simulation.arrivedAt[0].values.filter { $0 > start + Self.second }.count
        let bytesPerSecond = Double(arrived * 1200) / Double(measured - 1)
        #expect(bytesPerSecond >= 0.8 * Double(rate), "\(bytesPerSecond) B/s of \(rate)")
        let sent = Double(simulation.ends[0].counters.bytesSent)
        #expect(sent <= Double(rate) * Double(measured) + 200_000, "sent \(sent) bytes in \(measured) s")
    }

    /// A cut link goes down within the dead interval (0.8 s), comes back within a hello interval
    /// of the heal, and what was offered meanwhile arrives afterwards.
    @Test func aCutIsNoticedAndHealed() {
        var simulation = Self.simulation(delay: 25 * Self.millisecond)
        let cutAt = simulation.now
        simulation.channels[0].isCut = true
        simulation.channels[1].isCut = true
        simulation.offer(from: 0, count: 50, size: 500, every: 10 * Self.millisecond, startingAt: cutAt)
        simulation.run(until: cutAt + 2 * Self.second)
        for end in 0..<2 {
            let down = simulation.events[end].first { $0.1 == .down }
            #expect(down != nil && down!.0 - cutAt <= Self.second, "end \(end) down at \(String(describing: down?.0))")
            #expect(!simulation.ends[end].isUp)
        }
        let healAt = simulation.now
        simulation.channels[0].isCut = false
        simulation.channels[1].isCut = false
        simulation.run(until: healAt + 2 * Self.second)
        for end in 0..<2 {
            let up = simulation.events[end].last { $0.1 == .up }
            // The first hello after the heal, then one round trip.
            #expect(up != nil && up!.0 > healAt && up!.0 - healAt <= 160 * Self.millisecond, "end \(end)")
        }
        Self.expectEveryPayloadOnce(simulation, from: 0, "after the heal")
    }

    /// An end that restarts (a new incarnation) starts afresh: the other end hands back what the
    /// former incarnation never acknowledged and numbers from 1 again; new payloads flow.
    @Test func aRestartedPeerStartsAfresh() {
        var simulation = Self.simulation(delay: 25 * Self.millisecond)
        simulation.channels[0].isCut = true  // what end 0 sends now is never acknowledged
        simulation.offer(from: 0, count: 5, size: 100, every: Self.millisecond, startingAt: simulation.now)
        simulation.run(until: simulation.now + 20 * Self.millisecond)
        #expect(simulation.ends[0].unacknowledged == 5)
        simulation.channels[0].isCut = false
        simulation.restart(1, incarnation: 2)
        // Taken once the former incarnation has been silent for the dead interval (0.8 s).
        simulation.run(until: simulation.now + 1500 * Self.millisecond)
        let restarts = simulation.events[0].compactMap { event -> [ByteBuffer]? in
            if case .peerRestarted(let payloads) = event.1 { payloads } else { nil }
        }
        #expect(restarts.count == 1 && restarts.first?.count == 5)
        let start = simulation.now
        simulation.offer(from: 0, count: 20, size: 100, every: Self.millisecond, startingAt: start)
        simulation.run(until: start + Self.second)
        #expect(simulation.ends[0].unacknowledged == 0)
        #expect((5..<25).allSatisfy { simulation.arrivedAt[0][UInt64($0)] != nil })
    }

    /// Packets no honest peer sends: for another link, for a former incarnation, acknowledging
    /// what was never sent, or far beyond the window: each is refused and counted. A report of
    /// missing seqs never sent is clipped to what was sent. The link goes on.
    @Test func implausiblePacketsAreRefusedAndCounted() {
        var simulation = Self.simulation(delay: 25 * Self.millisecond)
        simulation.offer(from: 0, count: 10, size: 100, every: Self.millisecond, startingAt: simulation.now)
        simulation.run(until: simulation.now + 200 * Self.millisecond)
        let header = HopHeader(from: SiteID(2), to: SiteID(1), senderIncarnation: 1, receiverIncarnation: 1, sentAt: 1)
        var ackTooHigh = header
        ackTooHigh.ack = 11
        var foreign = header
        foreign.from = SiteID(3)
        var stale = header
        stale.receiverIncarnation = 7
        let refused: [HopPacket] = [
            HopPacket(header: ackTooHigh, body: .control(HopControl(highestSent: 0))),
            HopPacket(header: header, body: .control(HopControl(highestSent: 0, missing: [11...12]))),
            HopPacket(header: foreign, body: .control(HopControl(highestSent: 0))),
            HopPacket(header: stale, body: .control(HopControl(highestSent: 0))),
        ]
        for packet in refused { simulation.inject(packet, to: 0) }
        let counters = simulation.ends[0].counters
        // The ack above what was sent is refused; missing seqs above it are clipped (no resend).
        #expect(counters.implausible == 1 && counters.foreign == 1 && counters.stale == 1, "\(counters)")
        #expect(counters.retransmissions == 0)
        // Data far beyond the window: refused at the receiving end.
        let far = HopPacket(header: header, body: .data(seq: 1 << 40, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8])))
        simulation.inject(far, to: 0)
        #expect(simulation.ends[0].counters.outOfWindow == 1)
        let start = simulation.now
        simulation.offer(from: 0, count: 10, size: 100, every: Self.millisecond, startingAt: start)
        simulation.run(until: start + Self.second)
        Self.expectEveryPayloadOnce(simulation, from: 0, "after the hostile packets")
    }

    /// The same seed gives the same run.
    @Test func aSeedReplaysTheRun() {
        func run() -> [UInt64: Instant] {
            var simulation = Self.simulation(jitter: 5 * Self.millisecond, loss: 0.05, seed: 42)
            simulation.offer(from: 0, count: 500, size: 500, every: Self.millisecond, startingAt: simulation.now)
            simulation.run(until: simulation.now + 3 * Self.second)
            return simulation.arrivedAt[0]
        }
        #expect(run() == run())
    }

    /// Cut one way only: the end that no longer hears its peer goes down after the dead interval;
    /// the other still hears hellos, but they say the peer has not heard it lately, so it goes
    /// down too (within the dead interval plus three hellos), and both come back on the heal.
    @Test func aOneWayCutTakesBothEndsDown() {
        var simulation = Self.simulation(delay: 25 * Self.millisecond)
        let cutAt = simulation.now
        simulation.channels[0].isCut = true  // end 0's packets are lost; end 1's still arrive
        simulation.run(until: cutAt + 2 * Self.second)
        for end in 0..<2 {
            let down = simulation.events[end].first { $0.1 == .down }
            #expect(down != nil && down!.0 - cutAt <= 1_200 * Self.millisecond, "end \(end) down at \(String(describing: down?.0))")
        }
        simulation.channels[0].isCut = false
        simulation.run(until: simulation.now + Self.second)
        #expect(simulation.ends[0].isUp && simulation.ends[1].isUp)
    }

    /// A packet claiming a new incarnation of the peer while the link works (a forgery, or the
    /// former incarnation's packets reordered) does not reset it; the link goes on.
    @Test func aNewIncarnationDoesNotResetAWorkingLink() {
        var simulation = Self.simulation(delay: 25 * Self.millisecond)
        let forged = HopPacket(
            header: HopHeader(from: SiteID(2), to: SiteID(1), senderIncarnation: .max, receiverIncarnation: 0, sentAt: 1),
            body: .control(HopControl(highestSent: 0)))
        simulation.inject(forged, to: 0)
        #expect(simulation.ends[0].counters.stale == 1 && simulation.ends[0].counters.peerRestarts == 0)
        let start = simulation.now
        simulation.offer(from: 0, count: 50, size: 100, every: Self.millisecond, startingAt: start)
        simulation.run(until: start + Self.second)
        Self.expectEveryPayloadOnce(simulation, from: 0, "after the forged incarnation")
        #expect(simulation.events[0].allSatisfy { $0.1 != .down })
    }

    /// A link far faster than anything real (1 Tbit/s) survives a long outage: the bucket's
    /// refill cannot overflow.
    @Test func aVeryFastBucketSurvivesALongOutage() {
        var simulation = Self.simulation(delay: 5 * Self.millisecond, rate: 125_000_000_000)
        simulation.channels[0].isCut = true
        simulation.channels[1].isCut = true
        simulation.run(until: simulation.now + 15 * Self.second)
        simulation.channels[0].isCut = false
        simulation.channels[1].isCut = false
        let start = simulation.now
        simulation.offer(from: 0, count: 100, size: 1000, every: 100_000, startingAt: start)
        simulation.run(until: start + 2 * Self.second)
        Self.expectEveryPayloadOnce(simulation, from: 0, "after the outage")
    }
}
