import ChorusWire
import NIOCore

/// Client messages waiting for the token, and the packer that turns them into packets:
/// small messages of one service share a packet; a large one is cut into fragments.
struct SubmissionQueue {
    struct Entry {
        var service: Service
        var payload: ByteBuffer
        var barrier: Bool
    }

    /// A packet to sequence, and whether it carries a barrier message (see `Ring.submit`).
    struct Outgoing {
        var packet: DataPacket
        var barrier: Bool
    }

    private var entries: [Entry] = []
    private var head = 0
    /// Bytes of `entries[head]` already sent as fragments.
    private var fragmentOffset = 0

    var count: Int { entries.count - head }
    /// Payload bytes of the waiting messages (a message being fragmented counts whole until done).
    private(set) var bytes = 0
    var isEmpty: Bool { head == entries.count }
    /// The service of the next message to be sent, or nil when empty.
    var headService: Service? { head < entries.count ? entries[head].service : nil }

    mutating func append(_ service: Service, _ payload: ByteBuffer, barrier: Bool = false) {
        bytes += payload.readableBytes
        entries.append(Entry(service: service, payload: payload, barrier: barrier))
    }

    /// Puts a message at the head of the queue: it is the next one this daemon sequences.
    ///
    /// Only for the group layer's state announcement, right after a regular configuration is
    /// installed (before this daemon sequences anything on the new ring), so that every message
    /// of this daemon on the new ring comes after its announcement in the total order. A message
    /// half sent as fragments belongs to the old ring and goes again whole behind it.
    mutating func prepend(_ service: Service, _ payload: ByteBuffer, barrier: Bool) {
        bytes += payload.readableBytes
        fragmentOffset = 0
        let entry = Entry(service: service, payload: payload, barrier: barrier)
        if head > 0 {
            head -= 1
            entries[head] = entry
        } else {
            entries.insert(entry, at: 0)
        }
    }

    /// Builds the next packet's body from the head of the queue, or nil when empty.
    /// `seq` and `senderIndex` are filled by the caller.
    mutating func nextPacket(maxPayload: Int, ringID: RingID, sender: NodeID) -> Outgoing? {
        guard head < entries.count else { return nil }
        // No copy of the head entry is kept: a lone message's buffer must stay uniquely referenced.
        let service = entries[head].service
        let size = entries[head].payload.readableBytes
        var barrier = entries[head].barrier
        if fragmentOffset > 0 || size + 4 > maxPayload {
            return nextFragment(maxPayload: maxPayload, ringID: ringID, sender: sender)
        }
        if isAloneInPacket(size: size, service: service, maxPayload: maxPayload) {
            // A message that travels alone becomes the body in place (it was encoded with headroom).
            var payload = ByteBuffer()
            swap(&payload, &entries[head].payload)
            bytes -= size
            head += 1
            compact()
            let packet = DataPacket(
                ringID: ringID, sender: sender, seq: 0, senderIndex: 0, service: service, fragment: .packed,
                messageCount: 1, body: PackedBody.loneRecord(consume payload))
            return Outgoing(packet: packet, barrier: barrier)
        }
        var body = ByteBufferAllocator().buffer(capacity: min(maxPayload, 64 + size * 4))
        var count: UInt16 = 0
        while head < entries.count, count < UInt16.max {
            let entry = entries[head]
            let length = entry.payload.readableBytes
            guard entry.service == service, body.readableBytes + 4 + length <= maxPayload else { break }
            body.writeInteger(UInt32(length))
            body.writeImmutableBuffer(entry.payload)
            bytes -= length
            count += 1
            barrier = barrier || entry.barrier
            entries[head].payload = ByteBuffer()
            head += 1
        }
        compact()
        let packet = DataPacket(
            ringID: ringID, sender: sender, seq: 0, senderIndex: 0, service: service, fragment: .packed,
            messageCount: count, body: body)
        return Outgoing(packet: packet, barrier: barrier)
    }

    /// Whether the head message (which fits) shares its packet with no other: it is the last one
    /// waiting, or the next one has another service or does not fit beside it.
    private func isAloneInPacket(size: Int, service: Service, maxPayload: Int) -> Bool {
        guard head + 1 < entries.count else { return true }
        return entries[head + 1].service != service
            || PackedBody.recordSize(messageLength: size)
                + PackedBody.recordSize(messageLength: entries[head + 1].payload.readableBytes) > maxPayload
    }

    /// A barrier message takes effect where it is delivered, at its last fragment.
    private mutating func nextFragment(maxPayload: Int, ringID: RingID, sender: NodeID) -> Outgoing {
        let entry = entries[head]
        let total = entry.payload.readableBytes
        var length = min(maxPayload, total - fragmentOffset)
        // A message only slightly too big to pack still needs two pieces: a first and a last.
        if fragmentOffset == 0, length == total { length = total / 2 }
        let piece = entry.payload.getSlice(at: entry.payload.readerIndex + fragmentOffset, length: length)!
        let kind: FragmentKind
        if fragmentOffset == 0 {
            kind = .first
        } else if fragmentOffset + length == total {
            kind = .last
        } else {
            kind = .middle
        }
        fragmentOffset += length
        if fragmentOffset == total {
            bytes -= total
            fragmentOffset = 0
            entries[head].payload = ByteBuffer()
            head += 1
            compact()
        }
        let packet = DataPacket(
            ringID: ringID, sender: sender, seq: 0, senderIndex: 0, service: entry.service, fragment: kind,
            messageCount: 1, totalLength: kind == .first ? UInt32(total) : 0, body: piece)
        return Outgoing(packet: packet, barrier: kind == .last && entry.barrier)
    }

    private mutating func compact() {
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// The ring changed while a large message was half sent: its fragments on the old ring can never
    /// be completed there, so it is sent again, whole, on the next ring.
    mutating func restartPartialMessage() {
        fragmentOffset = 0
    }

    /// Takes every waiting message out (used when a daemon leaves).
    mutating func removeAll() {
        bytes = 0
        entries.removeAll()
        head = 0
        fragmentOffset = 0
    }
}
