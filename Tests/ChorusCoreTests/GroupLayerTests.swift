import ChorusWire
import NIOCore
import Testing

@testable import ChorusCore

// MARK: A tiny in-memory ring

/// Several group layers and a "ring" that delivers every submitted message to a chosen set of
/// daemons in one total order (submission order), and injects configuration changes.
private struct Cluster {
    var layers: [NodeID: GroupLayer] = [:]
    /// Submitted, not yet delivered: (sender daemon, service, encoded message).
    var pending: [(NodeID, Service, ByteBuffer)] = []
    /// Every non-submit action of each daemon, in order.
    var output: [NodeID: [GroupAction]] = [:]
    var ring: [NodeID: RingID] = [:]
    /// Every view each daemon emitted, never cleared.
    var history: [NodeID: [GroupView]] = [:]

    init(_ nodes: [UInt32], limits: GroupLimits = .default) {
        for raw in nodes {
            let node = NodeID(raw)
            layers[node] = GroupLayer(me: node, limits: limits)
            output[node] = []
        }
    }

    /// Runs `body` on daemon `node`'s layer, queueing its submits and recording the rest.
    @discardableResult
    mutating func on<R, E: Error>(
        _ node: UInt32, _ body: (inout GroupLayer, inout [GroupAction]) throws(E) -> R
    ) throws(E) -> R {
        let id = NodeID(node)
        var actions: [GroupAction] = []
        let result = try body(&layers[id]!, &actions)
        record(id, actions)
        return result
    }

    mutating func record(_ node: NodeID, _ actions: [GroupAction]) {
        for action in actions {
            if case .submit(let service, let bytes, _, let first) = action {
                // As the ring's queue: a `first` message goes ahead of this daemon's queued ones.
                if first, let head = pending.firstIndex(where: { $0.0 == node }) {
                    pending.insert((node, service, bytes), at: head)
                } else {
                    pending.append((node, service, bytes))
                }
            } else {
                output[node]!.append(action)
                if case .view(let view) = action { history[node, default: []].append(view) }
            }
        }
    }

    /// Delivers, in submission order, every pending message sent by a daemon of `nodes` to every
    /// daemon of `nodes` (one component of a partition).
    mutating func deliver(among nodes: [UInt32]) {
        let group = Set(nodes.map(NodeID.init))
        let (mine, rest) = (pending.filter { group.contains($0.0) }, pending.filter { !group.contains($0.0) })
        pending = rest
        for (sender, service, bytes) in mine {
            for node in nodes.map(NodeID.init) {
                deliverRaw(to: node, from: sender, service: service, bytes)
            }
        }
    }

    mutating func deliverRaw(to node: NodeID, from sender: NodeID, service: Service, _ bytes: ByteBuffer) {
        var actions: [GroupAction] = []
        let delivery = RingDelivery(ringID: ring[node] ?? .none, sender: sender, service: service, payload: bytes)
        layers[node]!.ringDelivered(delivery, into: &actions)
        record(node, actions)
    }

    /// Installs configuration `kind` with `members` at each of `members`. The ring id is
    /// `(seq, representative)`; by default the lowest member represents it.
    mutating func configure(
        _ kind: RingConfiguration.Kind, seq: UInt64, _ members: [UInt32], representative: UInt32? = nil
    ) {
        let ringID = RingID(seq: seq, representative: NodeID(representative ?? members.min()!))
        let configuration = RingConfiguration(kind: kind, ringID: ringID, members: members.map(NodeID.init))
        for node in configuration.members {
            if kind == .regular { ring[node] = ringID }
            var actions: [GroupAction] = []
            layers[node]!.ringConfiguration(configuration, into: &actions)
            record(node, actions)
        }
    }

    /// A regular configuration of `members` followed by its state exchange.
    mutating func install(seq: UInt64, _ members: [UInt32]) {
        configure(.regular, seq: seq, members)
        deliver(among: members)
    }

    /// Whether every group's view ids at every daemon strictly increased.
    func viewIDsIncrease() -> Bool {
        history.values.allSatisfy { views in
            Dictionary(grouping: views, by: \.group).values.allSatisfy { perGroup in
                zip(perGroup, perGroup.dropFirst()).allSatisfy { $0.viewID < $1.viewID }
            }
        }
    }

