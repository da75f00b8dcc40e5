import ChorusWire
import NIOCore

@testable import ChorusCore

/// A few rings wired together in memory: packets take `latency`, timers fire on a manual clock.
/// Small enough to read in a test failure; the simulator is the tool for faults at scale.
struct RingHarness {
    var rings: [NodeID: Ring] = [:]
    var now: Instant = 0
    var latency: Instant = 100_000
    /// Packets in flight: (arrival, destination, packet), kept in send order.
    var inFlight: [(Instant, NodeID, Packet)] = []
    var timers: [NodeID: [RingTimer: Instant]] = [:]
    var delivered: [NodeID: [(service: Service, payload: String)]] = [:]
    var configurations: [NodeID: [RingConfiguration]] = [:]
    /// Packets sent so far, all daemons together.
    var packetsSent = 0
    /// Links that drop everything (from, to).
    var cut: Set<[UInt32]> = []

    /// Tokens sent so far, all daemons together.
    var tokensSent = 0
    /// When each daemon delivered each payload.
    var deliveredAt: [NodeID: [String: Instant]] = [:]

    init(nodes: [UInt32], options: RingOptions = RingOptions()) {
        let site = nodes.map(NodeID.init)
        for node in site { rings[node] = Ring(me: node, site: site, options: options) }
    }

    /// A ring of `nodes`, started and run for a virtual second: formed, its token idle.
    static func formed(_ nodes: [UInt32] = [1, 2, 3], options: RingOptions = RingOptions()) -> RingHarness {
        var harness = RingHarness(nodes: nodes, options: options)
        harness.start()
        harness.run(until: 1_000_000_000)
        return harness
    }

    mutating func start() {
        for node in rings.keys.sorted() { apply(node) { ring, actions, now in ring.start(now: now, into: &actions) } }
    }

    mutating func submit(_ node: UInt32, _ service: Service, _ text: String) {
        apply(NodeID(node)) { ring, actions, now in
            ring.submit(service: service, payload: ByteBuffer(string: text), now: now, into: &actions)
        }
    }

    mutating func apply(_ node: NodeID, _ body: (inout Ring, inout [RingAction], Instant) -> Void) {
        guard var ring = rings[node] else { return }
        var actions: [RingAction] = []
        body(&ring, &actions, now)
        rings[node] = ring
        for action in actions {
            switch action {
            case .send(let packet, let destination):
                let targets: [NodeID]
                switch destination {
                case .node(let target): targets = [target]
                case .members(let members): targets = members
                case .site: targets = rings.keys.filter { $0 != node }.sorted()
                }
                packetsSent += targets.count
                if case .token = packet { tokensSent += 1 }
                for target in targets where !cut.contains([node.rawValue, target.rawValue]) {
                    inFlight.append((now + (target == node ? 1_000 : latency), target, packet))
                }
            case .setTimer(let timer, let deadline):
                timers[node, default: [:]][timer] = deadline
            case .deliver(let delivery):
                delivered[node, default: []].append((delivery.service, String(buffer: delivery.payload)))
                deliveredAt[node, default: [:]][String(buffer: delivery.payload)] = now
            case .configuration(let configuration):
                configurations[node, default: []].append(configuration)
            }
        }
    }

    /// Runs until `until`, in time order; ties go to packets, then timers, in a fixed order.
    mutating func run(until: Instant) {
        while true {
            let nextPacket = inFlight.indices.min { inFlight[$0].0 < inFlight[$1].0 }
            let nextTimer = timers.flatMap { node, byKind in byKind.map { (node, $0.key, $0.value) } }
                .min { ($0.2, $0.0.rawValue, $0.1.rawValue) < ($1.2, $1.0.rawValue, $1.1.rawValue) }
            let packetTime = nextPacket.map { inFlight[$0].0 } ?? .max
            let timerTime = nextTimer?.2 ?? .max
            guard min(packetTime, timerTime) <= until else { break }
            if packetTime <= timerTime, let index = nextPacket {
                let (time, target, packet) = inFlight.remove(at: index)
                now = time
                apply(target) { ring, actions, now in ring.receive(packet, now: now, into: &actions) }
            } else if let (node, timer, deadline) = nextTimer {
                now = deadline
                timers[node]![timer] = nil
                apply(node) { ring, actions, now in ring.timerFired(timer, now: now, into: &actions) }
            }
        }
        now = until
    }

    func lastRegular(_ node: UInt32) -> RingConfiguration? {
        configurations[NodeID(node)]?.last { $0.kind == .regular }
    }

    func payloads(_ node: UInt32) -> [String] { delivered[NodeID(node)]?.map(\.payload) ?? [] }
}
