import NIOCore
import Testing

@testable import ChorusWire

/// The hop protocol's datagrams: round trips, the layout, and every rule `decode` enforces.
@Suite struct HopPacketCodecTests {
    static let header = HopHeader(
        from: SiteID(1), to: SiteID(2), senderIncarnation: 7, receiverIncarnation: 9, sentAt: 1_000, echo: 900,
        echoDelay: 12, ack: 40)

    static func roundTrip(_ packet: HopPacket, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = HopPacketCodec.encode(packet)
        #expect(bytes.readableBytes == HopPacketCodec.encodedSize(packet), sourceLocation: sourceLocation)
        #expect(try HopPacketCodec.decode(bytes) == packet, sourceLocation: sourceLocation)
    }

    static func decodes(_ packet: HopPacket) -> Result<HopPacket, WireError> {
        var bytes = ByteBuffer()
        HopPacketCodec.writeFrame(packet, into: &bytes)  // without the encoder's checks
        return Result { () throws(WireError) in try HopPacketCodec.decode(bytes) }
    }

    @Test func roundTrips() throws {
        try Self.roundTrip(HopPacket(header: Self.header, body: .data(seq: 41, payload: ByteBuffer(bytes: [1, 2, 3]))))
        try Self.roundTrip(HopPacket(header: Self.header, body: .data(seq: .max, payload: ByteBuffer())))
        try Self.roundTrip(HopPacket(header: Self.header, body: .control(HopControl(highestSent: 99))))
        let ranges = (0..<UInt64(WireLimits.maxHopMissingRanges)).map { 41 + 3 * $0...42 + 3 * $0 }
        try Self.roundTrip(HopPacket(header: Self.header, body: .control(HopControl(highestSent: 1_000, missing: ranges))))
    }

    @Test func layout() {
        let bytes = HopPacketCodec.encode(HopPacket(header: Self.header, body: .data(seq: 5, payload: ByteBuffer(bytes: [0xAB]))))
        #expect(Array(bytes.readableBytesView.prefix(8)) == [0xC4, 0xB0, 1, 1, 0, 0, 0, 61])
        #expect(bytes.readableBytes == HopPacketCodec.dataOverhead + 1)
        #expect(bytes.getInteger(at: 8, as: UInt32.self) == 1 && bytes.getInteger(at: 12, as: UInt32.self) == 2)
    }

    /// A ring packet is not a hop packet, nor the reverse: the magics differ.
    @Test func ringAndHopPacketsAreNotTakenForEachOther() {
        let ring = PacketCodec.encode(.wake(WakeMessage(sender: NodeID(1), ringID: .none)))
        #expect(throws: WireError.badMagic(PacketCodec.magic)) { try HopPacketCodec.decode(ring) }
        let hop = HopPacketCodec.encode(HopPacket(header: Self.header, body: .control(HopControl(highestSent: 1))))
        #expect(throws: WireError.badMagic(HopPacketCodec.magic)) { try PacketCodec.decode(hop) }
    }

    @Test func rulesBeyondSyntax() {
        var toItself = Self.header
        toItself.to = toItself.from
        var noIncarnation = Self.header
        noIncarnation.senderIncarnation = 0
        let bad: [(HopPacket, String)] = [
            (HopPacket(header: toItself, body: .control(HopControl(highestSent: 0))), "a link to itself"),
            (HopPacket(header: noIncarnation, body: .control(HopControl(highestSent: 0))), "incarnation 0"),
            (HopPacket(header: Self.header, body: .data(seq: 0, payload: ByteBuffer())), "seq 0"),
            (HopPacket(header: Self.header, body: .control(HopControl(highestSent: 99, missing: [40...41]))), "at the ack"),
            (HopPacket(header: Self.header, body: .control(HopControl(highestSent: 99, missing: [41...42, 43...44]))), "adjacent"),
            (HopPacket(header: Self.header, body: .control(HopControl(highestSent: 99, missing: [45...46, 41...42]))), "descending"),
        ]
        for (packet, what) in bad {
            guard case .failure(let error) = Self.decodes(packet) else {
                Issue.record("\(what) was accepted")
                continue
            }
            #expect(error.description.contains("invalid"), "\(what): \(error)")
        }
        let tooMany = (0..<UInt64(WireLimits.maxHopMissingRanges + 1)).map { 41 + 3 * $0...41 + 3 * $0 }
        let result = Self.decodes(HopPacket(header: Self.header, body: .control(HopControl(highestSent: 1_000, missing: tooMany))))
        #expect(result == .failure(.tooMany("hop.missing", count: WireLimits.maxHopMissingRanges + 1, limit: WireLimits.maxHopMissingRanges)))
    }

