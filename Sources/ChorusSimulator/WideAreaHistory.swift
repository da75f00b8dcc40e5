import ChorusCore
import ChorusWire

/// What the clients of a multi-site run saw, per daemon, and the checks of the promises across
/// sites. A pure value, so tests can break a history by hand and see the checks fail.
public struct WideAreaHistory: Sendable {
    /// A client message: its sender session and that session's seq.
    public struct MessageKey: Hashable, Sendable, CustomStringConvertible {
        public var sender: SessionID
        public var seq: UInt64
        public init(sender: SessionID, seq: UInt64) {
            self.sender = sender
            self.seq = seq
        }
        public var description: String { "\(sender.daemon).\(sender.local)#\(seq)" }
    }

    public struct Delivery: Sendable {
        public var message: MessageKey
        public var service: Service
        public var position: WideAreaPosition?
        public var time: Instant
        /// A stand-in whose groups had sessions at the daemon (`GroupDelivery.bodyWithheld`).
        public var bodyWithheld = false
        /// The body went to sessions of the daemon.
        public var toSessions = false
        public init(message: MessageKey, service: Service, position: WideAreaPosition?, time: Instant) {
            self.message = message
            self.service = service
            self.position = position
            self.time = time
        }
    }

    public struct Sent: Sendable {
        public var daemon: Int
        public var service: Service
        public var time: Instant
        /// The highest position among the causal, agreed and safe messages the sender's daemon had
        /// delivered when the message was sent (its causal past must come before it everywhere).
        public var causalPast: WideAreaPosition?
        public init(daemon: Int, service: Service, time: Instant, causalPast: WideAreaPosition?) {
            self.daemon = daemon
            self.service = service
            self.time = time
            self.causalPast = causalPast
        }
    }

    /// A configuration of sites a daemon installed, after its first `afterDeliveries` deliveries.
    public struct Change: Sendable {
        public var change: SiteConfigurationChange
        public var afterDeliveries: Int
        public var time: Instant
        public init(change: SiteConfigurationChange, afterDeliveries: Int, time: Instant = 0) {
            self.change = change
            self.afterDeliveries = afterDeliveries
            self.time = time
        }
    }

    /// A group view a daemon emitted, after its first `afterDeliveries` deliveries, while the last
    /// regular configuration of sites it had installed was `configuration`.
    public struct ViewRecord: Sendable {
        public var view: GroupView
        public var afterDeliveries: Int
        public var configuration: SiteConfigurationID?
        /// How many configurations of sites (`changes`) the daemon had installed before it.
        public var changesBefore: Int
        public var time: Instant
        public init(view: GroupView, afterDeliveries: Int, configuration: SiteConfigurationID?, changesBefore: Int, time: Instant = 0) {
            self.view = view
            self.afterDeliveries = afterDeliveries
            self.configuration = configuration
            self.changesBefore = changesBefore
            self.time = time
        }
    }

    /// Per daemon, in delivery order.
    public var deliveries: [[Delivery]]
    /// Per daemon, the group views it emitted, in order.
    public var views: [[ViewRecord]]
    /// Per group, the members every running daemon's last view must show at the end (nil: not
    /// checked; set when the run ends merged and quiet).
    public var expectedFinalMembers: [String: [SessionID]]?
    /// Per daemon, the configurations of sites it installed, in order (none: one configuration throughout).
    public var changes: [[Change]]
    public var sent: [MessageKey: Sent] = [:]
    /// Daemons still running at the end (crashed ones owe nothing after their crash).
    public var alive: [Bool]
    /// When each started (a restarted daemon is a new process): it owes the messages sent from
    /// `joinSettling` after it on (earlier ones it delivers if they were still waiting).
    public var joinedAt: [Instant]
    public static let joinSettling: Instant = 2_000_000_000
    /// Daemons showing the same two consecutive views of a group must deliver the same causal,
    /// agreed and safe messages between them (`checkViews`); this also checks reliable and fifo
    /// ones between consecutive network views (joins and leaves aside: reliable and fifo may fall
    /// on either side of them). The simulator sets it (`WideAreaSimulationConfig.strictViews`).
    public var checkEveryServiceBetweenViews = false
    /// Safe messages delivered while some running daemon did not yet hold them (found online).
    public var unsafeDeliveries: [String] = []

    public init(daemons: Int) {
        deliveries = Array(repeating: [], count: daemons)
        views = Array(repeating: [], count: daemons)
        changes = Array(repeating: [], count: daemons)
        alive = Array(repeating: true, count: daemons)
        joinedAt = Array(repeating: 0, count: daemons)
    }

