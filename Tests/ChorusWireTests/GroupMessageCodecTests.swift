import ChorusWire
import NIOCore
import Testing

@Suite("Group message codec")
struct GroupMessageCodecTests {
    typealias S = ByteSurgery
    static let session = SessionID(daemon: NodeID(2), local: 7)

    static func roundTrip(_ message: GroupMessage, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let encoded = GroupMessageCodec.encode(message)
        #expect(encoded.readableBytes == GroupMessageCodec.encodedSize(message), sourceLocation: sourceLocation)
        let decoded = try GroupMessageCodec.decode(encoded)
        #expect(decoded == message, sourceLocation: sourceLocation)
        #expect(GroupMessageCodec.encode(decoded) == encoded, sourceLocation: sourceLocation)
    }

    @Test func everyKind() throws {
        try Self.roundTrip(.data(ClientData(
            sender: Self.session, sessionSeq: 1, messageType: 0, selfDiscard: false, groups: ["chat"], payload: ByteBuffer()
        )))
        try Self.roundTrip(.data(ClientData(
            sender: Self.session, sessionSeq: .max, messageType: .max, selfDiscard: true,
            groups: Gen.sampleNames + [Self.session.privateGroup], payload: ByteBuffer(bytes: Array(0..<255))
        )))
        try Self.roundTrip(.join(session: Self.session, group: "群組"))
        try Self.roundTrip(.leave(session: Self.session, group: String(repeating: "é", count: 127)))
        try Self.roundTrip(.disconnect(session: SessionID(daemon: NodeID(.max), local: .max)))
        try Self.roundTrip(.state(daemon: NodeID(2), configuration: .none, sessions: []))
        try Self.roundTrip(.state(daemon: NodeID(2), configuration: .none, sessions: [], more: true))
        try Self.roundTrip(.state(
            daemon: NodeID(2), configuration: RingID(seq: 9, representative: NodeID(1)),
            sessions: [
                SessionMemberships(session: Self.session, groups: []),
                SessionMemberships(session: SessionID(daemon: NodeID(2), local: 8), groups: ["a", "b"]),
            ]
        ))
        let message = ClientData(
            sender: Self.session, sessionSeq: 12, messageType: 4, selfDiscard: true, groups: ["a", "b"], payload: ByteBuffer(string: "body"))
        try Self.roundTrip(.data(message.standIn))
        try Self.roundTrip(.siteDaemons(site: SiteID(3), daemons: []))
        try Self.roundTrip(.siteDaemons(site: SiteID(.max), daemons: [NodeID(1), NodeID(7), NodeID(.max)]))
    }

    /// A site's daemons: ascending and distinct (one encoding per set), at most `WireLimits.maxMembers`.
    /// A stand-in is the message without its body, flagged (bit 1): both decoders give the same,
    /// and one that carries a body is refused.
    @Test func standInsCarryNoBody() throws {
        let message = ClientData(
            sender: Self.session, sessionSeq: 12, messageType: 4, selfDiscard: false, groups: ["a"], payload: ByteBuffer(string: "body"))
        let standIn = GroupMessageCodec.encode(.data(message.standIn))
        var names = GroupNameCache()
        let fast = try #require(GroupMessageCodec.decodeData(standIn, names: &names))
        #expect(fast.isStandIn && fast.payload.readableBytes == 0 && fast.groups == ["a"] && fast.sessionSeq == 12)
        #expect(try GroupMessageCodec.decode(standIn) == .data(message.standIn))
        var withBody = GroupMessageCodec.encode(.data(message))
        let flags = withBody.readerIndex + 2 + 12 + 1 + 8 + 2
        withBody.setInteger(UInt8(0x02), at: flags)
        #expect(GroupMessageCodec.decodeData(withBody, names: &names) == nil)
        #expect(throws: WireError.self) { try GroupMessageCodec.decode(withBody) }
    }