    /// Takes and clears daemon `node`'s recorded output.
    mutating func take(_ node: UInt32) -> [GroupAction] {
        defer { output[NodeID(node)] = [] }
        return output[NodeID(node)]!
    }

    mutating func views(_ node: UInt32) -> [GroupView] {
        take(node).compactMap { if case .view(let view) = $0 { view } else { nil } }
    }

    mutating func deliveries(_ node: UInt32) -> [GroupDelivery] {
        take(node).compactMap { if case .deliver(let delivery) = $0 { delivery } else { nil } }
    }
}

private func session(_ daemon: UInt32, _ local: UInt64) -> SessionID {
    SessionID(daemon: NodeID(daemon), local: local)
}

private func bytes(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

/// A view without its per-daemon part (`recipients`), for comparing daemons.
private struct SharedView: Equatable, CustomStringConvertible {
    var group: String
    var id: GroupViewID
    var kind: GroupView.Kind
    var reason: GroupView.Reason
    var members: [SessionID]
    init(_ view: GroupView) {
        (group, id, kind, reason, members) = (view.group, view.viewID, view.kind, view.reason, view.members)
    }
    var description: String { "\(group)@\(id) \(kind) \(reason) \(members)" }
}

private func shared(_ views: [GroupView]) -> [SharedView] { views.map(SharedView.init) }

// MARK: Tests

@Suite("GroupLayer")
struct GroupLayerTests {
    @Test func joinAndLeaveViewsAreEqualAtEveryDaemon() throws {
        var cluster = Cluster([1, 2, 3])
        cluster.install(seq: 1, [1, 2, 3])
        let ring = RingID(seq: 1, representative: NodeID(1))
        for node: UInt32 in [1, 2, 3] { #expect(cluster.views(node).isEmpty) }  // no group yet

        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        let b = cluster.on(2) { layer, _ in layer.openSession(local: 1) }
        try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: a, group: "g", into: &actions) }
        try cluster.on(2) { layer, actions throws(GroupError) in try layer.join(session: b, group: "g", into: &actions) }
        // Duplicate join and leave of a group one is not in: no views.
        try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: a, group: "g", into: &actions) }
        try cluster.on(2) { layer, actions throws(GroupError) in try layer.leave(session: b, group: "other", into: &actions) }
        try cluster.on(1) { layer, actions throws(GroupError) in try layer.leave(session: a, group: "g", into: &actions) }
        cluster.deliver(among: [1, 2, 3])

        let v1 = cluster.views(1)
        let v2 = cluster.views(2)
        let v3 = cluster.views(3)
        #expect(shared(v1) == shared(v2))
        #expect(shared(v1) == shared(v3))
        #expect(v1.map(\.viewID) == [GroupViewID(ring: ring, index: 1), GroupViewID(ring: ring, index: 2),
                                 GroupViewID(ring: ring, index: 3)])
        #expect(v1.map(\.reason) == [.join, .join, .leave])
        #expect(v1.map(\.members) == [[a], [a, b], [b]])
        #expect(v1.map(\.changed) == [[a], [b], [a]])
        #expect(v1.map(\.recipients) == [[a], [a], []])
        #expect(v2.map(\.recipients) == [[], [b], [b]])
        #expect(v3.allSatisfy { $0.recipients.isEmpty })

        // Closing a session is a disconnect for everyone; its own daemon stops delivering to it.
        cluster.on(2) { layer, actions in layer.closeSession(b, into: &actions) }
        cluster.deliver(among: [1, 2, 3])
        for node: UInt32 in [1, 2, 3] {
            let views = cluster.views(node)
            #expect(views.count == 1)
            #expect(views.first?.reason == .disconnect)
            #expect(views.first?.members == [])
            #expect(views.first?.changed == [b])
            #expect(views.first?.viewID == GroupViewID(ring: ring, index: 4))
        }
        #expect(cluster.layers[NodeID(1)]!.groupNames.isEmpty)
    }

    @Test func disconnectFromSeveralGroupsIsOneEvent() throws {
        var cluster = Cluster([1, 2])
        cluster.install(seq: 1, [1, 2])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 7) }
        for group in ["b", "a", "c"] {
            try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: a, group: group, into: &actions) }
        }
        cluster.on(1) { layer, actions in layer.closeSession(a, into: &actions) }
        cluster.deliver(among: [1, 2])
        let views = cluster.views(2)
        #expect(views.count == 6)
        let disconnects = views.suffix(3)
        #expect(disconnects.map(\.group) == ["a", "b", "c"])
        #expect(Set(disconnects.map(\.viewID)).count == 1)
        #expect(disconnects.allSatisfy { $0.reason == .disconnect && $0.changed == [a] })
        #expect(shared(cluster.views(1)) == shared(views))
    }

    @Test func multigroupMessageIsDeliveredOnce() throws {
        var cluster = Cluster([1, 2])
        cluster.install(seq: 1, [1, 2])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        let b = cluster.on(1) { layer, _ in layer.openSession(local: 2) }
        let c = cluster.on(2) { layer, _ in layer.openSession(local: 1) }
        for (s, g) in [(a, "g1"), (a, "g2"), (b, "g2")] {
            try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: s, group: g, into: &actions) }
        }
        try cluster.on(2) { layer, actions throws(GroupError) in try layer.join(session: c, group: "g1", into: &actions) }
        try cluster.on(2) { layer, actions throws(GroupError) in
            try layer.send(session: c, service: .agreed, groups: ["g1", "g2"], messageType: 3, selfDiscard: false,
                           payload: bytes("hi"), into: &actions)
        }
        cluster.deliver(among: [1, 2])
        let at1 = cluster.deliveries(1)
        let at2 = cluster.deliveries(2)
        #expect(at1.count == 1)
        #expect(at1.first?.recipients == [a, b])
        #expect(at2.first?.recipients == [c])
        #expect(at1.first?.data.groups == ["g1", "g2"])
        #expect(at1.first?.data.sessionSeq == 1)
        #expect(at1.first?.data.messageType == 3)
        #expect(at1.first?.service == .agreed)
        #expect(at1.first?.data.payload == bytes("hi"))
    }

    /// A stand-in (a site got the message's place, not its body) goes to no session: where the
    /// group has sessions of this daemon it is flagged and counted (the wide area sends one only
    /// where none is, but where a site departed and no daemon moving on held the body).
    @Test func aStandInReachesNoSession() throws {
        var cluster = Cluster([1, 2])
        cluster.install(seq: 1, [1, 2])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: a, group: "g", into: &actions) }
        cluster.deliver(among: [1, 2])
        let message = ClientData(
            sender: SessionID(daemon: NodeID(9), local: 1), sessionSeq: 1, messageType: 0, selfDiscard: false, groups: ["g"],
            payload: bytes("body"))
        let standIn = RingDelivery(
            ringID: RingID(seq: 1, representative: NodeID(1)), sender: NodeID(9), service: .agreed,
            payload: GroupMessageCodec.encode(.data(message.standIn)))
        for node: UInt32 in [1, 2] { cluster.on(node) { layer, actions in layer.ringDelivered(standIn, into: &actions) } }
        let at1 = try #require(cluster.deliveries(1).last)
        let at2 = try #require(cluster.deliveries(2).last)
        #expect(at1.recipients.isEmpty && at1.bodyWithheld && at1.data.isStandIn)
        #expect(at2.recipients.isEmpty && !at2.bodyWithheld)
        #expect(cluster.layers[NodeID(1)]!.withheldBodies == 1 && cluster.layers[NodeID(2)]!.withheldBodies == 0)
    }

    @Test func selfDiscardExcludesTheSender() throws {
        var cluster = Cluster([1, 2])
        cluster.install(seq: 1, [1, 2])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        let b = cluster.on(1) { layer, _ in layer.openSession(local: 2) }
        for s in [a, b] {
            try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: s, group: "g", into: &actions) }
        }
        var seqs: [UInt64] = []
        for discard in [true, false] {
            seqs.append(try cluster.on(1) { layer, actions throws(GroupError) in
                try layer.send(session: a, service: .fifo, groups: ["g"], messageType: 0, selfDiscard: discard,
                               payload: bytes("x"), into: &actions)
            })
        }
        // Multigroup with self-discard too.
        try cluster.on(1) { layer, actions throws(GroupError) in
            try layer.send(session: a, service: .reliable, groups: ["g", "#1#d1"], messageType: 0, selfDiscard: true,
                           payload: bytes("y"), into: &actions)
        }
        cluster.deliver(among: [1, 2])
        #expect(seqs == [1, 2])
        let delivered = cluster.deliveries(1)
        #expect(delivered.map(\.recipients) == [[b], [a, b], [b]])
        #expect(delivered.map(\.service) == [.fifo, .fifo, .reliable])
        #expect(cluster.deliveries(2).map(\.recipients) == [[], [], []])
    }

    @Test func privateGroupReachesOnlyThatSession() throws {
        var cluster = Cluster([1, 2])
        cluster.install(seq: 1, [1, 2])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        let b = cluster.on(2) { layer, _ in layer.openSession(local: 2) }
        _ = cluster.on(2) { layer, _ in layer.openSession(local: 3) }
        #expect(b.privateGroup == "#2#d2")
        try cluster.on(1) { layer, actions throws(GroupError) in
            try layer.send(session: a, service: .agreed, groups: [b.privateGroup, "#9#d2"], messageType: 0,
                           selfDiscard: false, payload: bytes("p"), into: &actions)
        }
        // Joining a private name is refused.
        let error = #expect(throws: GroupError.self) {
            try cluster.on(1) { layer, actions throws(GroupError) in
                try layer.join(session: a, group: b.privateGroup, into: &actions)
            }
        }
        #expect(error?.code == .reservedGroupName)
        cluster.deliver(among: [1, 2])
        #expect(cluster.deliveries(1).map(\.recipients) == [[]])
        #expect(cluster.deliveries(2).map(\.recipients) == [[b]])
    }

    @Test func anySessionMaySendToAnOpenGroup() throws {
        var cluster = Cluster([1, 2])
        cluster.install(seq: 1, [1, 2])
        let member = cluster.on(2) { layer, _ in layer.openSession(local: 1) }
        let outsider = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        try cluster.on(2) { layer, actions throws(GroupError) in try layer.join(session: member, group: "open", into: &actions) }
        try cluster.on(1) { layer, actions throws(GroupError) in
            try layer.send(session: outsider, service: .safe, groups: ["open"], messageType: 0, selfDiscard: false,
                           payload: bytes("knock"), into: &actions)
        }
        // To a group nobody is in: still reported at every daemon, with no recipients.
        try cluster.on(1) { layer, actions throws(GroupError) in
            try layer.send(session: outsider, service: .unreliable, groups: ["nobody"], messageType: 0,
                           selfDiscard: false, payload: bytes(""), into: &actions)
        }
        cluster.deliver(among: [1, 2])
        let at1 = cluster.deliveries(1)
        let at2 = cluster.deliveries(2)
        #expect(at1.map(\.recipients) == [[], []])
        #expect(at2.map(\.recipients) == [[member], []])
        #expect(at2.first?.data.sender == outsider)
        #expect(at2.first?.service == .safe)
    }

    @Test func singleGroupDeliverySharesTheCachedRecipients() throws {
        var cluster = Cluster([1])
        cluster.install(seq: 1, [1])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        let b = cluster.on(1) { layer, _ in layer.openSession(local: 2) }
        for s in [a, b] {
            try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: s, group: "g", into: &actions) }
        }
        for _ in 0..<2 {
            try cluster.on(1) { layer, actions throws(GroupError) in
                try layer.send(session: a, service: .agreed, groups: ["g"], messageType: 0, selfDiscard: false,
                               payload: bytes("z"), into: &actions)
            }
        }
        cluster.deliver(among: [1])
        let delivered = cluster.deliveries(1)
        #expect(delivered.count == 2)
        let cached = cluster.layers[NodeID(1)]!.state.localMembers(of: "g")
        func base(_ array: [SessionID]) -> UnsafeRawPointer? { array.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) } }
        #expect(base(delivered[0].recipients) == base(cached))
        #expect(base(delivered[1].recipients) == base(cached))
    }

    @Test func partitionThenMergeResynchronisesViews() throws {
        var cluster = Cluster([1, 2, 3])
        cluster.install(seq: 1, [1, 2, 3])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        let b = cluster.on(2) { layer, _ in layer.openSession(local: 1) }
        let c = cluster.on(3) { layer, _ in layer.openSession(local: 1) }
        for (node, s) in [(UInt32(1), a), (2, b), (3, c)] {
            try cluster.on(node) { layer, actions throws(GroupError) in try layer.join(session: s, group: "g", into: &actions) }
        }
        try cluster.on(3) { layer, actions throws(GroupError) in try layer.join(session: c, group: "solo", into: &actions) }
        cluster.deliver(among: [1, 2, 3])
        for node: UInt32 in [1, 2, 3] { _ = cluster.take(node) }

        // Partition: {1, 2} and {3}.
        cluster.configure(.transitional, seq: 2, [1, 2])
        cluster.configure(.transitional, seq: 3, [3])
        let left = RingID(seq: 2, representative: NodeID(1))
        let right = RingID(seq: 3, representative: NodeID(3))
        let t1 = cluster.views(1)
        #expect(shared(t1) == shared(cluster.views(2)))
        #expect(t1.map(\.group) == ["g"])
        #expect(t1.first?.members == [a, b])
        #expect(t1.first?.changed == [a, b])
        #expect(t1.first?.kind == .transitional)
        #expect(t1.first?.reason == .network)
        #expect(t1.first?.viewID == GroupViewID(ring: left, index: 0))
        #expect(t1.first?.recipients == [a])
        #expect(t1.first?.removed == [c])  // against the previous view, {a, b, c}
        #expect(t1.first?.added == [])
        let t3 = cluster.views(3)
        #expect(t3.map(\.group) == ["g", "solo"])
        #expect(t3.map(\.members) == [[c], [c]])
        #expect(t3.allSatisfy { $0.viewID == GroupViewID(ring: right, index: 0) })

        cluster.configure(.regular, seq: 2, [1, 2])
        cluster.configure(.regular, seq: 3, [3])
        // Data during the state exchange waits for the regular view.
        try cluster.on(1) { layer, actions throws(GroupError) in
            try layer.send(session: a, service: .agreed, groups: ["g"], messageType: 0, selfDiscard: false,
                           payload: bytes("during"), into: &actions)
        }
        // Total order on the left: state of 1, the data, state of 2.
        cluster.pending = [cluster.pending[0], cluster.pending[3], cluster.pending[1], cluster.pending[2]]
        cluster.deliver(among: [1, 2])
        cluster.deliver(among: [3])
        let r1 = cluster.take(1)
        #expect(r1.count == 2)
        guard case .view(let regular1) = r1.first, case .deliver(let during) = r1.last else {
            Issue.record("expected a view then a delivery, got \(r1)")
            return
        }
        #expect(during.recipients == [a])
        #expect(regular1.viewID == GroupViewID(ring: left, index: 1))
        #expect(regular1.members == [a, b])
        #expect(regular1.changed == [a, b])
        #expect(regular1.kind == .regular)
        #expect(regular1.added == [] && regular1.removed == [])
        #expect(cluster.views(3).map(\.members) == [[c], [c]])
        _ = cluster.take(2)

        // While apart: b joins "solo" on the left; c leaves "g" on the right.
        try cluster.on(2) { layer, actions throws(GroupError) in try layer.join(session: b, group: "solo", into: &actions) }
        try cluster.on(3) { layer, actions throws(GroupError) in try layer.leave(session: c, group: "g", into: &actions) }
        cluster.deliver(among: [1, 2])
        cluster.deliver(among: [3])
        #expect(cluster.views(1).map(\.members) == [[b]])
        #expect(cluster.views(3).map(\.members) == [[]])
        _ = cluster.take(2)

        // Merge: each side's transitional configuration, then one regular configuration.
        cluster.configure(.transitional, seq: 4, [1, 2])
        cluster.configure(.transitional, seq: 4, [3], representative: 1)  // leads to ring d1/4
        for node: UInt32 in [1, 2, 3] { _ = cluster.take(node) }
        cluster.configure(.regular, seq: 4, [1, 2, 3])
        // A join submitted before the states are all delivered: applied, no view of its own.
        let d = cluster.on(3) { layer, _ in layer.openSession(local: 2) }
        try cluster.on(3) { layer, actions throws(GroupError) in try layer.join(session: d, group: "g", into: &actions) }
        cluster.deliver(among: [1, 2, 3])
        let merged = RingID(seq: 4, representative: NodeID(1))
        let m1 = cluster.views(1)
        let m2 = cluster.views(2)
        let m3 = cluster.views(3)
        #expect(shared(m1) == shared(m2))
        #expect(shared(m1) == shared(m3))
        #expect(m1.map(\.group) == ["g", "solo", "g"])
        #expect(m1.map(\.viewID) == [GroupViewID(ring: merged, index: 1), GroupViewID(ring: merged, index: 1),
                                 GroupViewID(ring: merged, index: 2)])
        // The states complete the exchange (one regular view per group), then d's join.
        #expect(m1.map(\.reason) == [.network, .network, .join])
        #expect(m1.map(\.kind) == [.regular, .regular, .regular])
        #expect(m1[0].members == [a, b])
        #expect(m1[0].changed == [a, b])
        #expect(m3[0].changed == [])  // c left "g" on its side: nobody moved with daemon 3
        #expect(m1[1].members == [b, c])
        #expect(m1[1].changed == [b])
        #expect(m3[1].changed == [c])
        #expect(m3[1].recipients == [c])
        #expect(m1[2].members == [a, b, d])
        #expect(m1[2].changed == [d])
        // What each view added and removed, against that daemon's previous view of the group.
        #expect(m1.map(\.added) == [[], [c], [d]])
        #expect(m1.map(\.removed) == [[], [], []])
        #expect(m3.map(\.added) == [[a, b], [b], [d]])  // 3's last view of "g" was c's leave (empty)
        #expect(m3.map(\.removed) == [[], [], []])
        #expect(m3[2].recipients == [d])
        for node: UInt32 in [1, 2, 3] {
            #expect(cluster.layers[NodeID(node)]!.members(of: "g") == [a, b, d])
            #expect(cluster.layers[NodeID(node)]!.isSynchronized)
        }
        #expect(cluster.viewIDsIncrease())
    }

    /// A join delivered while the state exchange runs waits for the regular views, then gets a
    /// join view of its own (the session's first event is its join).
    @Test func changesDuringTheStateExchangeWaitForTheRegularViews() throws {
        var cluster = Cluster([1, 2])
        cluster.configure(.regular, seq: 1, [1, 2])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        let b = cluster.on(2) { layer, _ in layer.openSession(local: 1) }
        try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: a, group: "g", into: &actions) }
        // Total order: state of 1, a's join (while synchronising: held), state of 2.
        cluster.pending = [cluster.pending[0], cluster.pending[2], cluster.pending[1]]
        try cluster.on(2) { layer, actions throws(GroupError) in try layer.join(session: b, group: "g", into: &actions) }
        cluster.deliver(among: [1, 2])
        let ring = RingID(seq: 1, representative: NodeID(1))
        let v1 = cluster.views(1)
        let v2 = cluster.views(2)
        #expect(shared(v1) == shared(v2))
        // Nobody was in a group when the exchange ended (no network view), then the two joins.
        #expect(v1.map(\.reason) == [.join, .join])
        #expect(v1.map(\.viewID) == [GroupViewID(ring: ring, index: 1), GroupViewID(ring: ring, index: 2)])
        #expect(v1[0].members == [a])
        #expect(v1[0].changed == [a])
        #expect(v1[0].recipients == [a])
        #expect(v1[1].members == [a, b])
        #expect(v2[0].recipients == [])
        #expect(v2[1].recipients == [b])
    }

    @Test func interruptedStateExchangeKeepsTransitionalViewsConsistent() throws {
        var cluster = Cluster([1, 2, 3])
        cluster.install(seq: 1, [1, 2])
        cluster.install(seq: 2, [3])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        let c = cluster.on(3) { layer, _ in layer.openSession(local: 1) }
        try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: a, group: "g", into: &actions) }
        try cluster.on(3) { layer, actions throws(GroupError) in try layer.join(session: c, group: "g", into: &actions) }
        cluster.deliver(among: [1, 2])
        cluster.deliver(among: [3])
        for node: UInt32 in [1, 2, 3] { _ = cluster.take(node) }

        // Merge into {1,2,3}, but only daemon 3's state is delivered before the ring changes again.
        cluster.configure(.transitional, seq: 5, [1, 2])
        cluster.configure(.transitional, seq: 5, [3], representative: 1)
        cluster.configure(.regular, seq: 5, [1, 2, 3])
        let state3 = cluster.pending.removeLast()
        cluster.pending.removeAll()
        for node: UInt32 in [1, 2, 3] { cluster.deliverRaw(to: NodeID(node), from: NodeID(3), service: .agreed, state3.2) }
        for node: UInt32 in [1, 2, 3] { _ = cluster.take(node) }
        // Now 1 and 3 move on together; 2 is gone.
        cluster.configure(.transitional, seq: 6, [1, 3])
        let t1 = cluster.views(1)
        let t3 = cluster.views(3)
        #expect(shared(t1) == shared(t3))
        #expect(t1.first?.members == [c])  // a's daemon had not announced yet: left out everywhere
        #expect(t1.first?.recipients == [])
        cluster.install(seq: 6, [1, 3])
        let r1 = cluster.views(1)
        #expect(shared(r1) == shared(cluster.views(3)))
        #expect(r1.first?.members == [a, c])
        #expect(r1.first?.changed == [c])
        #expect(r1.first?.recipients == [a])
        #expect(cluster.viewIDsIncrease())
    }

    @Test func invalidRequestsAreTypedErrors() throws {
        var cluster = Cluster([1], limits: GroupLimits(maxGroupsPerMessage: 2, maxGroupNameLength: 4,
                                                        maxGroupsPerSession: 1, maxPayloadBytes: 8))
        cluster.install(seq: 1, [1])
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        func sendError(_ s: SessionID, _ groups: [String], _ size: Int) -> GroupError.Code? {
            let error = #expect(throws: GroupError.self) {
                try cluster.on(1) { layer, actions throws(GroupError) in
                    try layer.send(session: s, service: .agreed, groups: groups, messageType: 0, selfDiscard: false,
                                   payload: ByteBuffer(repeating: 0, count: size), into: &actions)
                }
            }
            return error?.code
        }
        #expect(sendError(a, ["a", "b", "c"], 1) == .tooManyGroups)
        #expect(sendError(a, [], 1) == .noGroups)
        #expect(sendError(a, ["toolong"], 1) == .invalidGroupName)
        #expect(sendError(a, [""], 1) == .invalidGroupName)
        #expect(sendError(a, ["g"], 9) == .payloadTooLarge)
        #expect(sendError(session(1, 99), ["g"], 1) == .unknownSession)
        #expect(sendError(session(2, 1), ["g"], 1) == .unknownSession)
        func joinError(_ s: SessionID, _ group: String) -> GroupError.Code? {
            let error = #expect(throws: GroupError.self) {
                try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: s, group: group, into: &actions) }
            }
            return error?.code
        }
        try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: a, group: "g", into: &actions) }
        #expect(joinError(a, "h") == .tooManyGroupsForSession)
        #expect(joinError(a, "#x") == .reservedGroupName)
        #expect(joinError(a, "12345") == .invalidGroupName)
        #expect(joinError(session(1, 5), "g") == .unknownSession)
        // Nothing refused reached the ring; the accepted join did, and a send at the limit works.
        #expect(cluster.pending.count == 1)
        let seq = try cluster.on(1) { layer, actions throws(GroupError) in
            try layer.send(session: a, service: .agreed, groups: ["g", "h"], messageType: 0, selfDiscard: false,
                           payload: ByteBuffer(repeating: 1, count: 8), into: &actions)
        }
        #expect(seq == 1)  // refused sends did not use a sequence number
        cluster.on(1) { layer, actions in layer.closeSession(a, into: &actions) }
        #expect(sendError(a, ["g"], 1) == .unknownSession)
    }

    @Test func limitsAreClampedToTheWire() {
        let limits = GroupLimits(maxGroupsPerMessage: 1_000_000, maxGroupNameLength: 0, maxGroupsPerSession: -3,
                                 maxPayloadBytes: Int.max)
        #expect(limits.maxGroupsPerMessage == WireLimits.maxGroupsPerMessage)
        #expect(limits.maxGroupNameLength == 1)
        #expect(limits.maxGroupsPerSession == 1)
        #expect(limits.maxPayloadBytes < WireLimits.maxMessageSize)
    }

    @Test func undecodablePayloadIsReportedNotFatal() throws {
        var cluster = Cluster([1])
        cluster.install(seq: 1, [1])
        let garbage: [ByteBuffer] = [ByteBuffer(), ByteBuffer(bytes: [1, 99]), ByteBuffer(bytes: [7, 1, 2, 3]),
                                     ByteBuffer(bytes: [1, 2, 0, 0, 0, 1, 0, 0, 0, 1, 200])]
        for payload in garbage {
            cluster.deliverRaw(to: NodeID(1), from: NodeID(2), service: .agreed, payload)
        }
        let actions = cluster.take(1)
        #expect(actions.count == garbage.count)
        for action in actions {
            guard case .decodeError(let text) = action else {
                Issue.record("expected a decode error, got \(action)")
                continue
            }
            #expect(text.contains("d2"))
        }
        #expect(cluster.layers[NodeID(1)]!.decodeErrors == garbage.count)
        // The layer still works afterwards.
        let a = cluster.on(1) { layer, _ in layer.openSession(local: 1) }
        try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: a, group: "g", into: &actions) }
        cluster.deliver(among: [1])
        #expect(cluster.views(1).map(\.members) == [[a]])
    }

    @Test func departedDaemonsJoinIsIgnoredInTheTransitionalConfiguration() throws {
        var cluster = Cluster([1, 2])
        cluster.install(seq: 1, [1, 2])
        let b = cluster.on(2) { layer, _ in layer.openSession(local: 1) }
        try cluster.on(2) { layer, actions throws(GroupError) in try layer.join(session: b, group: "g", into: &actions) }
        let join = cluster.pending.removeLast()
        cluster.configure(.transitional, seq: 2, [1])
        // Recovered from the old ring and delivered in the transitional configuration.
        cluster.deliverRaw(to: NodeID(1), from: NodeID(2), service: .agreed, join.2)
        #expect(cluster.layers[NodeID(1)]!.members(of: "g") == [])
        #expect(cluster.layers[NodeID(1)]!.ignoredMessages == 1)
        cluster.install(seq: 2, [1])
        #expect(cluster.views(1).isEmpty)
    }
}

