#if canImport(Glibc)
import Glibc
#endif
import ChorusCore
import ChorusWire
import NIOCore

/// Sites of whole daemons in virtual time: each site's engines run their ring over a simulated
/// LAN; the daemon that represents a site runs its `SiteRouter` over `WideAreaChannel`s to the
/// other sites' representatives. Clients on every daemon send to one group with mixed services;
/// the run records what every daemon delivered and checks the promises across sites
/// (`WideAreaHistory.violations`). Every random choice comes from `config.seed`.
public struct WideAreaSimulation {
    public let config: WideAreaSimulationConfig
    public private(set) var history: WideAreaHistory
    public private(set) var report: WideAreaSimulationReport
    var random: SimRandom
    var queue = EventQueue<Event>()
    var now: Instant = 0
    public private(set) var engines: [Engine] = []
    var alive: [Bool]
    /// Per daemon: its slot in `history` (a restarted daemon is a new process with a new slot).
    var slot: [Int]
    /// Per daemon: its incarnation (1 at first; session locals follow it, so message keys stay unique).
    var incarnation: [UInt32]
    /// Per daemon, when it last crashed (see `crashLosesLastPackets`).
    var lastCrash: [Instant?]
    let siteIDs: [SiteID]
    var sessions: [SessionID?]
    /// Sessions that joined `sparseGroup`.
    var sparseMembers: Set<SessionID> = []
    var deadlines: [[Instant?]]
    /// Per site: its router and the daemon running it.
    var routers: [SiteRouter?]
    var routerHost: [Int?]
    var routerTick: [Instant?]
    var lastTopology: [SiteTopology?]
    /// Per site: its order options (each site's clock offset).
    var siteOptions: [SiteOrderOptions] = []
    var channels: [SiteLink: [SiteID: WideAreaChannel]] = [:]
    let links: [(Int, Int)]
    /// Per daemon: the sites of the configuration it delivers in (the transitional one's, in its part).
    var deliveringIn: [[SiteID]]
    /// Per daemon: the last regular configuration of sites it installed.
    public private(set) var finalConfiguration: [SiteConfigurationChange?]
    /// Per daemon: the highest position of the causal and stronger messages it delivered.
    var causalPast: [WideAreaPosition?]
    /// Per daemon: deliveries in the throughput window (from a second into the traffic to its end).
    var windowDeliveries: [Int]
    /// Per daemon, with `oneStretchedRing`: causal and stronger deliveries so far.
    var ringOrderCount: [UInt64]
    let trafficStart: Instant
    let trafficEnd: Instant
    let endTime: Instant
    static let group = "g"
    /// The group of `WideAreaSimulationConfig.sparseGroup`.
    static let sparseGroup = "h"
    /// How long before the end every daemon's last configuration of sites must have come for the
    /// final views to be checked (the exchange of sessions after a merge takes a round trip or two).
    static let viewsSettle: Instant = 1_500_000_000
    /// Debugging: every causal, agreed and safe delivery printed (CHORUS_TRACE_DELIVERIES set).
    let traceDeliveries = getenv("CHORUS_TRACE_DELIVERIES") != nil

    enum Event {
        /// A ring datagram for daemon `to`, sent by daemon `from` at `sentAt`.
        case packet(Int, Packet, from: Int, sentAt: Instant)
        case timer(Int, RingTimer)
        case hop(Int, ByteBuffer)
        case routerTick(Int)
        case traffic(Int)
        case cut(Int)
        case heal(Int)
        case crashRepresentative
        case boot(Int)
        case crashForRestart
        case restart(Int)
        /// Every link of a site cut (a site partitioned off), and healed.
        case isolate(Int)
        case isolateFor([Int], seconds: Double)
        case rejoin([Int])
        /// A session that left the group joins it again.
        case joinAgain(Int, SessionID)
        /// `burstJoins`: a session of daemon `Int` joins that many new groups at once.
        case burstJoins(Int)
    }

