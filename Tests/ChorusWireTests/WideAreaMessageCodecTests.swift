import ChorusWire
import NIOCore
import Testing

/// The order layer's messages: round trips, and every malformed input refused with an error.
@Suite struct WideAreaMessageCodecTests {
    static let configuration = SiteConfigurationID(seq: 4, coordinator: SiteID(1))
    static let data = WideAreaMessage.data(
        WideAreaData(
            origin: SiteID(3), seq: 42, lamport: 1_800_000_000_000_000_000, configuration: configuration, service: .safe, sender: NodeID(9),
            payload: ByteBuffer(bytes: [1, 1, 2, 3])))
    static let heartbeat = WideAreaMessage.heartbeat(
        WideAreaHeartbeat(
            origin: SiteID(2), configuration: configuration, lamport: 77, lastSeq: 5,
            progress: [SiteProgress(site: SiteID(1), received: 9, held: 8), SiteProgress(site: SiteID(2), received: 5, held: 5)]))

    /// Data its origin pruned for sites 2 and 5 (they got a stand-in).
    static let pruned: WideAreaMessage = {
        var data = WideAreaData(
            origin: SiteID(3), seq: 43, lamport: 1_800_000_000_000_000_001, configuration: configuration, service: .agreed,
            sender: NodeID(9), payload: ByteBuffer(bytes: [1, 1, 2, 3]))
        data.pruned = [SiteID(2), SiteID(5)]
        return .data(data)
    }()

    static let unreliable = WideAreaMessage.data(
        WideAreaData(origin: SiteID(1), seq: 0, lamport: 0, configuration: configuration, service: .unreliable, sender: NodeID(2), payload: ByteBuffer(bytes: [1, 1])))

    static let snapshot = WideAreaMessage.state(
        WideAreaSnapshot(
            requester: NodeID(4), takenAt: NodeID(5), clock: 99, localSeq: 7,
            sites: [.init(site: SiteID(1), received: 7, promised: 99, held: 6), .init(site: SiteID(3), received: 42, promised: 98, held: 40)],
            reports: [.init(reporter: SiteID(3), progress: [SiteProgress(site: SiteID(1), received: 5, held: 4)])],
            waiting: [WideAreaData(origin: SiteID(3), seq: 42, lamport: 98, configuration: configuration, service: .agreed, sender: NodeID(9), payload: ByteBuffer(bytes: [1, 1]))],
            outbox: [WideAreaData(origin: SiteID(1), seq: 7, lamport: 99, configuration: configuration, service: .safe, sender: NodeID(4), payload: ByteBuffer(bytes: [1, 1, 5]))],
            membership: WideAreaMembershipState(
                configuration: SiteConfiguration(id: configuration, sites: [SiteID(1), SiteID(3)]), attempt: 3, phase: 2, proposing: [],
                lastInstall: install, proposals: [proposal(SiteID(1)), proposal(SiteID(3))],
                consumed: [.init(site: SiteID(1), received: 3)],
                frozen: [.init(service: .fifo, sender: NodeID(4), payload: ByteBuffer(bytes: [1, 1, 9]))],
                relay: [WideAreaData(origin: SiteID(3), seq: 41, lamport: 97, configuration: configuration, service: .agreed, sender: NodeID(9), payload: ByteBuffer(bytes: [1, 1]))],
                finishing: [SiteID(3)], confirmed: [SiteID(1)], delivered: WideAreaPosition(lamport: 96, origin: SiteID(3), seq: 40),
                highestSeq: 5, pending: [NodeID(4), NodeID(6)],
                siteDaemons: [.init(site: SiteID(1), daemons: [NodeID(5)]), .init(site: SiteID(3), daemons: [NodeID(9), NodeID(10)])],
                ordinal: 31,
                exchange: .init(
                    epoch: 12, running: true, announced: [NodeID(5), NodeID(9)], started: [NodeID(10)],
                    firstSessions: [0xA1A2_A3A4_A5A6_A7A8, 1, UInt64.max],
                    held: [
                        .init(service: .agreed, position: WideAreaPosition(lamport: 97, origin: SiteID(3), seq: 41), payload: ByteBuffer(bytes: [1, 4, 0, 0, 0, 9, 0, 0, 0, 1])),
                        .init(service: .unreliable, position: nil, payload: ByteBuffer(bytes: [1, 1])),
                    ]),
                unreliableSeen: [.init(site: SiteID(3), ids: [7, 3, 9])])))

