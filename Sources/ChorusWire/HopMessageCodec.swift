import NIOCore

/// Encodes and decodes `HopMessage`s, the payloads of hop data packets. The hop packet's CRC
/// already covers them; `decode` checks every field, bounds every count before it allocates,
/// never traps, and refuses trailing bytes. Encoding is canonical.
public enum HopMessageCodec {
    enum Kind: UInt8 {
        case linkState = 1
        case routed = 2
    }

    /// Exactly how many bytes `encode` writes for `message`.
    public static func encodedSize(_ message: HopMessage) -> Int {
        switch message {
        case .linkState(let report): 1 + 4 + 8 + 2 + 8 * report.links.count
        case .routed(let routed): 1 + 4 + 8 + 8 + 2 + 4 * routed.interested.count + routed.body.readableBytes
        }
    }

    /// Appends `message`, which must satisfy `validate` (a violation traps: a programmer error).
    public static func encode(_ message: HopMessage, into buffer: inout ByteBuffer) {
        precondition((try? validate(message)) != nil, "encoding an invalid hop message")
        buffer.reserveCapacity(minimumWritableBytes: encodedSize(message))
        switch message {
        case .linkState(let report):
            buffer.writeInteger(Kind.linkState.rawValue)
            buffer.writeInteger(report.site.rawValue)
            buffer.writeInteger(report.version)
            buffer.writeInteger(UInt16(report.links.count))
            for link in report.links {
                buffer.writeInteger(link.neighbour.rawValue)
                buffer.writeInteger(link.cost)
            }
        case .routed(let routed):
            buffer.writeInteger(Kind.routed.rawValue)
            buffer.writeInteger(routed.origin.rawValue)
            buffer.writeInteger(routed.incarnation)
            buffer.writeInteger(routed.seq)
            buffer.writeInteger(UInt16(routed.interested.count))
            for site in routed.interested { buffer.writeInteger(site.rawValue) }
            buffer.writeImmutableBuffer(routed.body)
        }
    }

    public static func encode(_ message: HopMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(message, into: &buffer)
        return buffer
    }

    /// Decodes one message from all readable bytes of `buffer`.
    public static func decode(_ buffer: ByteBuffer) throws(WireError) -> HopMessage {
        var reader = WireReader(buffer)
        let kindByte = try reader.read(UInt8.self, "hopMessage.kind")
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownType(kindByte) }
        let message: HopMessage
        switch kind {
        case .linkState:
            let site = SiteID(try reader.read(UInt32.self, "linkState.site"))
            let version = try reader.read(UInt64.self, "linkState.version")
            let count = try reader.readCount(UInt16.self, "linkState.links", limit: WireLimits.maxSites, minimumEntrySize: 8)
            var links: [SiteLinkState] = []
            links.reserveCapacity(count)
            for _ in 0..<count {
                let neighbour = SiteID(try reader.read(UInt32.self, "linkState.neighbour"))
                let cost = try reader.read(UInt32.self, "linkState.cost")
                links.append(SiteLinkState(neighbour: neighbour, cost: cost))
            }
            message = .linkState(LinkStateReport(site: site, version: version, links: links))
        case .routed:
            let origin = SiteID(try reader.read(UInt32.self, "routed.origin"))
            let incarnation = try reader.read(UInt64.self, "routed.incarnation")
            let seq = try reader.read(UInt64.self, "routed.seq")
            let count = try reader.readCount(UInt16.self, "routed.interested", limit: WireLimits.maxSites, minimumEntrySize: 4)
            var interested: [SiteID] = []
            interested.reserveCapacity(count)
            for _ in 0..<count { interested.append(SiteID(try reader.read(UInt32.self, "routed.interested"))) }
            let body = try reader.readSlice(reader.remaining, "routed.body")
            message = .routed(RoutedMessage(origin: origin, incarnation: incarnation, seq: seq, interested: interested, body: body))
        }
        try reader.expectEnd("hop message")
        try validate(message)
        return message
    }

    /// Link state: neighbours strictly ascending, none the reporting site itself, at most
    /// `WireLimits.maxSites`, costs at least 1. Routed: `seq >= 1`; interested sites strictly
    /// ascending, at most `WireLimits.maxSites`.
    public static func validate(_ message: HopMessage) throws(WireError) {
        switch message {
        case .linkState(let report):
            guard report.links.count <= WireLimits.maxSites else {
                throw .tooMany("linkState.links", count: report.links.count, limit: WireLimits.maxSites)
            }
            try PacketCodec.checkStrictlyAscending(report.links.lazy.map(\.neighbour), "linkState.neighbour")
            for link in report.links {
                guard link.neighbour != report.site else {
                    throw .invalidField("linkState.neighbour", reason: "\(report.site) reports a link to itself")
                }
                guard link.cost >= 1 else { throw .invalidField("linkState.cost", reason: "0 to \(link.neighbour)") }
            }
        case .routed(let routed):
            guard routed.interested.count <= WireLimits.maxSites else {
                throw .tooMany("routed.interested", count: routed.interested.count, limit: WireLimits.maxSites)
            }
            guard routed.seq >= 1 else { throw .invalidField("routed.seq", reason: "seqs start at 1") }
            try PacketCodec.checkStrictlyAscending(routed.interested, "routed.interested")
        }
    }
}