    public init(config: WideAreaSimulationConfig) {
        precondition(config.sites >= 1 && config.daemonsPerSite >= 1, "at least one site of one daemon")
        self.config = config
        random = SimRandom(seed: config.seed)
        let count = config.sites * config.daemonsPerSite
        history = WideAreaHistory(daemons: count)
        report = WideAreaSimulationReport(seed: config.seed, sites: config.sites, daemonsPerSite: config.daemonsPerSite)
        alive = Array(repeating: false, count: count)
        slot = Array(0..<count)
        incarnation = Array(repeating: 1, count: count)
        lastCrash = Array(repeating: nil, count: count)
        siteIDs = (0..<config.sites).map { SiteID(UInt32($0 + 1)) }
        sessions = Array(repeating: nil, count: count)
        deadlines = Array(repeating: Array(repeating: nil, count: RingTimer.allCases.count), count: count)
        routers = Array(repeating: nil, count: config.sites)
        routerHost = Array(repeating: nil, count: config.sites)
        routerTick = Array(repeating: nil, count: config.sites)
        lastTopology = Array(repeating: nil, count: config.sites)
        causalPast = Array(repeating: nil, count: count)
        deliveringIn = Array(repeating: [], count: count)
        finalConfiguration = Array(repeating: nil, count: count)
        windowDeliveries = Array(repeating: 0, count: count)
        ringOrderCount = Array(repeating: 0, count: count)
        links = config.resolvedLinks
        trafficStart = Simulation.nanos(config.warmup)
        trafficEnd = Simulation.nanos(max(config.warmup, config.duration - config.quiescence))
        endTime = Simulation.nanos(config.duration)
        var siteOptions: [SiteOrderOptions] = []
        for site in 0..<config.sites {
            let members = config.oneStretchedRing ? (0..<count).map(nodeID) : daemons(of: site).map(nodeID)
            var ringOptions = config.ringOptions
            // A stretched ring's causal messages in its one order too, so the order checks apply.
            if config.oneStretchedRing { ringOptions.earlyDelivery = false }
            var options = config.orderOptions
            options.slowestLinkBytesPerSecond = Int(clamping: config.impairment.bandwidth)
            options.stampOffset = config.clockSkew > 0 ? UInt64(random.int(below: Int(config.clockSkew) + 1)) : 0
            siteOptions.append(options)
            for daemon in daemons(of: site) {
                let order = config.sites > 1 && !config.oneStretchedRing ? SiteOrder(me: nodeID(daemon), site: siteID(site), sites: siteIDs, siteSize: config.daemonsPerSite, options: options) : nil
                engines.append(Engine(me: nodeID(daemon), site: members, ringOptions: ringOptions, wideArea: order))
            }
        }
        self.siteOptions = siteOptions
        for (a, b) in links {
            channels[SiteLink(siteID(a), siteID(b))] = [siteID(a): WideAreaChannel(config.impairment), siteID(b): WideAreaChannel(config.impairment)]
        }
    }

    func siteID(_ site: Int) -> SiteID { SiteID(UInt32(site + 1)) }
    func nodeID(_ daemon: Int) -> NodeID { NodeID(UInt32(daemon + 1)) }
    func site(of daemon: Int) -> Int { daemon / config.daemonsPerSite }
    func daemons(of site: Int) -> Range<Int> { (site * config.daemonsPerSite)..<((site + 1) * config.daemonsPerSite) }

