import ChorusWire
import NIOCore

/// Gathers the datagrams written during one input batch into runs that the kernel cuts apart
/// again (UDP generic segmentation offload, `UDP_SEGMENT`): one trip through the network stack
/// carries up to `maxSegments` datagrams, and a receiver with `UDP_GRO` gets the run in one read
/// as well. A single datagram goes out as it is.
///
/// A run holds the datagrams for one set of destinations, encoded straight into its buffer, and
/// goes to each destination from that one buffer: a packet for every other daemon is encoded
/// once and copied nowhere else. Only one run is open at a time, so the datagrams to each
/// destination leave in the order they were added.
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
        var addresses: [SocketAddress]
        /// Every datagram of the run, back to back.
        var buffer: ByteBuffer
        var segment: Int
        var count: Int
        /// A datagram shorter than `segment` ended the run.
        var closed: Bool
    }

    private var run: Run?
    private let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) { self.allocator = allocator }

    var isEmpty: Bool { run == nil }

    /// Adds a datagram of `size` bytes for `addresses`, written into the run by `write`; a run
    /// it cannot join is handed to `emit` first.
    mutating func add(
        size: Int, to addresses: [SocketAddress], emit: (AddressedEnvelope<ByteBuffer>) -> Void,
        write: (inout ByteBuffer) -> Void
    ) {
        if var open = run.take() {
            if !open.closed, size <= open.segment, open.count < Self.maxSegments,
                open.buffer.readableBytes + size <= Self.maxBytes, open.addresses == addresses
            {
                write(&open.buffer)
                open.count += 1
                open.closed = size < open.segment
                run = open
                return
            }
            Self.emit(open, emit)
        }
        var buffer = allocator.buffer(capacity: min(Self.maxBytes, max(size, 1) * Self.maxSegments))
        write(&buffer)
        run = Run(addresses: addresses, buffer: buffer, segment: size, count: 1, closed: false)
    }

    /// Adds an encoded datagram (see `add(size:to:emit:write:)`).
    mutating func add(
        _ datagram: ByteBuffer, to addresses: [SocketAddress], emit: (AddressedEnvelope<ByteBuffer>) -> Void
    ) {
        add(size: datagram.readableBytes, to: addresses, emit: emit) { $0.writeImmutableBuffer(datagram) }
    }

    /// Hands the open run to `emit` (at the end of an input batch, or before a token leaves);
    /// with `segmented` false, each of its datagrams on its own (once the kernel refused runs).
    mutating func drain(segmented: Bool = true, emit: (AddressedEnvelope<ByteBuffer>) -> Void) {
        guard let open = run.take() else { return }
        guard !segmented, open.count > 1 else { return Self.emit(open, emit) }
        for address in open.addresses {
            var datagrams = open.buffer
            while datagrams.readableBytes > 0 {
                let datagram = datagrams.readSlice(length: min(open.segment, datagrams.readableBytes))!
                emit(AddressedEnvelope(remoteAddress: address, data: datagram))
            }
        }
    }

    private static func emit(_ run: Run, _ emit: (AddressedEnvelope<ByteBuffer>) -> Void) {
        let metadata: AddressedEnvelope<ByteBuffer>.Metadata? =
            run.count > 1 ? .init(ecnState: .transportNotCapable, packetInfo: nil, segmentSize: run.segment) : nil
        for address in run.addresses {
            emit(AddressedEnvelope(remoteAddress: address, data: run.buffer, metadata: metadata))
        }
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
