/// Tuning of the wide-area order layer (`SiteOrder`).
public struct SiteOrderOptions: Sendable, Equatable {
    /// How often the representative ticks its site's clock and sends a heartbeat: the longest an
    /// idle site makes the others wait, on top of the one-way delay.
    public var heartbeatInterval: Duration64 = 10_000_000
    /// A message of this site that some other site has not taken this long is sent again (end to
    /// end: hop links repair losses, this repairs what a failed representative or a route
    /// change dropped).
    public var resendAfter: Duration64 = 1_000_000_000
    /// Messages per origin the representative keeps ahead of a gap; beyond, it drops them (the
    /// origin sends them again).
    public var maxBuffered = 65_536
    /// This site's messages kept for other sites, at most: beyond, clients are told the daemon
    /// is busy (a site cut off for long holds them all).
    public var maxUnacknowledged = 20_000
    /// And their payload bytes, at most.
    public var maxUnacknowledgedBytes = 8 << 20
    /// Messages the representative sends again per timer round (every heartbeat interval), at
    /// most: a slow link must not be buried under resends of what it still carries.
    public var maxResendsPerRound = 256
    /// A representative refuses data and heartbeats from other sites whose timestamps are more
    /// than this ahead of its own clock (a forged or broken one would otherwise pin the order).
    public var maxTimestampLead: Duration64 = 60_000_000_000
    /// A new representative proposes to leave sites behind only this long after it took over
    /// (its router needs the time to bring its links up); merges it proposes at once.
    public var reachabilitySettle: Duration64 = 1_500_000_000
    /// A site the router no longer reaches is left behind only once it has stayed unreachable
    /// this long: a representative that fails over (its successor's router comes up within about
    /// a second) does not split the configuration.
    public var departureGrace: Duration64 = 1_500_000_000
    /// Proposals and what a departed site's messages a site lacks are sent again this often
    /// while a configuration is being agreed.
    public var reconfigurationResend: Duration64 = 250_000_000
    /// A site that has not installed the configuration it proposed (or finished its old one)
    /// within this proposes again.
    public var agreementTimeout: Duration64 = 3_000_000_000
    /// Added to the driver's clock for tick stamps. The daemon passes wall clock minus its
    /// monotonic clock, so stamps of different hosts compare; the simulator models skew with it.
    public var stampOffset: UInt64 = 0
    /// Rules broken on purpose, only so tests can show the checkers catch it.
    public var brokenRules = BrokenRules()

    public struct BrokenRules: Sendable, Equatable {
        /// Agreed messages go out without waiting for every site's promise (no total order).
        public var promises = false
        /// Safe messages go out without waiting for every site to hold them.
        public var stability = false
        /// A departed site's messages end, where a configuration ends, at the least any member
        /// moving on had taken (not the most): the others drop what they took beyond it.
        public var cutAtMinimum = false
        /// Group views ignore other sites' daemon changes after their first list in a
        /// configuration: a remote daemon that crashed stays in the views.
        public var viewsIgnoreOtherSites = false
        public init() {}
    }

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
    public init() {}
}