    /// Runs to the end and checks the history.
    public mutating func run() -> WideAreaSimulationReport {
        let started = monotonicSeconds()
        for daemon in engines.indices {
            let delay = config.staggeredStart > 0 ? UInt64(random.int(below: Int(config.staggeredStart) + 1)) : 0
            queue.push(.boot(daemon), at: delay)
            queue.push(.traffic(daemon), at: trafficStart + Simulation.nanos(random.exponential(rate: config.rate)))
        }
        for _ in 0..<config.restarts {
            let span = Double(trafficEnd - trafficStart) / 1e9
            queue.push(.crashForRestart, at: trafficStart + Simulation.nanos(random.unit() * span))
        }
        if config.linkCutRate > 0, !links.isEmpty {
            // Cuts begin while traffic runs (each heals within 3 s), so the quiescence sees the links whole.
            let first = trafficStart + Simulation.nanos(random.exponential(rate: config.linkCutRate))
            let link = random.int(below: links.count)
            if first < trafficEnd { queue.push(.cut(link), at: first) }
        }
        if config.burstJoins > 0 {
            queue.push(.burstJoins(engines.count - 1), at: trafficStart + 1_000_000_000)
        }
        for planned in config.plannedCutoffs {
            queue.push(.isolateFor(planned.sites, seconds: planned.seconds), at: Simulation.nanos(planned.at))
        }
        for _ in 0..<config.isolations {
            let span = Double(trafficEnd - trafficStart) / 1e9
            queue.push(.isolate(random.int(below: config.sites)), at: trafficStart + Simulation.nanos(random.unit() * span))
        }
        for _ in 0..<config.representativeCrashes {
            let span = Double(trafficEnd - trafficStart) / 1e9
            queue.push(.crashRepresentative, at: trafficStart + Simulation.nanos(random.unit() * span))
        }
        var events = 0
        while let (time, event) = queue.pop(), time <= endTime {
            now = time
            handle(event)
            events += 1
            // A sample now and then of what the first daemon keeps for other sites (relay).
            if events % 4096 == 0, alive[0], let relayed = engines[0].order?.relayed {
                report.relayedPeak = max(report.relayedPeak, relayed)
            }
        }
        now = endTime
        report.events = events
        if config.traceConfigurations {
            for daemon in engines.indices where alive[daemon] {
                let rep = routerHost[site(of: daemon)] == daemon ? " (representative, reaches \(routers[site(of: daemon)]?.topology.component(of: siteID(site(of: daemon))) ?? []))" : ""
                print("end: daemon \(daemon) of \(siteID(site(of: daemon)))\(rep): \(engines[daemon].order?.membershipDescription ?? "-")")
                if let counters = engines[daemon].order?.counters { print("     counters \(counters)") }
                print("     \(engines[daemon].groups.sitesDescription)")
            }
        }
        let finals = Set(engines.indices.filter { alive[$0] }.map { finalConfiguration[$0]?.description ?? "none" })
        report.finalConfigurations = finals.sorted()
        report.mergedAtEnd =
            finals.count == 1
            && engines.indices.filter { alive[$0] }.allSatisfy { finalConfiguration[$0]?.sites.count == config.sites }
        let settled = engines.indices.filter { alive[$0] }.allSatisfy { daemon in
            (history.changes[slot[daemon]].last?.time ?? 0) + Self.viewsSettle <= endTime
        }
        if report.mergedAtEnd, settled, config.sites > 1, !config.oneStretchedRing {
            // Merged and quiet for a while: every running daemon's session is in the group, and
            // every daemon's last view of it says so.
            let members = engines.indices.filter { alive[$0] }.compactMap { sessions[$0] }.sorted()
            history.expectedFinalMembers = [Self.group: members]
        }
        history.checkEveryServiceBetweenViews = config.strictViews
        report.violations = history.violations()
        let window = Double(trafficEnd) / 1e9 - config.warmup - 1
        if window > 0 {
            let slowest = engines.indices.filter { alive[$0] }.map { windowDeliveries[$0] }.min() ?? 0
            report.deliveredBytesPerSecond = Double(slowest * config.payloadSize) / window
        }
        for (daemon, engine) in engines.enumerated() where alive[daemon] {
            if let counters = engine.order?.counters { report.orderCounters.append(counters) }
            report.relayedAtEnd = max(report.relayedAtEnd, engine.order?.relayed ?? 0)
        }
        report.realSeconds = monotonicSeconds() - started
        return report
    }

