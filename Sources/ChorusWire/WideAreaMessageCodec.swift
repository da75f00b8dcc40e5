import NIOCore

/// Encodes and decodes `WideAreaMessage`s. The ring's and the hop protocol's CRCs already cover
/// them; `decode` checks every field, bounds every count before it allocates, never traps, and
/// refuses trailing bytes. Encoding is canonical.
public enum WideAreaMessageCodec {
    /// The first byte of every wide-area message (a group message starts with its version, 1).
    public static let marker: UInt8 = 0xA7

    enum Kind: UInt8 {
        case tick = 1
        case data = 2
        case heartbeat = 3
    }

    /// Whether a ring payload is a wide-area message rather than a group message.
    @inlinable
    public static func isWideArea(_ payload: ByteBuffer) -> Bool {
        payload.getInteger(at: payload.readerIndex, as: UInt8.self) == marker
    }

    public static func encodedSize(_ message: WideAreaMessage) -> Int {
        switch message {
        case .tick: 2 + 8
        case .data(let data): 2 + 4 + 8 + 8 + 1 + 4 + data.payload.readableBytes
        case .heartbeat(let beat): 2 + 4 + 8 + 8 + 2 + 20 * beat.progress.count
        }
    }

    /// Appends `message`, which must satisfy `validate` (a violation traps: a programmer error).
    public static func encode(_ message: WideAreaMessage, into buffer: inout ByteBuffer) {
        precondition((try? validate(message)) != nil, "encoding an invalid wide-area message")
        buffer.reserveCapacity(minimumWritableBytes: encodedSize(message))
        buffer.writeInteger(marker)
        switch message {
        case .tick(let stamp):
            buffer.writeInteger(Kind.tick.rawValue)
            buffer.writeInteger(stamp)
        case .data(let data):
            buffer.writeInteger(Kind.data.rawValue)
            buffer.writeInteger(data.origin.rawValue)
            buffer.writeInteger(data.seq)
            buffer.writeInteger(data.lamport)
            buffer.writeInteger(data.service.rawValue)
            buffer.writeInteger(data.sender.rawValue)
            buffer.writeImmutableBuffer(data.payload)
        case .heartbeat(let beat):
            buffer.writeInteger(Kind.heartbeat.rawValue)
            buffer.writeInteger(beat.origin.rawValue)
            buffer.writeInteger(beat.lamport)
            buffer.writeInteger(beat.lastSeq)
            buffer.writeInteger(UInt16(beat.progress.count))
            for entry in beat.progress {
                buffer.writeInteger(entry.site.rawValue)
                buffer.writeInteger(entry.received)
                buffer.writeInteger(entry.held)
            }
        }
    }

    public static func encode(_ message: WideAreaMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(message, into: &buffer)
        return buffer
    }

    /// Decodes one message from all readable bytes of `buffer`.
    public static func decode(_ buffer: ByteBuffer) throws(WireError) -> WideAreaMessage {
        var reader = WireReader(buffer)
        let first = try reader.read(UInt8.self, "wideArea.marker")
        guard first == marker else { throw .unsupportedVersion(first) }
        let kindByte = try reader.read(UInt8.self, "wideArea.kind")
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownType(kindByte) }
        let message: WideAreaMessage
        switch kind {
        case .tick:
            message = .tick(stamp: try reader.read(UInt64.self, "tick.stamp"))
        case .data:
            let origin = SiteID(try reader.read(UInt32.self, "data.origin"))
            let seq = try reader.read(UInt64.self, "data.seq")
            let lamport = try reader.read(UInt64.self, "data.lamport")
            let serviceByte = try reader.read(UInt8.self, "data.service")
            guard let service = Service(rawValue: serviceByte) else {
                throw .invalidField("data.service", reason: "no service \(serviceByte)")
            }
            let sender = try reader.readNodeID("data.sender")
            let payload = try reader.readSlice(reader.remaining, "data.payload")
            message = .data(
                WideAreaData(origin: origin, seq: seq, lamport: lamport, service: service, sender: sender, payload: payload))
        case .heartbeat:
            let origin = SiteID(try reader.read(UInt32.self, "heartbeat.origin"))
            let lamport = try reader.read(UInt64.self, "heartbeat.lamport")
            let lastSeq = try reader.read(UInt64.self, "heartbeat.lastSeq")
            let count = try reader.readCount(UInt16.self, "heartbeat.progress", limit: WireLimits.maxSites, minimumEntrySize: 20)
            var progress: [SiteProgress] = []
            progress.reserveCapacity(count)
            for _ in 0..<count {
                let site = SiteID(try reader.read(UInt32.self, "heartbeat.site"))
                let received = try reader.read(UInt64.self, "heartbeat.received")
                let held = try reader.read(UInt64.self, "heartbeat.held")
                progress.append(SiteProgress(site: site, received: received, held: held))
            }
            message = .heartbeat(WideAreaHeartbeat(origin: origin, lamport: lamport, lastSeq: lastSeq, progress: progress))
        }
        try reader.expectEnd("wide-area message")
        try validate(message)
        return message
    }

    /// Data: `seq >= 1` and `lamport >= 1`, but for unreliable data, which takes no place in the
    /// order: seq and lamport both 0. Heartbeat: progress sites strictly ascending, at most
    /// `WireLimits.maxSites`, each `held <= received`.
    public static func validate(_ message: WideAreaMessage) throws(WireError) {
        switch message {
        case .tick:
            break
        case .data(let data):
            if data.service == .unreliable {
                guard data.seq == 0, data.lamport == 0 else {
                    throw .invalidField("data.seq", reason: "unreliable data has no place in the order (seq and lamport 0)")
                }
            } else {
                guard data.seq >= 1 else { throw .invalidField("data.seq", reason: "seqs start at 1") }
                guard data.lamport >= 1 else { throw .invalidField("data.lamport", reason: "timestamps start at 1") }
            }
        case .heartbeat(let beat):
            guard beat.progress.count <= WireLimits.maxSites else {
                throw .tooMany("heartbeat.progress", count: beat.progress.count, limit: WireLimits.maxSites)
            }
            try PacketCodec.checkStrictlyAscending(beat.progress.lazy.map(\.site), "heartbeat.site")
            for entry in beat.progress where entry.held > entry.received {
                throw .invalidField("heartbeat.held", reason: "\(entry.held) above received \(entry.received) for \(entry.site)")
            }
        }
    }
}