    /// Every truncation of a valid packet is refused with an error, never a trap.
    @Test func everyTruncationIsRefused() {
        let bytes = HopPacketCodec.encode(
            HopPacket(header: Self.header, body: .control(HopControl(highestSent: 99, missing: [41...42, 50...60]))))
        for length in 0..<bytes.readableBytes {
            #expect(throws: WireError.self) { try HopPacketCodec.decode(bytes.getSlice(at: 0, length: length)!) }
        }
    }
}

/// The messages inside hop data packets.
@Suite struct HopMessageCodecTests {
    static let report = LinkStateReport(
        site: SiteID(3), version: 0x0102_0304_0506_0708,
        links: [SiteLinkState(neighbour: SiteID(1), cost: 30), SiteLinkState(neighbour: SiteID(9), cost: 1)])

    @Test func linkStateRoundTrips() throws {
        for report in [Self.report, LinkStateReport(site: SiteID(1), version: 0, links: [])] {
            let bytes = HopMessageCodec.encode(.linkState(report))
            #expect(bytes.readableBytes == HopMessageCodec.encodedSize(.linkState(report)))
            #expect(try HopMessageCodec.decode(bytes) == .linkState(report))
        }
        let bytes = HopMessageCodec.encode(.linkState(Self.report))
        #expect(Array(bytes.readableBytesView.prefix(15)) == [1, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0, 2])
    }

    @Test func routedMessagesRoundTrip() throws {
        let routed = RoutedMessage(
            origin: SiteID(2), incarnation: 3, seq: 77, interested: [SiteID(1), SiteID(5)], body: ByteBuffer(bytes: [9, 8, 7]))
        let bytes = HopMessageCodec.encode(.routed(routed))
        #expect(bytes.readableBytes == HopMessageCodec.encodedSize(.routed(routed)))
        #expect(try HopMessageCodec.decode(bytes) == .routed(routed))
        #expect(
            Array(bytes.readableBytesView)
                == [2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 77, 0, 2, 0, 0, 0, 1, 0, 0, 0, 5, 9, 8, 7])
        for bad in [
            RoutedMessage(origin: SiteID(2), seq: 0, body: ByteBuffer()),
            RoutedMessage(origin: SiteID(2), seq: 1, interested: [SiteID(5), SiteID(1)], body: ByteBuffer()),
        ] {
            #expect(throws: WireError.self) { try HopMessageCodec.validate(.routed(bad)) }
        }
    }

    /// Truncations, a count larger than the bytes (or the limit), unknown kinds, trailing bytes,
    /// and reports no honest representative writes: each refused with an error, never a trap.
    @Test func malformedMessagesAreRefused() {
        let good = HopMessageCodec.encode(.linkState(Self.report))
        for length in 0..<good.readableBytes {
            #expect(throws: WireError.self) { try HopMessageCodec.decode(good.getSlice(at: 0, length: length)!) }
        }
        var trailing = good
        trailing.writeInteger(UInt8(0))
        #expect(throws: WireError.trailingBytes(field: "hop message", count: 1)) { try HopMessageCodec.decode(trailing) }
        var kind = good
        kind.setInteger(UInt8(9), at: 0)
        #expect(throws: WireError.unknownType(9)) { try HopMessageCodec.decode(kind) }
        var huge = good
        huge.setInteger(UInt16.max, at: 13)
        #expect(throws: WireError.self) { try HopMessageCodec.decode(huge) }
        for links in [
            [SiteLinkState(neighbour: SiteID(3), cost: 1)],
            [SiteLinkState(neighbour: SiteID(2), cost: 1), SiteLinkState(neighbour: SiteID(2), cost: 1)],
            [SiteLinkState(neighbour: SiteID(2), cost: 0)],
        ] {
            #expect(throws: WireError.self) { try HopMessageCodec.validate(.linkState(LinkStateReport(site: SiteID(3), version: 1, links: links))) }
        }
    }
}
