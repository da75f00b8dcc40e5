/// What the wide-area service counts (shown by `chorus status`).
public struct WideAreaCounters: Sendable, Codable, Equatable {
    public var datagramsReceived = 0
    public var datagramsSent = 0
    public var badDatagrams = 0
    /// Hop datagrams that reached this daemon while it was not its site's representative.
    public var notRepresentative = 0
    /// Routed messages (data and heartbeats of other sites) this daemon's router delivered.
    public var messagesDelivered = 0
    public init() {}
}

/// What the order layer counts (bad or surprising input, and its own work).
public struct SiteOrderCounters: Sendable, Equatable, Codable {
    /// Ring payloads or routed bodies that are not valid wide-area messages.
    public var malformed = 0
    /// Messages naming this site as origin from elsewhere, or an unknown site.
    public var foreign = 0
    /// Data already taken (a resend, or two representatives bringing in the same message).
    public var duplicates = 0
    /// Data past a gap in the ring's stream (a representative's mistake; never taken).
    public var gaps = 0
    /// Data whose timestamp is not above its origin's promise (never taken: it would break the order).
    public var staleTimestamps = 0
    /// Heartbeats ahead of their origin's data in the ring's stream (ignored).
    public var earlyHeartbeats = 0
    /// Timestamps too far ahead (refused by the representative) or beyond any clock (refused by all).
    public var implausibleTimestamps = 0
    /// Data from another site that is not a client message (taken in its place, not delivered).
    public var notClientData = 0
    /// Routed messages arriving at a daemon that does not represent its site.
    public var notRepresentative = 0
    /// Routed data dropped because too much waited behind a gap.
    public var overflowed = 0
    /// This site's messages sent to the others, and sent again.
    public var originated = 0
    public var resent = 0
    /// Messages from other sites brought into the ring by this daemon.
    public var injected = 0
    /// Data or heartbeats of another configuration than this daemon's (dropped; newer data the
    /// representative keeps until it installs that configuration).
    public var otherConfiguration = 0
    /// Data past where its origin's stream ends in the configuration being closed.
    public var beyondCut = 0
    /// Installs that no longer apply here (a later proposal replaced the one they used).
    public var staleInstalls = 0
    /// Agreements given up (a site stopped answering, or the reachable sites changed) and begun again.
    public var abandonedAgreements = 0
    /// Regular configurations of sites installed.
    public var configurations = 0
    /// Stand-ins this daemon sent in place of bodies (one per site), and the payload bytes they
    /// left out; other sites' messages taken here as stand-ins.
    public var standInsSent = 0
    public var bytesSpared = 0
    public var standInsTaken = 0
    /// Groups this site's sessions left entirely (`interestsDropped` items numbered).
    public var interestsDropped = 0
    /// Pruned data of a departing site not taken while agreeing, or not in the form the members
    /// moving on hold it (`SiteOrder.prunedFormAgreed`).
    public var prunedWhileAgreeing = 0
    public init() {}
}