    mutating func handle(_ event: Event) {
        switch event {
        case .packet(let daemon, let packet, let from, let sentAt):
            guard alive[daemon] else { return }
            if config.crashLosesLastPackets, let crashed = lastCrash[from], sentAt <= crashed,
                crashed - sentAt <= 2 * config.lanDelay
            {
                report.packetsLostInCrashes += 1
                return
            }
            act(daemon) { engine, actions, now in engine.receive(packet, now: now, into: &actions) }
        case .timer(let daemon, let timer):
            guard alive[daemon], deadlines[daemon][timer.rawValue] == now else { return }
            deadlines[daemon][timer.rawValue] = nil
            act(daemon) { engine, actions, now in engine.timerFired(timer, now: now, into: &actions) }
        case .hop(let site, let bytes):
            guard routers[site] != nil else { return }
            guard let packet = try? HopPacketCodec.decode(bytes) else {
                report.decodeErrors += 1
                return
            }
            route(site) { router, actions, now in _ = router.receive(packet, now: now, into: &actions) }
        case .routerTick(let site):
            guard routerTick[site] == now else { return }
            routerTick[site] = nil
            route(site) { router, actions, now in router.tick(now: now, into: &actions) }
        case .traffic(let daemon):
            guard alive[daemon], now < trafficEnd else { return }
            if config.churn > 0, let session = sessions[daemon], random.chance(min(1, config.churn / config.rate)),
                now + Simulation.nanos(1) < trafficEnd
            {
                // The session leaves its group and joins it again a little later.
                act(daemon) { engine, actions, now in try? engine.leave(session: session, group: Self.group, now: now, into: &actions) }
                queue.push(.joinAgain(daemon, session), at: now + Simulation.nanos(0.1 + 0.4 * random.unit()))
                if traceDeliveries { print("\(Double(now / 1_000_000) / 1000) s daemon \(daemon): \(session) leaves") }
                report.leaves += 1
            } else if config.sparseGroup, site(of: daemon) != 0, let session = sessions[daemon], random.chance(1 / config.sparseJoinEvery) {
                // Joins the sparse group, or leaves it (its site may have no member left there).
                let leaving = sparseMembers.contains(session)
                act(daemon) { engine, actions, now in
                    if leaving {
                        try? engine.leave(session: session, group: Self.sparseGroup, now: now, into: &actions)
                    } else {
                        try? engine.join(session: session, group: Self.sparseGroup, now: now, into: &actions)
                    }
                }
                if leaving { sparseMembers.remove(session) } else { sparseMembers.insert(session) }
                if traceDeliveries { print("\(Double(now / 1_000_000) / 1000) s daemon \(daemon): \(session) \(leaving ? "leaves" : "joins") \(Self.sparseGroup)") }
            } else {
                sendMessage(from: daemon)
            }
            queue.push(.traffic(daemon), at: now + max(1, Simulation.nanos(random.exponential(rate: config.rate))))
        case .cut(let index):
            setCut(index, true)
            report.linkCuts += 1
            queue.push(.heal(index), at: now + Simulation.nanos(1 + 2 * random.unit()))
            let next = now + Simulation.nanos(random.exponential(rate: config.linkCutRate))
            if next < trafficEnd { queue.push(.cut(random.int(below: links.count)), at: next) }
        case .heal(let index):
            setCut(index, false)
        case .isolate(let site):
            let span = config.isolationSeconds
            isolate([site], seconds: span.lowerBound + (span.upperBound - span.lowerBound) * random.unit())
        case .isolateFor(let group, let seconds):
            isolate(group, seconds: seconds)
        case .rejoin(let group):
            if config.traceConfigurations { print("\(Double(now / 1_000_000) / 1000) s sites \(group.map(siteID)) back") }
            for (index, link) in links.enumerated() where group.contains(link.0) != group.contains(link.1) { setCut(index, false) }
        case .joinAgain(let daemon, let session):
            guard alive[daemon], sessions[daemon] == session else { return }
            var refused = false
            act(daemon) { engine, actions, now in
                do { try engine.join(session: session, group: Self.group, now: now, into: &actions) } catch { refused = true }
            }
            // A busy daemon refuses requests for a while: the session asks again, as a client would.
            if refused { queue.push(.joinAgain(daemon, session), at: now + Simulation.nanos(0.1)) }
            if traceDeliveries { print("\(Double(now / 1_000_000) / 1000) s daemon \(daemon): \(session) joins again\(refused ? " (refused)" : "")") }
        case .boot(let daemon):
            boot(daemon)
        case .burstJoins(let daemon):
            guard alive[daemon], let session = sessions[daemon] else { return }
            for index in 0..<config.burstJoins {
                act(daemon) { engine, actions, now in try? engine.join(session: session, group: "burst\(index)", now: now, into: &actions) }
            }
        case .crashForRestart:
            // Any daemon of a site that keeps another running (so the state can come from it).
            let candidates = engines.indices.filter { daemon in
                alive[daemon] && daemons(of: site(of: daemon)).filter { alive[$0] && $0 != daemon }.count >= 1
            }
            guard !candidates.isEmpty else { return }
            let daemon = candidates[random.int(below: candidates.count)]
            crash(daemon)
            queue.push(.restart(daemon), at: now + Simulation.nanos(0.5 + 1.5 * random.unit()))
        case .restart(let daemon):
            let site = site(of: daemon)
            incarnation[daemon] += 1
            let order = SiteOrder(
                me: nodeID(daemon), site: siteID(site), sites: siteIDs, siteSize: config.daemonsPerSite, options: siteOptions[site])
            var ringOptions = config.ringOptions
            if config.oneStretchedRing { ringOptions.earlyDelivery = false }
            engines[daemon] = Engine(
                me: nodeID(daemon), site: daemons(of: site).map(nodeID), ringOptions: ringOptions, ringSeqFloor: now / 1_000 + 1,
                wideArea: config.sites > 1 && !config.oneStretchedRing ? order : nil, firstSession: UInt64(incarnation[daemon]))
            deadlines[daemon] = Array(repeating: nil, count: RingTimer.allCases.count)
            causalPast[daemon] = nil
            slot[daemon] = history.deliveries.count
            history.deliveries.append([])
            history.changes.append([])
            history.views.append([])
            deliveringIn[daemon] = []
            finalConfiguration[daemon] = nil
            history.alive.append(true)
            history.joinedAt.append(now)
            report.restarts += 1
            if config.traceConfigurations { print("\(Double(now / 1_000_000) / 1000) s daemon \(daemon) of \(siteID(site)) restarts") }
            boot(daemon)
            queue.push(.traffic(daemon), at: now + Simulation.nanos(random.exponential(rate: config.rate)))
        case .crashRepresentative:
            let candidates = (0..<config.sites).filter { routerHost[$0] != nil && daemons(of: $0).filter { alive[$0] }.count > 1 }
            guard !candidates.isEmpty else { return }
            let site = candidates[random.int(below: candidates.count)]
            crash(routerHost[site]!)
        }
    }

