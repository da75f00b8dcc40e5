import ChorusWire
import NIOCore
import Testing

@testable import ChorusDaemon

/// Runs of datagrams for UDP segmentation offload, and their splitting on receipt.
@Suite struct SegmentBatcherTests {
    static let a = try! SocketAddress(ipAddress: "127.0.0.1", port: 1)
    static let b = try! SocketAddress(ipAddress: "127.0.0.1", port: 2)

    static func datagram(_ size: Int, _ fill: UInt8) -> ByteBuffer { ByteBuffer(repeating: fill, count: size) }

    /// What the kernel would deliver for each envelope: the run cut at its segment size.
    static func delivered(_ envelopes: [AddressedEnvelope<ByteBuffer>]) -> [(SocketAddress, [UInt8])] {
        var out: [(SocketAddress, [UInt8])] = []
        for envelope in envelopes {
            SegmentSplitter.split(envelope, allocator: ByteBufferAllocator()) { out.append((envelope.remoteAddress, Array($0.readableBytesView))) }
        }
        return out
    }

    @Test func runsKeepEveryDatagramInOrderPerDestination() {
        var batcher = SegmentBatcher(allocator: ByteBufferAllocator())
        var sent: [AddressedEnvelope<ByteBuffer>] = []
        var expected: [SocketAddress: [[UInt8]]] = [:]
        let plan: [(NodeID, SocketAddress, Int)] = [
            (NodeID(2), Self.a, 100), (NodeID(3), Self.b, 100), (NodeID(2), Self.a, 100), (NodeID(2), Self.a, 60),
            (NodeID(2), Self.a, 100), (NodeID(3), Self.b, 100), (NodeID(3), Self.b, 120), (NodeID(2), Self.a, 30),
        ]
        for (index, (node, address, size)) in plan.enumerated() {
            let datagram = Self.datagram(size, UInt8(index))
            expected[address, default: []].append(Array(datagram.readableBytesView))
            batcher.add(datagram, to: [address]) { sent.append($0) }
        }
        batcher.drain { sent.append($0) }
        #expect(batcher.isEmpty)
        var got: [SocketAddress: [[UInt8]]] = [:]
        for (address, bytes) in Self.delivered(sent) { got[address, default: []].append(bytes) }
        #expect(got == expected)
        // One run is open at a time, so a change of destination ends it: a [100], b [100],
        // a [100, 60] (a shorter datagram ends a run), a [100], b [100], b [120] (longer than the
        // segment), a [30].
        #expect(sent.map(\.data.readableBytes) == [100, 100, 160, 100, 100, 120, 30])
        #expect(sent.filter { $0.metadata?.segmentSize == 100 }.count == 1)
    }

    /// A datagram for several destinations is written into the run once and goes to each of
    /// them from the same bytes.
    @Test func oneRunServesEveryDestination() {
        var batcher = SegmentBatcher(allocator: ByteBufferAllocator())
        var sent: [AddressedEnvelope<ByteBuffer>] = []
        for index in 0..<5 { batcher.add(Self.datagram(100, UInt8(index)), to: [Self.a, Self.b]) { sent.append($0) } }
        batcher.drain { sent.append($0) }
        #expect(sent.map(\.remoteAddress) == [Self.a, Self.b])
        #expect(sent.allSatisfy { $0.metadata?.segmentSize == 100 && $0.data.readableBytes == 500 })
        #expect(sent[0].data == sent[1].data)
        let delivered = Self.delivered(sent)
        #expect(delivered.count == 10)
        #expect(delivered.filter { $0.0 == Self.b }.map { $0.1.first } == [0, 1, 2, 3, 4])
    }

    @Test func runsStopAtTheSegmentAndByteLimits() {
        var batcher = SegmentBatcher(allocator: ByteBufferAllocator())
        var sent: [AddressedEnvelope<ByteBuffer>] = []
        for index in 0..<(SegmentBatcher.maxSegments + 1) {
            batcher.add(Self.datagram(10, UInt8(index)), to: [Self.a]) { sent.append($0) }
        }
        batcher.drain { sent.append($0) }
        #expect(sent.map(\.data.readableBytes) == [10 * SegmentBatcher.maxSegments, 10])
        sent = []
        let large = SegmentBatcher.maxBytes / 2 + 1
        for index in 0..<3 { batcher.add(Self.datagram(large, UInt8(index)), to: [Self.a]) { sent.append($0) } }
        batcher.drain { sent.append($0) }
        #expect(sent.map(\.data.readableBytes) == [large, large, large])
        #expect(sent.allSatisfy { $0.metadata == nil })
    }

    /// After the kernel refused a run, open runs leave as plain datagrams, in order.
    @Test func unsegmentedDrainSplitsRuns() {
        var batcher = SegmentBatcher(allocator: ByteBufferAllocator())
        var sent: [AddressedEnvelope<ByteBuffer>] = []
        let sizes = [100, 100, 40]
        for (index, size) in sizes.enumerated() {
            batcher.add(Self.datagram(size, UInt8(index)), to: [Self.a]) { sent.append($0) }
        }
        batcher.drain(segmented: false) { sent.append($0) }
        #expect(sent.map(\.data.readableBytes) == sizes)
        #expect(sent.allSatisfy { $0.metadata == nil })
        #expect(sent.map { $0.data.readableBytesView.first } == [0, 1, 2])
    }

    @Test func aLoneDatagramGoesOutAsItIs() {
        var batcher = SegmentBatcher(allocator: ByteBufferAllocator())
        var sent: [AddressedEnvelope<ByteBuffer>] = []
        let datagram = Self.datagram(50, 7)
        batcher.add(datagram, to: [Self.a]) { sent.append($0) }
        batcher.drain { sent.append($0) }
        #expect(sent.count == 1)
        #expect(sent[0].metadata == nil)
        #expect(sent[0].data == datagram)
    }
}

/// The route MTU check that decides whether segmentation offload is safe.
@Suite struct PathMTUTests {
    @Test func loopbackRouteTakesFullDatagrams() throws {
        let loopback = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        #if os(Linux)
        let mtu = try #require(PathMTU.toward(loopback))
        #expect(mtu >= 1500)
        #expect(PathMTU.fits(1472, toward: [loopback]))
        #expect(!PathMTU.fits(mtu, toward: [loopback]), "a datagram plus its 28 header bytes must fit the MTU")
        #endif
        #expect(PathMTU.headerBytes(for: loopback) == 28)
        #expect(PathMTU.headerBytes(for: try SocketAddress(ipAddress: "::1", port: 9)) == 48)
    }
}
