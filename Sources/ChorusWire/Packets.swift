import NIOCore

/// Every datagram exchanged by the daemons of one site.
///
/// Wire layout (all integers big endian), see `PacketCodec`:
/// `magic u16 | version u8 | type u8 | length u32 (of the body) | body | crc32c u32 (of everything before it)`.
public enum Packet: Sendable, Equatable {
    case data(DataPacket)
    case token(Token)
    case join(JoinMessage)
    case commit(CommitToken)
    /// A daemon leaving gracefully: the others re-form the ring at once instead of timing out.
    case leave(LeaveMessage)
    /// A daemon with a new message asks the token holder of an idle ring to pass the token at once.
    case wake(WakeMessage)
    /// The member that confirmed a rotation's stability tells the others at once, so they deliver
    /// safe messages now rather than when the token next reaches them.
    case stable(StableMessage)
}

/// How a data packet's body relates to client messages.
public enum FragmentKind: UInt8, Sendable {
    /// The body holds `messageCount` whole messages, each prefixed by its u32 length.
    case packed = 0
    /// The body is the first piece of one large message; `totalLength` is its full size.
    case first = 1
    /// A piece in the middle of a large message.
    case middle = 2
    /// The last piece of a large message.
    case last = 3
}

/// A sequenced (or, for unreliable service, unsequenced) packet of client messages.
public struct DataPacket: Sendable, Equatable {
    public var ringID: RingID
    public var sender: NodeID
    /// Position in the ring's total order; 0 for unreliable packets, which are never sequenced.
    public var seq: UInt64
    /// Counts this sender's sequenced packets on this ring, from 1; fifo delivery follows it.
    public var senderIndex: UInt64
    /// For a causal packet, its causal horizon: every packet it may causally follow (that its
    /// sender had delivered when it was sequenced) has a seq at or below this, so a receiver that
    /// has passed that far may deliver it before the packets in between. 0 for other services.
    public var causalPast: UInt64
    public var service: Service
    public var fragment: FragmentKind
    /// True when the body is an encoded packet of an old ring, re-sent during membership recovery.
    public var isRecovery: Bool
    /// Sent by its sender while it held the idle token: nobody else was sending, so a gap below
    /// it is a loss (a member that sees one wakes the sender, the token's holder).
    public var sentWhileHolding: Bool
    /// Number of length-prefixed messages in `body` when `fragment == .packed`, else 1.
    public var messageCount: UInt16
    /// For `.first`: the size of the whole message. Otherwise 0.
    public var totalLength: UInt32
    public var body: ByteBuffer

    public init(
        ringID: RingID, sender: NodeID, seq: UInt64, senderIndex: UInt64, causalPast: UInt64 = 0, service: Service,
        fragment: FragmentKind, isRecovery: Bool = false, sentWhileHolding: Bool = false, messageCount: UInt16,
        totalLength: UInt32 = 0, body: ByteBuffer
    ) {
        self.ringID = ringID
        self.sender = sender
        self.seq = seq
        self.senderIndex = senderIndex
        self.causalPast = causalPast
        self.service = service
        self.fragment = fragment
        self.isRecovery = isRecovery
        self.sentWhileHolding = sentWhileHolding
        self.messageCount = messageCount
        self.totalLength = totalLength
        self.body = body
    }
}

/// The token that circulates around the ring.
public struct Token: Sendable, Equatable {
    public var ringID: RingID
    /// Increases on every pass; a daemon drops a token whose `tokenSeq` it has already seen.
    public var tokenSeq: UInt64
    /// Highest sequence number assigned on this ring.
    public var seq: UInt64
    /// All-received-upto: every daemon has every packet up to here (as far as the token knows).
    public var aru: UInt64
    /// The daemon that last lowered `aru`, or `nil`.
    public var aruID: NodeID?
    /// Packets somebody is missing; the holder resends those it has.
    public var retransmitRequests: [UInt64]
    /// Flow control: packets sent during the last rotation.
    public var fcc: UInt32
    /// Flow control: packets waiting at the daemons, summed over the last rotation.
    public var backlog: UInt32
    /// Full rotations with nothing new; the representative holds an idle token instead of spinning it.
    public var idleRotations: UInt32
    /// During recovery: how many members still have old-ring packets to resend. 0 when operational.
    public var recoveryPending: UInt32
    /// The seq of the last packet on this ring that carried a barrier message (the group layer's
    /// membership messages), or 0. Causal packets sequenced after it carry at least this seq in
    /// `causalPast`, so every daemon delivers them after it.
    public var barrierSeq: UInt64
    /// The daemon that last set `aru` (raised or lowered it, or sequenced past it), or `nil`.
    /// Each daemon after it that leaves `aru` alone holds every packet up to it; when the token
    /// reaches the daemon before the setter, every member does.
    public var aruSetter: NodeID?
    /// Every member holds every packet up to here: the last `aru` a whole pass of the token
    /// confirmed (see `aruSetter`). At most `aru`.
    public var stableSeq: UInt64

