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
    /// Whether the payload bytes kept follow the links instead (`OutboxBudget`): about twice the
    /// rate other sites take them at times the time they take, between
    /// `minUnacknowledgedBytes` and `maxUnacknowledgedBytes`. Off: always the maximum.
    public var paceByBandwidthDelay = true
    public var minUnacknowledgedBytes = 128 << 10
    /// Bytes per second this site's slowest wide-area link is configured for (0: unknown): the
    /// bound never assumes the links carry less.
    public var slowestLinkBytesPerSecond = 0
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
    /// How far past its latest promise a site numbers a change of its daemons (a `siteDaemons`
    /// item: a timestamp above the highest it promised plus this), so that every promise it made is also a
    /// lease: no change of its daemons will come below promise + lease in the order. A reliable
    /// or fifo message goes ahead of the order only under every other site's lease, so it falls
    /// on the same side of every daemon change at every daemon. Longer than the largest one-way
    /// delay plus a heartbeat interval, or such messages wait for the order. The same at every
    /// site (it is part of the protocol, not a local tuning).
    public var daemonChangeLease: Duration64 = 250_000_000
    /// Whether a site with no member in a message's groups gets a stand-in instead of its body
    /// (`SiteOrder+Pruning`). Off: every site gets every body.
    public var pruneBodies = true
    /// A site's joins of groups new to it that take the lease in one configuration, at most
    /// (each runs every clock up to a lease ahead): the next makes the site interested in every
    /// group until the configuration ends (no site prunes for it, so its joins need no lease).
    /// The same at every site (part of the protocol).
    public var maxInterestLeases = 8
    /// Groups kept per site: a site whose sessions joined more is interested in every group for
    /// as long as it runs (proposals and snapshots stay bounded). Part of the protocol.
    public var maxInterestGroups = 4096
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
        /// Group views admit a join of any session of a listed daemon, also one of an incarnation
        /// that crashed (its join numbered after the restart adds a session that is gone).
        public var sessionsOfEarlierIncarnations = false
        /// The representative acts across sites on what only it may hold: ticks are agreed, not
        /// safe, and what it sends goes out at once, not once every member of its ring holds the
        /// cause (a crash that loses its last ring packets leaves other sites with messages and
        /// promises no survivor of its site knows).
        public var actOnUnstableDeliveries = false
        /// Reliable and fifo messages go ahead of the order at once (behind only their origin's
        /// earlier messages), and a site numbers its daemon changes without the lease: one may
        /// fall before a daemon change of another site at one daemon and after it at another.
        public var fifoAheadOfDaemonChanges = false
        /// A site numbers a join of a group new to it without the lease: another site may have
        /// pruned a message that comes after the join in the order, and its member lacks the body.
        public var interestsWithoutLease = false
        /// A site drops its interest in a group at any leave of it, also while other sessions of
        /// the site are still in it: others prune messages its members need.
        public var dropInterestsWithMembers = false
        public init() {}
    }

    public init() {}
}