    /// Cuts every link between `group` and the other sites for `seconds`.
    mutating func isolate(_ group: [Int], seconds: Double) {
        report.isolations += 1
        if config.traceConfigurations { print("\(Double(now / 1_000_000) / 1000) s sites \(group.map(siteID)) cut off") }
        for (index, link) in links.enumerated() where group.contains(link.0) != group.contains(link.1) { setCut(index, true) }
        queue.push(.rejoin(group), at: now + Simulation.nanos(seconds))
    }

    mutating func setCut(_ index: Int, _ cut: Bool) {
        let (a, b) = links[index]
        let link = SiteLink(siteID(a), siteID(b))
        for end in [link.low, link.high] { channels[link]?[end]?.isCut = cut }
    }

    mutating func boot(_ daemon: Int) {
        alive[daemon] = true
        act(daemon) { engine, actions, now in engine.start(now: now, into: &actions) }
        let session = engines[daemon].openSession(local: UInt64(incarnation[daemon]), name: "s\(incarnation[daemon])")
        sessions[daemon] = session
        act(daemon) { engine, actions, now in try? engine.join(session: session, group: Self.group, now: now, into: &actions) }
        if config.sparseGroup, site(of: daemon) == 0 {
            act(daemon) { engine, actions, now in try? engine.join(session: session, group: Self.sparseGroup, now: now, into: &actions) }
            sparseMembers.insert(session)
        }
    }

    mutating func crash(_ daemon: Int) {
        if config.traceConfigurations { print("\(Double(now / 1_000_000) / 1000) s daemon \(daemon) of \(siteID(site(of: daemon))) crashes") }
        alive[daemon] = false
        lastCrash[daemon] = now
        history.alive[slot[daemon]] = false
        report.crashes += 1
        let site = site(of: daemon)
        if routerHost[site] == daemon {
            routers[site] = nil
            routerHost[site] = nil
        }
    }

    mutating func sendMessage(from daemon: Int) {
        guard let session = sessions[daemon] else { return }
        let service = config.services[random.int(below: config.services.count)]
        let payload = ByteBuffer(repeating: 0x5A, count: config.payloadSize)
        let group = config.sparseGroup && random.chance(0.5) ? Self.sparseGroup : Self.group
        let past = causalPast[daemon]
        var seq: UInt64 = 0
        var refused = false
        act(daemon) { engine, actions, now in
            do {
                seq = try engine.send(
                    session: session, service: service, groups: [group], payload: payload, now: now, into: &actions)
            } catch {
                refused = true
            }
        }
        guard !refused else {
            report.refused += 1
            return
        }
        report.sent += 1
        let key = WideAreaHistory.MessageKey(sender: session, seq: seq)
        history.sent[key] = WideAreaHistory.Sent(
            daemon: slot[daemon], service: service, time: now, causalPast: service >= .causal ? past : nil)
    }