    @Test func siteDaemonsAreCanonical() {
        #expect(throws: WireError.self) { try GroupMessageCodec.validate(.siteDaemons(site: SiteID(1), daemons: [NodeID(2), NodeID(1)])) }
        #expect(throws: WireError.self) { try GroupMessageCodec.validate(.siteDaemons(site: SiteID(1), daemons: [NodeID(2), NodeID(2)])) }
        // version 3, kind 7, site 1, count 2, daemons 5 then 3.
        let descending: [UInt8] = [3, 7, 0, 0, 0, 1, 0, 2, 0, 0, 0, 5, 0, 0, 0, 3]
        #expect(S.decodeGroup(descending) == .failure(.invalidField("group.siteDaemons.daemons", reason: "not sorted ascending without duplicates (d5 then d3)")))
        let tooMany: [UInt8] = [3, 7, 0, 0, 0, 1, 0xFF, 0xFF]
        #expect(S.decodeGroup(tooMany) == .failure(.tooMany("group.siteDaemons.daemons", count: 65535, limit: WireLimits.maxMembers)))
        let truncated: [UInt8] = [3, 7, 0, 0, 0, 1, 0, 2, 0, 0, 0, 5]
        #expect(S.decodeGroup(truncated).map { _ in true } != .success(true))
        #expect(GroupMessageCodec.isSiteDaemons(ByteBuffer(bytes: descending)))
        #expect(!GroupMessageCodec.isSiteDaemons(ByteBuffer(bytes: [3, 1])))
    }

    /// The data layout byte for byte, as docs and other implementations read it.
    @Test func dataBytes() throws {
        let message = GroupMessage.data(ClientData(
            sender: SessionID(daemon: NodeID(2), local: 7, name: "al"), sessionSeq: 1, messageType: 0x0102, selfDiscard: true,
            groups: ["ab"], payload: ByteBuffer(bytes: [9])))
        let expected: [UInt8] = [
            3, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 2, 0x61, 0x6C, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 1, 0, 1, 2, 0x61, 0x62, 0, 0, 0, 1, 9,
        ]
        #expect(GroupMessageCodec.encode(message).bytes == expected)
        var cache = GroupNameCache()
        let decoded = try GroupMessageCodec.decode(ByteBuffer(bytes: expected), names: &cache)
        #expect(decoded == message)
        guard case .data(let data) = decoded else { return }
        #expect(data.sender.name == "al" && data.sender.privateGroup(daemonName: "beta") == "#al#beta")
        #expect(try GroupMessageCodec.decode(ByteBuffer(bytes: expected), names: &cache) == message)
    }

    /// A session's name travels with it; one that could not be a connect name is refused.
    /// Session numbers are 64-bit (a daemon numbers them from its start time in microseconds) and
    /// an announcement carries its daemon's first session number, both exactly.
    @Test func wideSessionNumbersAndFirstSessionsTravel() throws {
        let session = SessionID(daemon: NodeID(7), local: 1_765_000_000_123_456, name: "alice")
        let messages: [GroupMessage] = [
            .join(session: session, group: "g"),
            .state(
                daemon: NodeID(7), configuration: .none, sessions: [SessionMemberships(session: session, groups: ["g"])],
                firstSession: 1_765_000_000_000_000),
            .state(daemon: NodeID(7), configuration: .none, sessions: [], more: true, firstSession: UInt64.max),
        ]
        for message in messages {
            #expect(try GroupMessageCodec.decode(GroupMessageCodec.encode(message)) == message)
        }
        var names = GroupNameCache()
        let data = ClientData(
            sender: session, sessionSeq: 3, messageType: 9, selfDiscard: false, groups: ["g"], payload: ByteBuffer(string: "x"))
        let encoded = GroupMessageCodec.encode(.data(data))
        #expect(GroupMessageCodec.decodeData(encoded, names: &names)?.sender.local == session.local)
        #expect(GroupMessageCodec.dataSenderAndSeq(encoded)?.sender.local == session.local)
        #expect(GroupMessageCodec.dataSenderAndSeq(encoded)?.seq == 3)
    }