    static let snapshotWithInterests: WideAreaMessage = {
        guard case .state(var snapshot) = snapshot else { fatalError() }
        var overflowed = WideAreaSnapshot.SiteInterests(site: SiteID(3), groups: [])
        overflowed.all = true
        overflowed.overflowed = true
        var leased = WideAreaSnapshot.SiteInterests(site: SiteID(1), groups: ["chat", "h"])
        leased.leases = 3
        snapshot.interests = [leased, overflowed]
        snapshot.standIns = [SiteSeqs(site: SiteID(3), seqs: [7, 8])]
        return .state(snapshot)
    }()

    static func proposal(_ origin: SiteID, sites: [SiteID] = [SiteID(1), SiteID(3)]) -> SiteProposal {
        var proposal = SiteProposal(
            origin: origin, attempt: 3, configuration: configuration, cutSeq: UInt64(origin.rawValue) * 10, clock: 500,
            delivered: WideAreaPosition(lamport: 480, origin: SiteID(2), seq: 17), sites: sites,
            received: [.init(site: SiteID(1), received: 10), .init(site: SiteID(2), received: 17), .init(site: SiteID(3), received: 30)])
        proposal.interests = origin == SiteID(3) ? ["alpha", "beta"] : []
        proposal.standIns = origin == SiteID(3) ? [SiteSeqs(site: SiteID(2), seqs: [4, 9])] : []
        return proposal
    }
    static let install = SiteInstall(
        id: SiteConfigurationID(seq: 5, coordinator: SiteID(1)), proposals: [proposal(SiteID(1)), proposal(SiteID(3))])

    @Test(arguments: [
        WideAreaMessage.tick(stamp: 0), .tick(stamp: .max), data, heartbeat, unreliable, .stateRequest(requester: NodeID(3), stamp: 1_790_000_000_000_000_000), snapshot,
        .propose(sites: [SiteID(1), SiteID(2)]), .proposal(proposal(SiteID(3))), .install(install), pruned, snapshotWithInterests,
    ])
    func roundTrips(_ message: WideAreaMessage) throws {
        let encoded = WideAreaMessageCodec.encode(message)
        #expect(encoded.readableBytes == WideAreaMessageCodec.encodedSize(message))
        #expect(WideAreaMessageCodec.isWideArea(encoded))
        #expect(try WideAreaMessageCodec.decode(encoded) == message)
    }

    @Test func groupMessagesAreNotWideArea() {
        #expect(!WideAreaMessageCodec.isWideArea(ByteBuffer(bytes: [3, 1, 0])))
        #expect(!WideAreaMessageCodec.isWideArea(ByteBuffer()))
        #expect(GroupMessageCodec.isClientData(ByteBuffer(bytes: [3, 1, 0])))
        #expect(!GroupMessageCodec.isClientData(ByteBuffer(bytes: [3, 2, 0])))
    }

    /// Every prefix of a valid message is refused (truncated), and a trailing byte too.
    @Test(arguments: [
        WideAreaMessage.tick(stamp: 5), heartbeat, snapshot, .proposal(proposal(SiteID(1))), .proposal(proposal(SiteID(3))), .install(install),
        snapshotWithInterests,
    ])
    func truncationAndTrailingBytes(_ message: WideAreaMessage) {
        let encoded = WideAreaMessageCodec.encode(message)
        for length in 0..<encoded.readableBytes {
            #expect(throws: WireError.self) { try WideAreaMessageCodec.decode(encoded.getSlice(at: 0, length: length)!) }
        }
        var longer = encoded
        longer.writeInteger(UInt8(0))
        #expect(throws: WireError.self) { try WideAreaMessageCodec.decode(longer) }
    }

