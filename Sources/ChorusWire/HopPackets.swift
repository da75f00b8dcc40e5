import NIOCore

/// A datagram of the hop protocol: one link between the representatives of two sites.
///
/// Wire layout (integers big endian; framing as `WireFrame`, magic `HopPacketCodec.magic`):
/// `header | data: seq u64 | payload` or `header | control: highestSent u64 | count u16 | (first u64, last u64) * count`.
public struct HopPacket: Sendable, Equatable {
    public var header: HopHeader
    public var body: Body

    public enum Body: Sendable, Equatable {
        /// One payload of the link's stream, numbered by `seq` (from 1, per sender incarnation).
        case data(seq: UInt64, payload: ByteBuffer)
        /// Acknowledgement, liveness and loss report: sent alone when no data carries them.
        case control(HopControl)
    }

    public init(header: HopHeader, body: Body) {
        self.header = header
        self.body = body
    }
}

/// What every hop packet carries: who sends to whom, which incarnation of each end, a timestamp
/// for the round-trip estimate, and the cumulative acknowledgement of the reverse stream.
public struct HopHeader: Sendable, Equatable {
    public var from: SiteID
    public var to: SiteID
    /// The sender's link incarnation: it changes whenever the sender's link state starts afresh
    /// (a restart, a new representative), and numbering starts again from 1.
    public var senderIncarnation: UInt64
    /// The receiver's incarnation as the sender knows it (0: it has not heard from it yet).
    public var receiverIncarnation: UInt64
    /// The sender's clock (ns) when it sent this packet.
    public var sentAt: UInt64
    /// The newest `sentAt` the sender has heard from the receiver (0: none), and how long ago
    /// (µs) it heard it: the receiver's round-trip sample is its clock now − `echo` − `echoDelay`.
    public var echo: UInt64
    public var echoDelay: UInt32
    /// Every seq of the receiver's stream up to here has arrived.
    public var ack: UInt64

    public init(
        from: SiteID, to: SiteID, senderIncarnation: UInt64, receiverIncarnation: UInt64, sentAt: UInt64,
        echo: UInt64 = 0, echoDelay: UInt32 = 0, ack: UInt64 = 0
    ) {
        self.from = from
        self.to = to
        self.senderIncarnation = senderIncarnation
        self.receiverIncarnation = receiverIncarnation
        self.sentAt = sentAt
        self.echo = echo
        self.echoDelay = echoDelay
        self.ack = ack
    }
}

/// A control packet's body.
public struct HopControl: Sendable, Equatable {
    /// The highest seq the sender has sent, so the receiver learns of a loss at the stream's tail.
    public var highestSent: UInt64
    /// Seqs the sender of this packet is missing from the receiver's stream, as inclusive ranges,
    /// ascending and apart (each starts at least two above the previous one's end), all above
    /// `HopHeader.ack`. At most `WireLimits.maxHopMissingRanges`.
    public var missing: [ClosedRange<UInt64>]

    public init(highestSent: UInt64, missing: [ClosedRange<UInt64>] = []) {
        self.highestSent = highestSent
        self.missing = missing
    }
}
