import ChorusWire
import NIOCore

/// Time as a value: nanoseconds on the driver's clock (virtual in the simulator, monotonic in the daemon).
public typealias Instant = UInt64
/// Nanoseconds.
public typealias Duration64 = UInt64

/// The timers a ring asks its driver to run. At most one of each kind is armed at a time;
/// arming one again replaces it. The ring ignores a firing it no longer expects.
public enum RingTimer: Int, Sendable, CaseIterable {
    /// No token seen for too long: the ring is broken, start membership.
    case tokenLoss = 0
    /// The token (or commit token) we passed may have been lost: send it again.
    case tokenRetransmit
    /// Gather: resend our join message.
    case joinRetransmit
    /// Gather: give up waiting for silent daemons and mark them failed.
    case consensus
    /// The representative of an idle ring holds the token this long before passing it.
    case idleHold
    /// The representative periodically probes daemons outside the ring so partitions merge.
    case mergeProbe
    /// The wide-area order layer's tick and resends (the engine's, not the ring's).
    case wideArea
}

/// Where a packet goes.
public enum Destination: Sendable, Equatable {
    /// One daemon.
    case node(NodeID)
    /// Every other member of the current ring (unicast fan-out or IP multicast).
    case members([NodeID])
    /// Every other daemon configured for the site, member or not.
    case site
}

/// A message delivered by the ring, in the order and configuration its service allows.
public struct RingDelivery: Sendable {
    public var ringID: RingID
    public var sender: NodeID
    public var service: Service
    public var payload: ByteBuffer
}

/// A configuration change, as extended virtual synchrony defines it.
public struct RingConfiguration: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case regular, transitional }
    public var kind: Kind
    /// For a transitional configuration: the regular configuration it leads to.
    public var ringID: RingID
    /// Sorted. For a transitional configuration: the members that move together from the old ring.
    public var members: [NodeID]
    public init(kind: Kind, ringID: RingID, members: [NodeID]) {
        self.kind = kind
        self.ringID = ringID
        self.members = members
    }
}

/// What the ring asks its driver to do, in order.
public enum RingAction: Sendable {
    case send(Packet, to: Destination)
    /// Arm `timer` to fire at `deadline`, replacing any earlier arming of it.
    case setTimer(RingTimer, deadline: Instant)
    case deliver(RingDelivery)
    case configuration(RingConfiguration)
}