    static func mutated(_ message: WideAreaMessage, at offset: Int, _ bytes: [UInt8]) -> ByteBuffer {
        var encoded = WideAreaMessageCodec.encode(message)
        encoded.setBytes(bytes, at: offset)
        return encoded
    }

    @Test func badFieldsAreRefused() {
        let cases: [(String, ByteBuffer)] = [
            ("marker", Self.mutated(.tick(stamp: 1), at: 0, [1])),
            ("kind", Self.mutated(.tick(stamp: 1), at: 1, [10])),
            ("service", Self.mutated(Self.data, at: 34, [6])),
            ("seq 0", Self.mutated(Self.data, at: 6, [0, 0, 0, 0, 0, 0, 0, 0])),
            ("lamport 0", Self.mutated(Self.data, at: 14, [0, 0, 0, 0, 0, 0, 0, 0])),
            ("unreliable with a seq", Self.mutated(Self.unreliable, at: 13, [1])),
            // held (8) above received (9 → 7)
            ("held above received", Self.mutated(Self.heartbeat, at: 40, [0, 0, 0, 0, 0, 0, 0, 7])),
            // second site 2 → 1: not ascending
            ("sites not ascending", Self.mutated(Self.heartbeat, at: 56, [0, 0, 0, 1])),
            // count 2 → 0xFFFF: more than the bytes hold
            ("count", Self.mutated(Self.heartbeat, at: 34, [0xFF, 0xFF])),
        ]
        for (what, bytes) in cases {
            #expect(throws: WireError.self, "\(what)") { try WideAreaMessageCodec.decode(bytes) }
        }
    }

    /// Pruned data names its stand-in sites ascending, at least one, never its origin, and only
    /// for ordered data; a site's interests are valid group names, strictly ascending.
    @Test func prunedDataAndInterestsAreChecked() throws {
        // pruned data: marker kind | origin 2 | seq 6 | lamport 14 | configuration 22 | service 34 | sender 35 | count 39 | sites 41, 45 | payload 49
        #expect(WideAreaMessageCodec.encode(Self.pruned).getInteger(at: 1, as: UInt8.self) == 9)
        let cases: [(String, ByteBuffer)] = [
            ("no site", Self.mutated(Self.pruned, at: 39, [0, 0])),
            ("sites not ascending", Self.mutated(Self.pruned, at: 45, [0, 0, 0, 1])),
            ("its origin", Self.mutated(Self.pruned, at: 45, [0, 0, 0, 3])),
            ("unreliable", Self.mutated(Self.pruned, at: 34, [0])),
        ]
        for (what, bytes) in cases {
            #expect(throws: WireError.self, "\(what)") { try WideAreaMessageCodec.decode(bytes) }
        }
        var proposal = Self.proposal(SiteID(3))
        proposal.interests = ["beta", "alpha"]
        #expect(throws: WireError.self) { try WideAreaMessageCodec.validate(.proposal(proposal)) }
        proposal.interests = ["alpha", "alpha"]
        #expect(throws: WireError.self) { try WideAreaMessageCodec.validate(.proposal(proposal)) }
        proposal.interests = [""]
        #expect(throws: WireError.self) { try WideAreaMessageCodec.validate(.proposal(proposal)) }
        // A count of groups beyond what the bytes hold is refused before anything is allocated.
        proposal.interests = ["alpha"]
        proposal.standIns = []
        var encoded = WideAreaMessageCodec.encode(.proposal(proposal))
        encoded.setInteger(UInt32(0x7FFF_FFFF), at: encoded.writerIndex - 12)
        #expect(throws: WireError.self) { try WideAreaMessageCodec.decode(encoded) }
        // Every group and a list; stand-in seqs not ascending, or none for a site.
        proposal.interestsAll = true
        #expect(throws: WireError.self) { try WideAreaMessageCodec.validate(.proposal(proposal)) }
        proposal.interestsAll = false
        proposal.standIns = [SiteSeqs(site: SiteID(2), seqs: [9, 4])]
        #expect(throws: WireError.self) { try WideAreaMessageCodec.validate(.proposal(proposal)) }
        proposal.standIns = [SiteSeqs(site: SiteID(2), seqs: [])]
        #expect(throws: WireError.self) { try WideAreaMessageCodec.validate(.proposal(proposal)) }
    }

