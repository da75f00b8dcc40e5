import ChorusWire
import NIOCore

/// One client message delivered by the ring, with the local sessions that receive it.
public struct GroupDelivery: Sendable, Equatable {
    public var data: ClientData
    /// The service the ring delivered it with.
    public var service: Service
    /// The ring it was delivered in.
    public var ringID: RingID
    /// The local sessions that get it, sorted, each once; empty when none of this daemon's
    /// sessions is addressed (the delivery is still reported, for daemon-level histories).
    public var recipients: [SessionID]
    /// With more than one site: the message's place in the order across sites.
    public var position: WideAreaPosition?
    /// A stand-in (`ClientData.isStandIn`) whose groups have sessions here: they do not get it
    /// (`recipients` is empty). Only where its site departed and no daemon moving on with this
    /// one held the body, so none of their sessions got it either.
    public var bodyWithheld = false

    public init(
        data: ClientData, service: Service, ringID: RingID, recipients: [SessionID], position: WideAreaPosition? = nil
    ) {
        self.data = data
        self.service = service
        self.ringID = ringID
        self.recipients = recipients
        self.position = position
    }
}

/// What the group layer asks its driver to do, in order.
public enum GroupAction: Sendable, Equatable {
    /// Hand this encoded `GroupMessage` to the ring with this service. `barrier` is set for
    /// membership messages (join, leave, disconnect, state); `first` for the state announcement,
    /// which goes ahead of everything queued: see `Ring.submit`.
    case submit(Service, ByteBuffer, barrier: Bool, first: Bool)
    /// A client message reached this point of the total order.
    case deliver(GroupDelivery)
    /// A group view (membership event) at this point of the total order.
    case view(GroupView)
    /// A delivered payload was not a valid `GroupMessage`; it was dropped and counted.
    case decodeError(String)
    /// A configuration of sites begins at this point of the delivered stream.
    case siteConfiguration(SiteConfigurationChange)
}