    // MARK: Engines

    mutating func act(_ daemon: Int, _ body: (inout Engine, inout [EngineAction], Instant) -> Void) {
        var actions: [EngineAction] = []
        body(&engines[daemon], &actions, now)
        for action in actions { perform(action, at: daemon) }
    }

    mutating func perform(_ action: EngineAction, at daemon: Int) {
        let site = site(of: daemon)
        switch action {
        case .send(let packet, let destination):
            let targets: [Int]
            switch destination {
            case .node(let node): targets = [Int(node.rawValue) - 1]
            case .members(let nodes): targets = nodes.map { Int($0.rawValue) - 1 }
            case .site: targets = (config.oneStretchedRing ? 0..<engines.count : daemons(of: site)).filter { $0 != daemon }
            }
            for target in targets {
                var delay = config.lanDelay + UInt64(random.int(below: Int(config.lanDelay) + 1))
                if self.site(of: target) != site {
                    guard config.oneStretchedRing, !random.chance(config.impairment.loss) else { continue }
                    let jitter = config.impairment.jitter
                    delay = config.impairment.delay + (jitter > 0 ? UInt64(random.int(below: Int(jitter) + 1)) : 0)
                }
                queue.push(.packet(target, packet, from: daemon, sentAt: now), at: now + delay)
            }
        case .setTimer(let timer, let deadline):
            deadlines[daemon][timer.rawValue] = max(deadline, now)
            queue.push(.timer(daemon, timer), at: max(deadline, now))
        case .deliver(let delivery):
            record(delivery, at: daemon)
        case .configuration(let configuration):
            if configuration.kind == .regular { report.configurations += 1 }
        case .view(let view):
            if config.traceConfigurations {
                print("\(Double(now / 1_000_000) / 1000) s daemon \(daemon) (slot \(slot[daemon])): \(view.kind) view \(view.viewID) of \(view.group) (\(view.reason)) \(view.members)")
            }
            history.views[slot[daemon]].append(
                WideAreaHistory.ViewRecord(
                    view: view, afterDeliveries: history.deliveries[slot[daemon]].count,
                    configuration: finalConfiguration[daemon]?.id, changesBefore: history.changes[slot[daemon]].count, time: now))
            report.views += 1
        case .decodeError:
            report.decodeErrors += 1
        case .wideArea(.representative(let represent)):
            if represent {
                // A new incarnation, later than any before it at this site.
                let router = SiteNetworkSimulation.router(
                    siteID(site), sites: (0..<config.sites).map(siteID), links: links.map { (siteID($0.0), siteID($0.1), 1) },
                    options: config.hopOptions, incarnation: now / 1_000 + 1, now: now)
                routers[site] = router
                routerHost[site] = daemon
                report.representativeChanges += 1
                route(site) { router, actions, now in router.start(now: now, into: &actions) }
            } else if routerHost[site] == daemon {
                routers[site] = nil
                routerHost[site] = nil
            }
        case .wideArea(.configuration(let change)):
            if config.traceConfigurations {
                print("\(Double(now / 1_000_000) / 1000) s daemon \(daemon) (slot \(slot[daemon])) of \(siteID(site)): \(change)")
            }
            history.changes[slot[daemon]].append(
                WideAreaHistory.Change(change: change, afterDeliveries: history.deliveries[slot[daemon]].count, time: now))
            deliveringIn[daemon] = change.sites
            if change.kind == .regular {
                report.siteConfigurations += 1
                finalConfiguration[daemon] = change
            }
        case .wideArea(.originate(let body, let sites)):
            guard routerHost[site] == daemon else { return }
            route(site) { router, actions, now in _ = router.originate(body, interested: sites, now: now, into: &actions) }
        }
    }

