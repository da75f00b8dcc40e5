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
        // Addressed to a former incarnation of this end, or sent by a former one of the peer.
        guard header.receiverIncarnation == 0 || header.receiverIncarnation == incarnation,
            header.senderIncarnation >= peerIncarnation
        else {
            counters.stale += 1
            return
        }
        if header.senderIncarnation > peerIncarnation { peerStarted(header.senderIncarnation, into: &actions) }
        // Only a packet that names this end's incarnation shows the peer hears us: it alone keeps
        // the link up (a peer heard one way only is not a link), and its ack counts.
        let knowsUs = header.receiverIncarnation == incarnation
        if knowsUs, !isPlausible(packet) {
            counters.implausible += 1
            return
        }
        if header.sentAt > peerSentAt {
            peerSentAt = header.sentAt
            peerSentAtHeard = now
        }
        if knowsUs {
            lastHeard = now
            if header.echo != 0, header.echo <= now {
                let held = UInt64(header.echoDelay) * 1000
                let elapsed = now - header.echo
                if elapsed > held { roundTrip.add(elapsed - held) }
            }
            acknowledge(upTo: header.ack, now: now)
        }
        let cameUp = knowsUs && !isUp
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

    /// An honest peer acknowledges and reports missing only seqs this end has sent.
    func isPlausible(_ packet: HopPacket) -> Bool {
        let highestSent = nextSeq - 1
        guard packet.header.ack <= highestSent else { return false }
        if case .control(let control) = packet.body, let last = control.missing.last {
            return last.upperBound <= highestSent
        }
        return true
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
    /// caller; those still queued go to the new one.
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
