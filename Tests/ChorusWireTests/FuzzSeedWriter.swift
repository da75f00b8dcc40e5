import ChorusWire
import Foundation
import NIOCore
import Testing

/// Writes the seed corpora of the wire decoders' fuzz targets (Tests/ChorusFuzzTests/Corpus)
/// from the generators the round-trip tests use. A tool, run by scripts/fuzz.sh --seeds; it is
/// skipped unless CHORUS_WRITE_FUZZ_SEEDS names the corpus directory.
@Suite struct FuzzSeedWriter {
    static let directory = ProcessInfo.processInfo.environment["CHORUS_WRITE_FUZZ_SEEDS"]

    static func write(_ buffer: ByteBuffer, _ target: String, _ name: String) throws {
        let folder = URL(fileURLWithPath: directory!).appendingPathComponent(target)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(buffer.readableBytesView).write(to: folder.appendingPathComponent("seed-\(name)"))
    }

    @Test(.enabled(if: directory != nil, "CHORUS_WRITE_FUZZ_SEEDS is not set"))
    func writeWireSeeds() throws {
        var rng = SplitMix64(seed: 0x5EED)
        for index in 0..<48 { try Self.write(PacketCodec.encode(Gen.packet(&rng)), "ring", "\(index)") }
        for index in 0..<24 { try Self.write(GroupMessageCodec.encode(Gen.groupMessage(&rng)), "group", "\(index)") }
        let header = HopPacketCodecTests.header
        let hops = [
            HopPacket(header: header, body: .data(seq: 41, payload: ByteBuffer(bytes: [1, 2, 3]))),
            HopPacket(header: header, body: .control(HopControl(highestSent: 99))),
            HopPacket(header: header, body: .control(HopControl(highestSent: 1_000, missing: [41...42, 50...60]))),
        ]
        for (index, packet) in hops.enumerated() { try Self.write(HopPacketCodec.encode(packet), "hop", "\(index)") }
        let routed = RoutedMessage(origin: SiteID(2), incarnation: 3, seq: 77, interested: [SiteID(1), SiteID(5)], body: ByteBuffer(bytes: [9, 8, 7]))
        try Self.write(HopMessageCodec.encode(.linkState(HopMessageCodecTests.report)), "hop-message", "0")
        try Self.write(HopMessageCodec.encode(.routed(routed)), "hop-message", "1")
        let everywhere = RoutedMessage(origin: SiteID(4), incarnation: 1 << 50, seq: 1, interested: [], body: ByteBuffer())
        try Self.write(HopMessageCodec.encode(.routed(everywhere)), "hop-message", "2")
        let wide: [WideAreaMessage] = [
            WideAreaMessageCodecTests.data, WideAreaMessageCodecTests.heartbeat, WideAreaMessageCodecTests.unreliable,
            WideAreaMessageCodecTests.snapshot, .install(WideAreaMessageCodecTests.install),
            .proposal(WideAreaMessageCodecTests.proposal(SiteID(1))),
        ]
        for (index, message) in wide.enumerated() { try Self.write(WideAreaMessageCodec.encode(message), "wide-area", "\(index)") }
    }
}