    mutating func record(_ delivery: GroupDelivery, at daemon: Int) {
        let key = WideAreaHistory.MessageKey(sender: delivery.data.sender, seq: delivery.data.sessionSeq)
        var position = delivery.position
        if config.oneStretchedRing, delivery.service >= .causal {
            // One ring: its order is the order (numbered here, so the same checks apply).
            ringOrderCount[daemon] += 1
            position = WideAreaPosition(lamport: ringOrderCount[daemon], origin: SiteID(1), seq: ringOrderCount[daemon])
        }
        var record = WideAreaHistory.Delivery(message: key, service: delivery.service, position: position, time: now)
        record.bodyWithheld = delivery.bodyWithheld
        record.toSessions = !delivery.recipients.isEmpty
        history.deliveries[slot[daemon]].append(record)
        if traceDeliveries {
            print("\(Double(now / 1_000_000) / 1000) s daemon \(daemon) (slot \(slot[daemon])) delivers \(key) at \(position.map(\.description) ?? "-")")
        }
        report.delivered += 1
        if now >= trafficStart + 1_000_000_000, now <= trafficEnd { windowDeliveries[daemon] += 1 }
        if delivery.service >= .causal, let position {
            causalPast[daemon] = max(causalPast[daemon] ?? position, position)
        }
        if delivery.service == .safe, let position = delivery.position, !config.oneStretchedRing {
            // Held by a site: one of its running daemons had a safe ring delivery at or after it
            // (brought in as safe, or sent as safe there), so every member holds it. Every site
            // of the configuration it is delivered in (or of its transitional part).
            // Not where every daemon running when it was sent has crashed since (the site restarted
            // afresh: its report, made while they held it, is what counted).
            let sentAt = history.sent[key]?.time ?? 0
            for site in 0..<config.sites where deliveringIn[daemon].contains(siteID(site)) {
                let running = daemons(of: site).filter { alive[$0] }
                guard running.contains(where: { history.joinedAt[slot[$0]] <= sentAt }) else { continue }
                let held = running.map { engines[$0].order?.held(of: position.origin) ?? 0 }.max() ?? .max
                // The delivering daemon took the message itself; if it no longer counts it taken,
                // the step that delivered it (the end of a configuration) also began one where the
                // origin's stream starts afresh, and its site's counters speak of that one.
                if site == self.site(of: daemon), (engines[daemon].order?.received(from: position.origin) ?? .max) < position.seq {
                    continue
                }
                if held < position.seq, history.unsafeDeliveries.count < 20 {
                    history.unsafeDeliveries.append(
                        "daemon \(daemon) delivered safe \(key) (\(position)) while site \(siteID(site)) held \(position.origin) only up to \(held)")
                }
            }
        }
        if let sent = history.sent[key], sent.daemon != daemon, self.site(of: sent.daemon) != site(of: daemon) {
            report.latency[Int(delivery.service.rawValue)].record(now - sent.time)
        }
    }

    // MARK: Routers

    mutating func route(_ site: Int, _ body: (inout SiteRouter, inout [SiteRouterAction], Instant) -> Void) {
        guard routers[site] != nil, let host = routerHost[site] else { return }
        var actions: [SiteRouterAction] = []
        body(&routers[site]!, &actions, now)
        for action in actions {
            switch action {
            case .send(let packet, let to):
                let bytes = HopPacketCodec.encode(packet)
                let arrivals = channels.transit(from: siteID(site), to: to, size: bytes.readableBytes + 28, now: now, random: &random)
                report.hopBytes += bytes.readableBytes + 28
                for arrival in arrivals { queue.push(.hop(Int(to.rawValue) - 1, bytes), at: arrival) }
            case .deliver(let message):
                act(host) { engine, actions, now in engine.wideAreaReceived(message.body, now: now, into: &actions) }
            case .topologyChanged:
                // Only a change of the links themselves (a report that changes nothing resends nothing).
                guard let topology = routers[site]?.topology, topology != lastTopology[site] else { break }
                lastTopology[site] = topology
                let reached = topology.component(of: siteID(site))
                act(host) { engine, actions, now in engine.wideAreaTopologyChanged(reached: reached, now: now, into: &actions) }
            case .linkUp:
                guard let reached = routers[site]?.topology.component(of: siteID(site)) else { break }
                act(host) { engine, actions, now in engine.wideAreaTopologyChanged(reached: reached, now: now, into: &actions) }
            case .linkDown:
                break
            }
        }
        guard let router = routers[site] else { return }
        let deadline = max(router.nextDeadline, now + 1_000)
        if routerTick[site].map({ deadline < $0 }) ?? true {
            routerTick[site] = deadline
            queue.push(.routerTick(site), at: deadline)
        }
    }
}