    /// The exchange's first session numbers travel one per announcing daemon: a count that does
    /// not match the daemons that announced is refused.
    @Test func firstSessionNumbersMatchTheAnnouncingDaemons() throws {
        let encoded = WideAreaMessageCodec.encode(Self.snapshot)
        let bytes = Array(encoded.readableBytesView)
        let first: [UInt8] = [0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8]
        let at = try #require((0...(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == first })
        #expect(bytes[at - 2] == 0 && bytes[at - 1] == 3)
        for count: UInt8 in [2, 4] {
            var edited = encoded
            edited.setInteger(UInt16(count), at: at - 2)
            do {
                _ = try WideAreaMessageCodec.decode(edited)
                Issue.record("count \(count) accepted")
            } catch {
                #expect("\(error)".contains("membership.exchange.firstSessions"), "count \(count): \(error)")
            }
        }
    }

    /// A snapshot closing towards no install is refused (the state it describes cannot exist).
    @Test func aSnapshotClosingTowardsNoInstallIsRefused() throws {
        guard case .state(var snapshot) = Self.snapshot else { return }
        snapshot.membership.lastInstall = nil
        #expect(throws: WireError.self) { try WideAreaMessageCodec.validate(.state(snapshot)) }
        snapshot.membership.phase = 0
        try WideAreaMessageCodec.validate(.state(snapshot))
    }

    /// Proposals and installs that break their rules are refused (encoding them would trap, so
    /// the bytes are edited): an origin not among its sites, a cut that is not its own received
    /// entry, an install whose members proposed other sites, or whose coordinator is not the lowest.
    @Test func badProposalsAndInstallsAreRefused() {
        // proposal layout: marker kind | origin 2 | attempt 6 | configuration 14 | cutSeq 26 | clock 34 | delivered 42 | count 62 | sites 64...
        let proposal = WideAreaMessage.proposal(Self.proposal(SiteID(3)))
        let install = WideAreaMessage.install(Self.install)
        let cases: [(String, ByteBuffer)] = [
            ("origin not proposed", Self.mutated(proposal, at: 2, [0, 0, 0, 2])),
            ("cut not its own entry", Self.mutated(proposal, at: 26, [0, 0, 0, 0, 0, 0, 0, 31])),
            ("sites not ascending", Self.mutated(proposal, at: 64, [0, 0, 0, 3])),
            // install: id 2 (12) | count 14 | length 16 | first proposal 20 (its second site at 20 + 68)
            ("coordinator not the lowest", Self.mutated(install, at: 10, [0, 0, 0, 3])),
            ("members proposed other sites", Self.mutated(install, at: 20 + 68, [0, 0, 0, 2])),
        ]
        for (what, bytes) in cases {
            #expect(throws: WireError.self, "\(what)") { try WideAreaMessageCodec.decode(bytes) }
        }
    }

    /// Random bytes after the marker never trap (they decode or throw).
    @Test func randomInputNeverTraps() {
        var state: UInt64 = 0x9E37_79B9
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 58)
            var buffer = ByteBuffer(bytes: [WideAreaMessageCodec.marker, UInt8(1 + (state >> 40) % 8)])
            for index in 0..<length { buffer.writeInteger(UInt8(truncatingIfNeeded: (state >> UInt64(index % 56)) &+ UInt64(index))) }
            _ = try? WideAreaMessageCodec.decode(buffer)
        }
    }
}