    @Test func sessionNamesTravelAndBadOnesAreRefused() throws {
        let named = SessionID(daemon: NodeID(3), local: 9, name: "r1234-11")
        for message in [
            GroupMessage.join(session: named, group: "g"), .leave(session: named, group: "g"), .disconnect(session: named),
            .state(daemon: NodeID(3), configuration: .none, sessions: [SessionMemberships(session: named, groups: ["g"])]),
        ] {
            let decoded = try GroupMessageCodec.decode(GroupMessageCodec.encode(message))
            #expect(decoded == message)
            let session: SessionID? =
                switch decoded {
                case .join(let session, _), .leave(let session, _), .disconnect(let session): session
                case .state(_, _, let sessions, _, _): sessions.first?.session
                default: nil
                }
            #expect(session?.name == "r1234-11")
        }
        var bytes = GroupMessageCodec.encode(.disconnect(session: named)).bytes
        bytes[15] = UInt8(ascii: "#")  // the name's first byte
        #expect(throws: WireError.self) { try GroupMessageCodec.decode(ByteBuffer(bytes: bytes)) }
        bytes[15] = 0x20
        #expect(throws: WireError.self) { try GroupMessageCodec.decode(ByteBuffer(bytes: bytes)) }
        let long = [2, 3, 0, 0, 0, 3, 0, 0, 0, 9, 33] + [UInt8](repeating: 0x61, count: 33)
        #expect(throws: WireError.self) { try GroupMessageCodec.decode(ByteBuffer(bytes: long)) }
        #expect(!SessionID.isValidName("") && !SessionID.isValidName("a#b") && !SessionID.isValidName(String(repeating: "x", count: 33)))
        #expect(SessionID.isValidName("alice") && SessionID.isValidName(String(repeating: "~", count: 32)))
    }

    @Test func maxGroupsPerMessage() throws {
        let groups = (0..<WireLimits.maxGroupsPerMessage).map { "g\($0)" }
        try Self.roundTrip(.data(ClientData(
            sender: Self.session, sessionSeq: 3, messageType: 1, selfDiscard: false, groups: groups, payload: ByteBuffer()
        )))
    }

    @Test func randomMessages() throws {
        var rng = SplitMix64(seed: 0x6A0B_0001)
        for _ in 0..<2000 {
            try Self.roundTrip(Gen.groupMessage(&rng))
        }
    }

    @Test func payloadIsZeroCopySlice() throws {
        let encoded = GroupMessageCodec.encode(.data(ClientData(
            sender: Self.session, sessionSeq: 1, messageType: 0, selfDiscard: false, groups: ["g"],
            payload: ByteBuffer(bytes: Array(repeating: 1, count: 64))
        )))
        guard case .data(let data) = try GroupMessageCodec.decode(encoded) else {
            Issue.record("not data")
            return
        }
        let inside = encoded.withUnsafeReadableBytes { whole in
            data.payload.withUnsafeReadableBytes { part in
                part.baseAddress! > whole.baseAddress! && part.baseAddress! + part.count <= whole.baseAddress! + whole.count
            }
        }
        #expect(inside)
    }