/// What a multi-site run did and found.
public struct WideAreaSimulationReport: Sendable, CustomStringConvertible {
    public let seed: UInt64
    public let sites: Int
    public let daemonsPerSite: Int
    public var sent = 0
    public var refused = 0
    public var delivered = 0
    public var configurations = 0
    /// Regular configurations of sites installed, summed over daemons.
    public var siteConfigurations = 0
    public var isolations = 0
    /// The distinct last regular configurations of sites of the daemons running at the end.
    public var finalConfigurations: [String] = []
    /// Whether every running daemon ended in one configuration of every site.
    public var mergedAtEnd = false
    public var representativeChanges = 0
    public var linkCuts = 0
    public var crashes = 0
    /// Ring datagrams lost because their sender crashed right after sending them (`crashLosesLastPackets`).
    public var packetsLostInCrashes = 0
    public var restarts = 0
    /// Group views shown (summed over daemons), and leaves of the group (each joined again).
    public var views = 0
    public var leaves = 0
    public var decodeErrors = 0
    public var hopBytes = 0
    public var events = 0
    public var realSeconds = 0.0
    /// Client payload bytes per second the slowest running daemon delivered, from a second into
    /// the traffic to its end.
    public var deliveredBytesPerSecond = 0.0
    /// Per service (by raw value): from send to delivery at daemons of other sites.
    public var latency = Array(repeating: LatencyHistogram(), count: Service.allCases.count)
    public var orderCounters: [SiteOrderCounters] = []
    /// Messages of other sites the first daemon kept for a site that may need them: the most of
    /// a sample taken every 4096 events, and the most any live daemon keeps at the end.
    public var relayedPeak = 0
    public var relayedAtEnd = 0
    public var violations: [String] = []

    public var passed: Bool { violations.isEmpty }

    public var description: String {
        let seconds = (realSeconds * 10).rounded() / 10
        var lines: [String] = [
            "seed \(seed): \(sites) sites × \(daemonsPerSite) daemons, \(sent) sent (\(refused) refused), \(delivered) delivered, "
                + "\(configurations) regular configurations, \(representativeChanges) representative starts, "
                + "\(linkCuts) link cuts, \(isolations) sites cut off, \(crashes) crashes"
                + (packetsLostInCrashes > 0 ? " (\(packetsLostInCrashes) datagrams lost with them)" : "")
                + ", \(restarts) restarts, \(events) events in \(seconds) s",
            "  configurations of sites: \(siteConfigurations) installed over all daemons; at the end \(finalConfigurations.joined(separator: " | "))"
                + (mergedAtEnd ? " (every site, every daemon)" : ""),
            "  group views: \(views) shown over all daemons, \(leaves) leaves and joins again",
        ]
        for service in Service.allCases where !latency[Int(service.rawValue)].isEmpty {
            let h = latency[Int(service.rawValue)]
            lines.append(
                "  \(service) across sites: p50 \(h.percentile(0.5) / 1_000_000) ms  p99 \(h.percentile(0.99) / 1_000_000) ms  max \(h.max / 1_000_000) ms (\(h.count))")
        }
        let resent = orderCounters.reduce(0) { $0 + $1.resent }
        let duplicates = orderCounters.reduce(0) { $0 + $1.duplicates }
        lines.append("  delivered at the slowest daemon: \((deliveredBytesPerSecond / 1e4).rounded() / 100) MB/s of client payload")
        lines.append(
            "  order layer: \(resent) resent, \(duplicates) duplicates dropped, \(decodeErrors) decode errors; \((Double(hopBytes) / 1e4).rounded() / 100) MB of hop datagrams")
        let standIns = orderCounters.reduce(0) { $0 + $1.standInsSent }
        let dropped = orderCounters.reduce(0) { $0 + $1.interestsDropped }
        if standIns > 0 {
            let spared = orderCounters.reduce(0) { $0 + $1.bytesSpared }
            let taken = orderCounters.reduce(0) { $0 + $1.standInsTaken }
            lines.append(
                "  pruning: \(standIns) stand-ins sent for bodies (\(spared) payload bytes spared), \(taken) taken, \(dropped) interests dropped over all daemons")
        }
        lines.append(violations.isEmpty ? "  no violations" : "  VIOLATIONS:\n    " + violations.joined(separator: "\n    "))
        return lines.joined(separator: "\n")
    }
}
