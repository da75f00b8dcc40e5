import ChorusWire

/// The idle token this daemon holds, and how many packets it sequenced meanwhile.
struct HeldToken: Sendable {
    var token: Token
    /// Packets sent during this hold: they count against the visit that passes the token on.
    var sequenced = 0
}

/// Holding the idle token: the representative keeps it instead of spinning an idle ring, a member
/// that is the ring's only sender keeps it between its messages, and a message queued at the
/// holder goes out at once.
extension Ring {
    /// This daemon holds the idle token and a message was queued here: the visit goes on.
    /// What is queued is sequenced and sent now, and the token stays, so the next message finds
    /// it here too instead of waiting for a rotation it does not need (members deliver agreed
    /// messages on receipt; the token's rotation serves their own sending, the aru and
    /// retransmission requests).
    ///
    /// Returns whether everything queued went out. If not, the token should go round now: a
    /// safe message waits (it needs two rotations anyway), or the queue holds more than the
    /// window. Once something was sent this way the hold ends within `holdWhileSending`, so
    /// members see the new packets on the token (for stability and their own sending) soon; a
    /// member that queues a message or misses a packet wakes the holder, which then passes the
    /// token. Nobody else sends meanwhile, so the whole window is this daemon's.
    mutating func sendWhileHolding(now: Instant, into actions: inout [RingAction]) -> Bool {
        guard var hold = held, phase == .operational, options.sendWhileHolding, var log = installed.take() else {
            return false
        }
        var token = hold.token
        let budget = min(options.windowSize - hold.sequenced, outstandingRoom(token, log))
        var sent: [DataPacket] = []
        while let service = queue.headService, service < .safe, sent.count < budget,
            let outgoing = queue.nextPacket(maxPayload: options.maxPacketPayload, ringID: log.ringID, sender: me)
        {
            var marked = outgoing
            marked.packet.sentWhileHolding = true
            sent.append(sequence(marked, token: &token, log: &log))
        }
        guard !sent.isEmpty else {
            installed = consume log
            return queue.isEmpty
        }
        // This daemon holds everything it sequenced: the aru stays complete, as at a visit's end.
        if token.aru == sent[0].seq - 1 {
            token.aru = token.seq
            token.aruID = nil
            token.aruSetter = me
        }
        let others = log.others
        for packet in sent {
            actions.append(.send(.data(packet), to: .members(others)))
            log.deliverAfterInsert(seq: packet.seq, into: &actions)
        }
        stabilizeIfAlone(&log, into: &actions)
        installed = consume log
        counters.packetsSent += sent.count
        counters.sentWhileHolding += sent.count
        if hold.sequenced == 0 { arm(.idleHold, now + options.holdWhileSending, into: &actions) }
        hold.token = token
        hold.sequenced += sent.count
        held = hold
        // Not quiet: the others have not shown yet that they hold these.
        lastSeenIdle = false
        return queue.isEmpty
    }

    /// The held token goes on: a member woke it, its hold expired, or this daemon has more to
    /// send than a hold allows. `keepingIdleCount`: the hold simply expired (the ring stays idle).
    mutating func releaseHeldToken(now: Instant, into actions: inout [RingAction], keepingIdleCount: Bool = false) {
        guard let hold = held.take() else { return }
        var token = hold.token
        if !keepingIdleCount || hold.sequenced > 0 { token.idleRotations = 0 }
        handleToken(token, now: now, released: true, sentWhileHeld: hold.sequenced, into: &actions)
    }
}