/// An announcement larger than one ring message travels in pieces, and the exchange completes
/// with every session's groups (before, the ring refused it and the views froze everywhere).
@Test func largeAnnouncementTravelsInPieces() throws {
    var limits = GroupLimits.default
    limits.maxAnnouncementBytes = 300
    var cluster = Cluster([1, 2], limits: limits)
    cluster.install(seq: 1, [1, 2])
    let groups = (0..<12).map { "group-with-a-long-name-\($0)" }
    var sessions: [SessionID] = []
    for local: UInt64 in 1...6 {
        // Named sessions: a piece's size counts the names' bytes too (it once counted them as empty).
        let session = cluster.on(1) { layer, _ in layer.openSession(local: local, name: "a-session-with-a-long-name-\(local)") }
        sessions.append(session)
        for group in groups {
            try cluster.on(1) { layer, actions throws(GroupError) in try layer.join(session: session, group: group, into: &actions) }
        }
    }
    cluster.deliver(among: [1, 2])
    // A new configuration: daemon 1 announces 6 sessions × 12 groups, far above 300 bytes.
    cluster.configure(.transitional, seq: 2, [1, 2])
    cluster.configure(.regular, seq: 2, [1, 2])
    let pieces = cluster.pending.filter { $0.0 == NodeID(1) }.count
    #expect(pieces > 5, "\(pieces) pieces")
    for (_, _, bytes) in cluster.pending { #expect(bytes.readableBytes <= 300) }
    cluster.deliver(among: [1, 2])
    for node: UInt32 in [1, 2] {
        #expect(cluster.layers[NodeID(node)]!.isSynchronized)
        for group in groups { #expect(cluster.layers[NodeID(node)]!.members(of: group) == sessions) }
    }
    let pieceList = GroupLayer.announcementPieces(
        sessions.map { SessionMemberships(session: $0, groups: groups) }, limit: 300)
    #expect(pieceList.flatMap { $0 }.reduce(0) { $0 + $1.groups.count } == 6 * 12)
    #expect(GroupLayer.announcementPieces([], limit: 300).count == 1)
}
