import ChorusWire
import NIOCore

/// The receiving half: checks on every packet, incarnations, liveness, acks, NACKs and data.
extension HopLink {
    /// Handles one packet from the network (already decoded, so `HopPacketCodec.validate` holds).
    public mutating func receive(_ packet: HopPacket, now: Instant, into actions: inout [HopLinkAction]) {
        let header = packet.header
        guard header.from == peer, header.to == local else {
            counters.foreign += 1
            return
        }
        // Addressed to a former incarnation of this end.
        guard header.receiverIncarnation == 0 || header.receiverIncarnation == incarnation else {
            counters.stale += 1
            return
        }
        if header.senderIncarnation != peerIncarnation {
            guard acceptsIncarnation(header.senderIncarnation, now: now) else {
                counters.stale += 1
                return
            }
            peerStarted(header.senderIncarnation, into: &actions)
        }
        // Only a packet that names this end's incarnation, and says the peer heard from this end
        // within the dead interval, shows the link works both ways: it alone keeps the link up
        // (a peer heard one way only is not a link), and its ack counts.
        let knowsUs = header.receiverIncarnation == incarnation
        let hearsUs = knowsUs && header.echo != 0 && UInt64(header.echoDelay) * 1000 < freshEcho
        if knowsUs, !isPlausible(packet) {
            counters.implausible += 1
            return
        }
        if header.sentAt > peerSentAt {
            peerSentAt = header.sentAt
            peerSentAtHeard = now
        }
        if knowsUs { acknowledge(upTo: header.ack, now: now) }
        if hearsUs {
            lastHeard = now
            if header.echo <= now {
                let held = UInt64(header.echoDelay) * 1000
                let elapsed = now - header.echo
                if elapsed > held { roundTrip.add(elapsed - held) }
            }
        }
        let cameUp = hearsUs && !isUp
        if cameUp {
            isUp = true
            actions.append(.up)
        }

        switch packet.body {
        case .data(let seq, let payload):
            // Data goes only to a known incarnation: one for a former incarnation of this end was dropped above.
            guard knowsUs else {
                counters.stale += 1
                break
            }
            receiveData(seq: seq, payload: payload, now: now, into: &actions)
        case .control(let control):
            received.learn(highest: control.highestSent, now: now, nackDelay: options.nackDelay)
            if knowsUs, !control.missing.isEmpty { resendMissing(control.missing, now: now) }
            // A peer that has not heard from this end yet hears now.
            if !knowsUs { sendControl(now: now, missing: [], into: &actions) }
        }
        pump(now: now, into: &actions)
        // Just up: the peer learns at once that this end hears it (it may still be down there).
        if cameUp, lastSentAt != now { sendControl(now: now, missing: [], into: &actions) }
    }

    /// An honest peer acknowledges only seqs this end has sent. (Missing ranges above them are
    /// clipped, not refused: a forged packet can make an honest receiver ask for seqs never sent,
    /// and refusing its reports would drop its real ones and its acks with them.)
    func isPlausible(_ packet: HopPacket) -> Bool {
        packet.header.ack <= nextSeq - 1
    }

    /// How recently the peer must have heard this end for its packet to show the link works both
    /// ways: this end sends at least every hello interval, so an honest peer that hears it has
    /// heard it within one (three allow for two lost hellos), at most the dead interval.
    var freshEcho: Duration64 { min(options.deadInterval, 3 * options.helloInterval) }

    /// Whether a packet from another incarnation of the peer starts it afresh here. The first one
    /// always does. Otherwise only while the link is down (the former incarnation fell silent),
    /// so a single forged packet cannot reset a working link: a higher incarnation at once (a
    /// restart), a lower one after two dead intervals of silence (a restart whose clock stepped
    /// back; sooner, it may be the former incarnation's packets still on their way).
    func acceptsIncarnation(_ other: UInt64, now: Instant) -> Bool {
        if peerIncarnation == 0 { return true }
        guard !isUp else { return false }
        return other > peerIncarnation || now >= lastHeard + 2 * options.deadInterval
    }

    mutating func receiveData(seq: UInt64, payload: ByteBuffer, now: Instant, into actions: inout [HopLinkAction]) {
        guard !received.hasArrived(seq) else {
            counters.duplicates += 1
            ackOwedSince = ackOwedSince ?? now  // the ack that would have stopped this resend was lost
            return
        }
        guard received.accepts(seq) else {
            counters.outOfWindow += 1
            return
        }
        _ = received.arrive(seq, now: now, nackDelay: options.nackDelay)
        ackOwedSince = ackOwedSince ?? now
        counters.delivered += 1
        actions.append(.deliver(seq: seq, payload: payload))
    }

    /// The peer started (or restarted, with a new incarnation): its stream and what it received
    /// of ours start afresh. Payloads its former incarnation did not acknowledge go back to the
    /// caller (it may have received some whose acknowledgement was lost); those still queued go
    /// to the new one.
    mutating func peerStarted(_ newIncarnation: UInt64, into actions: inout [HopLinkAction]) {
        let restarted = peerIncarnation != 0
        peerIncarnation = newIncarnation
        peerSentAt = 0
        guard restarted else { return }
        counters.peerRestarts += 1
        received.reset()
        ackOwedSince = nil
        let unacknowledged = inFlight.map(\.payload)
        inFlight.removeAll()
        resend.removeAll()
        nextSeq = 1
        firstInFlight = 1
        probeAt = nil
        backoff = 0
        actions.append(.peerRestarted(unacknowledged: unacknowledged))
    }
}
