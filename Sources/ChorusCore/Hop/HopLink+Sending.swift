import ChorusWire
import NIOCore

/// The sending half: the window, the rate, retransmissions, probes and control packets.
extension HopLink {
    /// Sends what is owed, within the rate: payloads the peer reported missing first, then new
    /// ones while the window has room. Nothing while the link is down.
    mutating func pump(now: Instant, into actions: inout [HopLinkAction]) {
        guard isUp else { return }
        bucket.refill(now: now)
        while bucket.canSend {
            if let seq = resend.popFirst() {
                guard seq >= firstInFlight, seq < nextSeq else { continue }
                let index = Int(seq - firstInFlight)
                guard inFlight[index].queuedForResend else { continue }
                inFlight[index].queuedForResend = false
                inFlight[index].lastSentAt = now
                counters.retransmissions += 1
                sendData(seq: seq, payload: inFlight[index].payload, now: now, into: &actions)
            } else if !queue.isEmpty, inFlight.count < options.window {
                let payload = queue.removeFirst()
                queuedBytes -= max(64, payload.readableBytes)
                if inFlight.isEmpty {
                    progressAt = now
                    backoff = 0
                }
                inFlight.append(InFlight(payload: payload, lastSentAt: now))
                let seq = nextSeq
                nextSeq += 1
                sendData(seq: seq, payload: payload, now: now, into: &actions)
            } else {
                break
            }
        }
    }

    mutating func sendData(seq: UInt64, payload: ByteBuffer, now: Instant, into actions: inout [HopLinkAction]) {
        let packet = HopPacket(header: header(now: now), body: .data(seq: seq, payload: payload))
        counters.dataSent += 1
        emit(packet, now: now, into: &actions)
        probeAt = now + options.ackDelay
    }

    /// A control packet: the ack, the highest seq sent, and `missing` (NACKs).
    mutating func sendControl(now: Instant, missing: [ClosedRange<UInt64>], into actions: inout [HopLinkAction]) {
        let packet = HopPacket(header: header(now: now), body: .control(HopControl(highestSent: nextSeq - 1, missing: missing)))
        counters.controlSent += 1
        emit(packet, now: now, into: &actions)
    }

    /// The header every packet carries; it acknowledges everything received so far.
    mutating func header(now: Instant) -> HopHeader {
        ackOwedSince = nil
        let heldFor = peerSentAt == 0 ? 0 : (now - min(now, peerSentAtHeard)) / 1000
        return HopHeader(
            from: local, to: peer, senderIncarnation: incarnation, receiverIncarnation: peerIncarnation, sentAt: now,
            echo: peerSentAt, echoDelay: UInt32(clamping: heldFor), ack: received.upTo)
    }

    mutating func emit(_ packet: HopPacket, now: Instant, into actions: inout [HopLinkAction]) {
        let size = HopPacketCodec.encodedSize(packet)
        bucket.spend(size)
        counters.bytesSent += size
        lastSentAt = now
        actions.append(.send(packet))
    }

    /// Reports the missing seqs that are due, in as many control packets as they need.
    mutating func askForMissing(now: Instant, into actions: inout [HopLinkAction]) {
        let retry = max(roundTrip.smoothed + max(4 * roundTrip.variation, options.nackDelay), 2 * options.nackDelay)
        for _ in 0..<8 {
            let ranges = received.due(
                now: now, nackDelay: options.nackDelay, retry: retry, limit: WireLimits.maxHopMissingRanges)
            guard !ranges.isEmpty else { return }
            sendControl(now: now, missing: ranges, into: &actions)
            guard ranges.count == WireLimits.maxHopMissingRanges else { return }
        }
    }

    /// Nothing was acknowledged for a retransmission timeout: the oldest packet goes again, and a
    /// probe tells the peer the highest seq so it reports every other gap. The timeout doubles
    /// until something is acknowledged.
    mutating func retransmitTimedOut(now: Instant, into actions: inout [HopLinkAction]) {
        counters.retransmitTimeouts += 1
        backoff += 1
        progressAt = now
        if !inFlight[0].queuedForResend {
            inFlight[0].queuedForResend = true
            resend.append(firstInFlight)
        }
        pump(now: now, into: &actions)
        sendControl(now: now, missing: [], into: &actions)
    }

    /// The peer acknowledged everything up to `ack` (at most the highest seq sent, checked by the caller).
    mutating func acknowledge(upTo ack: UInt64, now: Instant) {
        guard ack >= firstInFlight else { return }
        let count = Int(ack - firstInFlight + 1)
        inFlight.removeFirst(count)
        firstInFlight = ack + 1
        progressAt = now
        backoff = 0
        if inFlight.isEmpty { probeAt = nil }
    }

    /// The peer reports `missing` (clipped to what was sent): each still
    /// unacknowledged and not sent in the last half round trip goes again (a report that crossed
    /// the resend must not double it).
    mutating func resendMissing(_ missing: [ClosedRange<UInt64>], now: Instant) {
        let recent = roundTrip.smoothed / 2
        for range in missing {
            let lower = max(range.lowerBound, firstInFlight)
            let upper = min(range.upperBound, nextSeq - 1)
            guard lower <= upper else { continue }
            for seq in lower...upper {
                let index = Int(seq - firstInFlight)
                guard !inFlight[index].queuedForResend, now >= inFlight[index].lastSentAt + recent else { continue }
                inFlight[index].queuedForResend = true
                resend.append(seq)
            }
        }
    }
}
