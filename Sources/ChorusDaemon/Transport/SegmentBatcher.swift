import ChorusWire
import NIOCore

/// Gathers the datagrams written to each destination during one input batch into runs that the
/// kernel cuts apart again (UDP generic segmentation offload, `UDP_SEGMENT`): one trip through the
/// network stack carries up to `maxSegments` datagrams, and a receiver with `UDP_GRO` gets the run
/// in one read as well. Per-destination order is kept; a single datagram goes out as it is.
///
/// The kernel's rule for a run: every datagram has the run's segment size except the last, which
/// may be shorter. A datagram that does not fit the open run ends it and starts the next.
struct SegmentBatcher {
    /// Datagrams per run. The kernel's cap is 64, but before Linux 5.16 it counted the headers
    /// too, so a run of 64 full datagrams was refused.
    static let maxSegments = 63
    /// Bytes per run: the UDP payload limit, with room to spare.
    static let maxBytes = 65_000

    private struct Run {
        var address: SocketAddress
        /// The run's first datagram, sent as it is if nothing joins it.
        var first: ByteBuffer
        /// Every datagram of the run, copied together once a second one joins.
        var joined: ByteBuffer?
        var segment: Int
        var count: Int
        var bytes: Int
        /// A datagram shorter than `segment` ended the run.
        var closed: Bool
    }

    private var runs: [NodeID: Run] = [:]
    private let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) { self.allocator = allocator }

    var isEmpty: Bool { runs.isEmpty }

    /// Adds `datagram` for `node`; a run it cannot join is handed to `emit` first.
    mutating func add(
        _ datagram: ByteBuffer, to node: NodeID, address: SocketAddress,
        emit: (AddressedEnvelope<ByteBuffer>) -> Void
    ) {
        let size = datagram.readableBytes
        if var run = runs[node] {
            if !run.closed, size <= run.segment, run.count < Self.maxSegments, run.bytes + size <= Self.maxBytes {
                runs[node] = nil  // changed in place below, so the joined buffer is not copied
                if run.joined == nil {
                    var joined = allocator.buffer(capacity: min(Self.maxBytes, run.segment * Self.maxSegments))
                    joined.writeImmutableBuffer(run.first)
                    run.joined = joined
                }
                run.joined!.writeImmutableBuffer(datagram)
                run.count += 1
                run.bytes += size
                run.closed = size < run.segment
                runs[node] = run
                return
            }
            emit(Self.envelope(run))
        }
        runs[node] = Run(
            address: address, first: datagram, joined: nil, segment: size, count: 1, bytes: size, closed: false)
    }

    /// Hands every open run to `emit` (at the end of an input batch, or before a token leaves);
    /// with `segmented` false, each of its datagrams on its own (once the kernel refused runs).
    mutating func drain(segmented: Bool = true, emit: (AddressedEnvelope<ByteBuffer>) -> Void) {
        for run in runs.values {
            guard !segmented, var joined = run.joined else {
                emit(Self.envelope(run))
                continue
            }
            while joined.readableBytes > 0 {
                let datagram = joined.readSlice(length: min(run.segment, joined.readableBytes))!
                emit(AddressedEnvelope(remoteAddress: run.address, data: datagram))
            }
        }
        runs.removeAll(keepingCapacity: true)
    }

    private static func envelope(_ run: Run) -> AddressedEnvelope<ByteBuffer> {
        guard let joined = run.joined else { return AddressedEnvelope(remoteAddress: run.address, data: run.first) }
        return AddressedEnvelope(
            remoteAddress: run.address, data: joined,
            metadata: .init(ecnState: .transportNotCapable, packetInfo: nil, segmentSize: run.segment))
    }
}

/// Splits what a `UDP_GRO` socket read into the datagrams that were sent. The bytes are copied
/// into a buffer of their own first: the ring keeps packets as slices, and a slice of the large
/// receive buffer would keep all of it alive.
enum SegmentSplitter {
    static func split(
        _ envelope: AddressedEnvelope<ByteBuffer>, allocator: ByteBufferAllocator, _ body: (ByteBuffer) -> Void
    ) {
        var own = allocator.buffer(capacity: envelope.data.readableBytes)
        own.writeImmutableBuffer(envelope.data)
        guard let segment = envelope.metadata?.segmentSize, segment > 0, segment < own.readableBytes else {
            body(own)
            return
        }
        while own.readableBytes > 0 {
            body(own.readSlice(length: min(segment, own.readableBytes))!)
        }
    }
}