    public init(
        ringID: RingID, tokenSeq: UInt64, seq: UInt64, aru: UInt64, aruID: NodeID?, retransmitRequests: [UInt64],
        fcc: UInt32, backlog: UInt32, idleRotations: UInt32, recoveryPending: UInt32, barrierSeq: UInt64,
        aruSetter: NodeID? = nil, stableSeq: UInt64 = 0
    ) {
        self.ringID = ringID
        self.tokenSeq = tokenSeq
        self.seq = seq
        self.aru = aru
        self.aruID = aruID
        self.retransmitRequests = retransmitRequests
        self.fcc = fcc
        self.backlog = backlog
        self.idleRotations = idleRotations
        self.recoveryPending = recoveryPending
        self.barrierSeq = barrierSeq
        self.aruSetter = aruSetter
        self.stableSeq = stableSeq
    }
}

/// Membership gather: who the sender believes is alive (`procSet`) and failed (`failSet`).
public struct JoinMessage: Sendable, Equatable {
    public var sender: NodeID
    /// The sender's current (or last) ring.
    public var ringID: RingID
    /// The highest ring seq the sender has ever known; the next ring's seq is above every member's.
    public var maxRingSeq: UInt64
    /// Sorted, no duplicates.
    public var procSet: [NodeID]
    /// Sorted, no duplicates.
    public var failSet: [NodeID]

    public init(sender: NodeID, ringID: RingID, maxRingSeq: UInt64, procSet: [NodeID], failSet: [NodeID]) {
        self.sender = sender
        self.ringID = ringID
        self.maxRingSeq = maxRingSeq
        self.procSet = procSet
        self.failSet = failSet
    }
}

/// What one member reports about its old ring in the commit token.
public struct CommitMemberInfo: Sendable, Equatable {
    public var oldRingID: RingID
    /// Every old-ring packet up to here was received by this member.
    public var myAru: UInt64
    /// Highest old-ring seq this member holds.
    public var highSeq: UInt64
    /// Highest old-ring seq this member knows every old-ring member held (safe-deliverable).
    public var stableSeq: UInt64
    /// False until the member has filled its entry.
    public var filled: Bool
    /// Old-ring senders (ascending) whose packets after a gap this member must still deliver: an
    /// earlier recovery of the same old ring, which another member may have finished, delivered
    /// theirs. Empty unless this member left such a recovery before installing.
    public var committedSenders: [NodeID]

    public init(
        oldRingID: RingID, myAru: UInt64, highSeq: UInt64, stableSeq: UInt64, filled: Bool,
        committedSenders: [NodeID] = []
    ) {
        self.oldRingID = oldRingID
        self.myAru = myAru
        self.highSeq = highSeq
        self.stableSeq = stableSeq
        self.filled = filled
        self.committedSenders = committedSenders
    }

    public static let empty = CommitMemberInfo(oldRingID: .none, myAru: 0, highSeq: 0, stableSeq: 0, filled: false)
}

/// The commit token: sent by the new ring's representative, it circulates twice; the first
/// rotation collects every member's old-ring state, the second moves every member into recovery.
public struct CommitToken: Sendable, Equatable {
    public var ringID: RingID
    /// The new ring's members in ring order (sorted by id).
    public var members: [NodeID]
    /// One entry per member, same order as `members`.
    public var memberInfo: [CommitMemberInfo]
    /// 1 while collecting, 2 on the second rotation.
    public var rotation: UInt8
    /// Index in `members` of the intended receiver.
    public var position: UInt16

    public init(ringID: RingID, members: [NodeID], memberInfo: [CommitMemberInfo], rotation: UInt8, position: UInt16) {
        self.ringID = ringID
        self.members = members
        self.memberInfo = memberInfo
        self.rotation = rotation
        self.position = position
    }
}

public struct LeaveMessage: Sendable, Equatable {
    public var sender: NodeID
    public var ringID: RingID
    public init(sender: NodeID, ringID: RingID) {
        self.sender = sender
        self.ringID = ringID
    }
}

public struct WakeMessage: Sendable, Equatable {
    public var sender: NodeID
    public var ringID: RingID
    public init(sender: NodeID, ringID: RingID) {
        self.sender = sender
        self.ringID = ringID
    }
}

/// A member's report on safe delivery: it holds every packet of `ringID` up to `aru`, and knows
/// every member holds every packet up to `stableSeq` (confirmed from the token, see
/// `Token.stableSeq`, or from every member's report). `stableSeq <= aru`.
public struct StableMessage: Sendable, Equatable {
    public var sender: NodeID
    public var ringID: RingID
    public var aru: UInt64
    public var stableSeq: UInt64
    public init(sender: NodeID, ringID: RingID, aru: UInt64, stableSeq: UInt64) {
        self.sender = sender
        self.ringID = ringID
        self.aru = aru
        self.stableSeq = stableSeq
    }
}