    @Test func validation() {
        #expect(throws: WireError.self) {
            try GroupMessageCodec.validate(.join(session: Self.session, group: ""))
        }
        #expect(throws: WireError.self) {
            try GroupMessageCodec.validate(.join(session: Self.session, group: String(repeating: "x", count: 256)))
        }
        #expect(throws: WireError.self) {
            try GroupMessageCodec.validate(.data(ClientData(
                sender: Self.session, sessionSeq: 1, messageType: 0, selfDiscard: false, groups: [], payload: ByteBuffer()
            )))
        }
        #expect(throws: WireError.self) {
            try GroupMessageCodec.validate(.data(ClientData(
                sender: Self.session, sessionSeq: 0, messageType: 0, selfDiscard: false, groups: ["g"], payload: ByteBuffer()
            )))
        }
        #expect(WireLimits.isValidGroupName("ok"))
        #expect(!WireLimits.isValidGroupName(String(repeating: "é", count: 128)))
    }

    // Data layout offsets (a session without a name): version 0, kind 1, session 2 (daemon, local
    // u64, name length at 14), sessionSeq 15, messageType 23, flags 25, groupCount 26, first group
    // length 28, first group bytes 29, payloadLength 32.
    static let data = GroupMessageCodec.encode(.data(ClientData(
        sender: session, sessionSeq: 5, messageType: 1, selfDiscard: false, groups: ["abc"], payload: ByteBuffer(bytes: [9, 9])
    ))).bytes

    static func patched(_ patch: (inout [UInt8]) -> Void) -> Result<GroupMessage, WireError> {
        var bytes = data
        patch(&bytes)
        return S.decodeGroup(bytes)
    }

    @Test func rejectsMalformed() {
        #expect(S.decodeGroup(Self.data).map { _ in true } == .success(true))
        #expect(S.decodeGroup([]) == .failure(.truncated(field: "group.version", need: 1, have: 0)))
        #expect(Self.patched { $0[0] = 2 } == .failure(.unsupportedVersion(2)))
        #expect(Self.patched { $0[0] = 4 } == .failure(.unsupportedVersion(4)))
        #expect(Self.patched { $0[1] = 0 } == .failure(.unknownType(0)))
        #expect(Self.patched { $0[1] = 9 } == .failure(.unknownType(9)))
        #expect(Self.patched { $0[25] = 0x80 } == .failure(.invalidField("group.data.flags", reason: "unknown flag bits 0x80")))
        #expect(Self.patched { S.put(UInt64(0), at: 15, in: &$0) } == .failure(.invalidField("group.data.sessionSeq", reason: "counts from 1")))
        #expect(Self.patched { S.put(UInt16(0), at: 26, in: &$0) }
            == .failure(.lengthMismatch(field: "group.data.payloadLength", declared: 0x0361_6263, actual: 6)))
        #expect(Self.patched { S.put(UInt16.max, at: 26, in: &$0) }
            == .failure(.tooMany("group.data.groups", count: 65535, limit: WireLimits.maxGroupsPerMessage)))
        #expect(Self.patched { $0[28] = 0 } == .failure(.invalidField("group.data.groups", reason: "empty")))
        #expect(Self.patched { $0[28] = 255 } == .failure(.truncated(field: "group.data.groups", need: 255, have: 9)))
        #expect(Self.patched { $0[29] = 0xFF } == .failure(.invalidField("group.data.groups", reason: "not valid UTF-8")))
        #expect(Self.patched { $0[29] = 0xC3 } == .failure(.invalidField("group.data.groups", reason: "not valid UTF-8")))
        #expect(Self.patched { $0.append(0) }
            == .failure(.lengthMismatch(field: "group.data.payloadLength", declared: 2, actual: 3)))
        #expect(Self.patched { $0.removeLast() }
            == .failure(.lengthMismatch(field: "group.data.payloadLength", declared: 2, actual: 1)))
        #expect(Self.patched { S.put(UInt32.max, at: 32, in: &$0) }
            == .failure(.lengthMismatch(field: "group.data.payloadLength", declared: Int(UInt32.max), actual: 2)))

        var disconnect = GroupMessageCodec.encode(.disconnect(session: Self.session)).bytes
        disconnect.append(1)
        #expect(S.decodeGroup(disconnect) == .failure(.trailingBytes(field: "group message", count: 1)))

        var state = GroupMessageCodec.encode(.state(daemon: NodeID(1), configuration: .none, sessions: [])).bytes
        S.put(UInt32.max, at: 26, in: &state)  // after daemon, firstSession, configuration
        #expect(S.decodeGroup(state)
            == .failure(.tooMany("group.state.sessions", count: Int(UInt32.max), limit: WireLimits.maxSessionsPerState)))
        S.put(UInt32(1000), at: 26, in: &state)
        #expect(S.decodeGroup(state) == .failure(.tooMany("group.state.sessions", count: 1000, limit: 0)))
    }
}