    /// Every broken promise, at most `limit` of them, described.
    ///
    /// - No daemon delivers a message twice, or one nobody sent.
    /// - Configurations of sites: one id names one set of sites everywhere; a transitional
    ///   configuration holds the daemon's own site and only sites of the regular one it leads to.
    ///   Each message is delivered in one configuration wherever it is delivered.
    /// - Causal, agreed and safe messages: each has one position wherever it is delivered, and no
    ///   two share one; every daemon delivers them in increasing position within a configuration
    ///   (so any two deliver the ones they share in the same order); each after its causal past.
    /// - Fifo and above: each daemon delivers a sender's messages in the order they were sent.
    /// - Virtual synchrony: daemons that move from one configuration to the same next one (or end
    ///   the run in the same one) deliver the same messages in it; a crashed daemon delivers in
    ///   its last configuration what such a group did, in order, without a hole; a restarted one,
    ///   in its first, everything sent from `joinSettling` after its start.
    /// - Every message but unreliable ones sent by a daemon running at the end is delivered by it.
    /// - Safe: no daemon delivered one before every site of its configuration held it.
    /// - Pruning (`checkWithheldBodies`): no daemon withholds a message from its sessions (it got a
    ///   stand-in) where a daemon moving with it gives the body to its sessions.
    /// - Group views (`checkViews`): per daemon and group, ids increase and a transitional view
    ///   is followed by a regular one; one id (after one configuration) is one membership at every
    ///   daemon, at one place of the order; at the end, every running daemon shows the expected members.
    public func violations(limit: Int = 20) -> [String] {
        var found: [String] = []
        func fail(_ text: String) { if found.count < limit { found.append(text) } }
        var positions: [MessageKey: WideAreaPosition] = [:]
        let bySegment = deliveries.indices.map { self.segments(of: $0) }
        checkConfigurations(bySegment, fail)
        for (daemon, list) in deliveries.enumerated() {
            var seen: Set<MessageKey> = []
            var lastPosition: WideAreaPosition?
            var lastFifo: [SessionID: UInt64] = [:]
            // A new configuration, a new order (its transitional part continues the regular one's).
            let starts = Set(bySegment[daemon].filter { !$0.transitional }.map(\.range.lowerBound))
            for (index, delivery) in list.enumerated() {
                if starts.contains(index) { lastPosition = nil }  // a new configuration: a new order
                let key = delivery.message
                guard seen.insert(key).inserted else {
                    fail("daemon \(daemon) delivered \(key) twice")
                    continue
                }
                guard let sent = sent[key] else {
                    fail("daemon \(daemon) delivered \(key), which was never sent")
                    continue
                }
                if delivery.service != sent.service {
                    fail("daemon \(daemon) delivered \(key) as \(delivery.service), sent as \(sent.service)")
                }
                if delivery.service >= .fifo {
                    if let last = lastFifo[key.sender], last >= key.seq {
                        fail("daemon \(daemon) delivered \(key) after seq \(last) of the same sender (fifo)")
                    }
                    lastFifo[key.sender] = key.seq
                }
                guard delivery.service >= .causal else { continue }
                guard let position = delivery.position else {
                    fail("daemon \(daemon) delivered \(key) without a place in the order across sites")
                    continue
                }
                if let known = positions[key], known != position {
                    fail("\(key) is at \(known) at one daemon and at \(position) at daemon \(daemon)")
                }
                positions[key] = position
                if let lastPosition, !(lastPosition < position) {
                    fail("daemon \(daemon) delivered \(key) at \(position) after \(lastPosition): not one total order")
                }
                lastPosition = position
                if let past = sent.causalPast, !(past < position) {
                    fail("\(key) at \(position) does not come after its causal past \(past)")
                }
            }
        }
        var keys: [WideAreaPosition: MessageKey] = [:]
        for (key, position) in positions {
            if let other = keys[position], other != key {
                fail("\(key) and \(other) are both at \(position)")
            }
            keys[position] = key
        }
        checkVirtualSynchrony(bySegment, fail)
        checkWithheldBodies(bySegment, fail)
        checkViews(fail)
        for (daemon, list) in deliveries.enumerated() where alive[daemon] {
            let have = Set(list.map(\.message))
            let owedFrom = joinedAt[daemon] == 0 ? 0 : joinedAt[daemon] + Self.joinSettling
            for (key, sent) in sent where sent.daemon == daemon && sent.service > .unreliable && sent.time >= owedFrom {
                if !have.contains(key) { fail("daemon \(daemon) never delivered its own \(key) (\(sent.service))") }
            }
        }
        for text in unsafeDeliveries { fail(text) }
        return found
    }
}
