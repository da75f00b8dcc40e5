import NIOCore

/// Encodes and decodes the `GroupMessage`s the group layer puts in packed data-packet records.
///
/// No checksum (the enclosing packet has one), but every length is explicit and every field is
/// validated; the message must fill the given bytes exactly. Integers big endian; a group name
/// is a u8 length then 1...255 bytes of valid UTF-8.
///
///     version u8 (1) | kind u8 | body
///     data:       sender session | sessionSeq u64 | messageType u16 | flags u8 (bit 0: selfDiscard, bit 1: stand-in) |
///                 groupCount u16 | group * groupCount | payloadLength u32 | payload
///     join/leave: session | group
///     disconnect: session
///     state:      daemon u32 | firstSession u64 | configuration (seq u64, representative u32) | sessionCount u32 |
///                 (session | groupCount u16 | group * groupCount) * sessionCount
///     statePiece: as state; a piece of an announcement that the next piece continues
///     siteDaemons: site u32 | daemonCount u16 | daemon u32 * daemonCount (ascending, distinct)
///     interestsDropped: site u32 | groupCount u16 | group * groupCount (1 or more, ascending, distinct)
///     session:    daemon u32 | local u64 | name str8 (0 to 32 bytes of `!`…`~` but `#`)
///
/// Like `PacketCodec`, the encoding is canonical: re-encoding a decoded message gives the same bytes.
public enum GroupMessageCodec {
    /// The format version this build writes and reads.
    /// 2: sessions carry their names. 3: session numbers are 64-bit (a daemon never reuses one,
    /// also across restarts) and state announcements carry the daemon's first session number.
    public static let version: UInt8 = 3

    /// Whether `payload` is a client data message (by its first two bytes; not validated).
    @inlinable
    public static func isClientData(_ payload: ByteBuffer) -> Bool {
        payload.getInteger(at: payload.readerIndex, as: UInt16.self) == UInt16(version) << 8 | 1
    }

    @usableFromInline
    enum Kind: UInt8 {
        case data = 1
        case join = 2
        case leave = 3
        case disconnect = 4
        case state = 5
        case statePiece = 6
        case siteDaemons = 7
        case interestsDropped = 8
    }

    /// Whether `payload` is a `siteDaemons` message (by its first two bytes; not validated).
    @inlinable
    public static func isSiteDaemons(_ payload: ByteBuffer) -> Bool {
        payload.getInteger(at: payload.readerIndex, as: UInt16.self) == UInt16(version) << 8 | UInt16(Kind.siteDaemons.rawValue)
    }

    static let selfDiscardFlag: UInt8 = 0x01
    /// A stand-in for a message whose body a site does not need (its payload is empty).
    static let standInFlag: UInt8 = 0x02
    /// The smallest encoded session (daemon, local, an empty name's length).
    static let sessionSize = 13

    static func sessionSize(_ session: SessionID) -> Int { sessionSize + session.name.utf8.count }

    /// Exactly how many bytes `encode(_:into:)` writes for `message`.
    public static func encodedSize(_ message: GroupMessage) -> Int {
        2 + bodySize(message)
    }

    /// Appends the encoding of `message` to `buffer`.
    ///
    /// `message` must satisfy `validate(_:)` (asserted in debug builds); group names must be
    /// 1...255 UTF-8 bytes and counts within `WireLimits` (always checked: violations trap).
    public static func encode(_ message: GroupMessage, into buffer: inout ByteBuffer) {
        assert(isValid(message), "encoding an invalid group message: \(message)")
        switch message {
        case .data(let data):
            encode(data, into: &buffer)  // one pass, see GroupMessageCodec+Data
        case .join(let session, let group):
            writeHeader(.join, message, into: &buffer)
            writeSession(session, into: &buffer)
            buffer.writeShortString(group)
        case .leave(let session, let group):
            writeHeader(.leave, message, into: &buffer)
            writeSession(session, into: &buffer)
            buffer.writeShortString(group)
        case .disconnect(let session):
            writeHeader(.disconnect, message, into: &buffer)
            writeSession(session, into: &buffer)
        case .state(let daemon, let configuration, let sessions, let more, let firstSession):
            precondition(sessions.count <= WireLimits.maxSessionsPerState, "too many sessions")
            writeHeader(more ? .statePiece : .state, message, into: &buffer)
            buffer.writeInteger(daemon.rawValue)
            buffer.writeInteger(firstSession)
            buffer.writeRingID(configuration)
            buffer.writeInteger(UInt32(sessions.count))
            for entry in sessions {
                writeSession(entry.session, into: &buffer)
                writeGroups(entry.groups, limit: WireLimits.maxGroupsPerSession, into: &buffer)
            }
        case .interestsDropped(let site, let groups):
            writeHeader(.interestsDropped, message, into: &buffer)
            buffer.writeInteger(site.rawValue)
            writeGroups(groups, limit: WireLimits.maxGroupsPerMessage, into: &buffer)
        case .siteDaemons(let site, let daemons):
            precondition(daemons.count <= WireLimits.maxMembers, "too many daemons")
            writeHeader(.siteDaemons, message, into: &buffer)
            buffer.writeInteger(site.rawValue)
            buffer.writeInteger(UInt16(daemons.count))
            for daemon in daemons { buffer.writeInteger(daemon.rawValue) }
        }
    }

    /// Reserves room for the whole message, then writes its version and kind.
    private static func writeHeader(_ kind: Kind, _ message: GroupMessage, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: encodedSize(message))
        buffer.writeInteger(version)
        buffer.writeInteger(kind.rawValue)
    }

    /// The encoding of `message` in a new buffer.
    public static func encode(_ message: GroupMessage, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: encodedSize(message))
        encode(message, into: &buffer)
        return buffer
    }

    /// Decodes one group message from all readable bytes of `buffer` (typically one packed record).
    ///
    /// `ClientData.payload` is a zero-copy slice of `buffer`.
    public static func decode(_ buffer: ByteBuffer) throws(WireError) -> GroupMessage {
        var reader = WireReader(buffer)
        let version = try reader.read(UInt8.self, "group.version")
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let kindByte = try reader.read(UInt8.self, "group.kind")
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownType(kindByte) }
        let message: GroupMessage
        switch kind {
        case .data:
            let sender = try readSession(&reader, "group.data.sender")
            let sessionSeq = try reader.read(UInt64.self, "group.data.sessionSeq")
            let messageType = try reader.read(UInt16.self, "group.data.messageType")
            let flags = try reader.read(UInt8.self, "group.data.flags")
            guard flags & ~(selfDiscardFlag | standInFlag) == 0 else {
                throw .invalidField("group.data.flags", reason: "unknown flag bits 0x\(String(flags, radix: 16))")
            }
            let groups = try readGroups(&reader, "group.data.groups", limit: WireLimits.maxGroupsPerMessage)
            let payloadLength = Int(try reader.read(UInt32.self, "group.data.payloadLength"))
            guard payloadLength == reader.remaining else {
                throw .lengthMismatch(field: "group.data.payloadLength", declared: payloadLength, actual: reader.remaining)
            }
            let payload = try reader.readSlice(payloadLength, "group.data.payload")
            var data = ClientData(
                sender: sender, sessionSeq: sessionSeq, messageType: messageType,
                selfDiscard: flags & selfDiscardFlag != 0, groups: groups, payload: payload
            )
            data.isStandIn = flags & standInFlag != 0
            message = .data(data)
        case .join:
            let session = try readSession(&reader, "group.join.session")
            message = .join(session: session, group: try reader.readShortString("group.join.group"))
        case .leave:
            let session = try readSession(&reader, "group.leave.session")
            message = .leave(session: session, group: try reader.readShortString("group.leave.group"))
        case .disconnect:
            message = .disconnect(session: try readSession(&reader, "group.disconnect.session"))
        case .state, .statePiece:
            let daemon = NodeID(try reader.read(UInt32.self, "group.state.daemon"))
            let firstSession = try reader.read(UInt64.self, "group.state.firstSession")
            let configuration = try reader.readRingID("group.state.configuration")
            let count = try reader.readCount(
                UInt32.self, "group.state.sessions", limit: WireLimits.maxSessionsPerState,
                minimumEntrySize: sessionSize + 2
            )
            var sessions: [SessionMemberships] = []
            sessions.reserveCapacity(count)
            for _ in 0..<count {
                let session = try readSession(&reader, "group.state.session")
                let groups = try readGroups(&reader, "group.state.groups", limit: WireLimits.maxGroupsPerSession)
                sessions.append(SessionMemberships(session: session, groups: groups))
            }
            message = .state(
                daemon: daemon, configuration: configuration, sessions: sessions, more: kind == .statePiece, firstSession: firstSession)
        case .siteDaemons:
            let site = SiteID(try reader.read(UInt32.self, "group.siteDaemons.site"))
            let count = try reader.readCount(UInt16.self, "group.siteDaemons.daemons", limit: WireLimits.maxMembers, minimumEntrySize: 4)
            var daemons: [NodeID] = []
            daemons.reserveCapacity(count)
            for _ in 0..<count { daemons.append(NodeID(try reader.read(UInt32.self, "group.siteDaemons.daemon"))) }
            message = .siteDaemons(site: site, daemons: daemons)
        case .interestsDropped:
            let site = SiteID(try reader.read(UInt32.self, "group.interestsDropped.site"))
            message = .interestsDropped(
                site: site, groups: try readGroups(&reader, "group.interestsDropped.groups", limit: WireLimits.maxGroupsPerMessage))
        }
        try reader.expectEnd("group message")
        try validate(message)
        return message
    }

    /// Checks the rules beyond field syntax: every group name is 1...255 UTF-8 bytes; a data
    /// message has 1...`maxGroupsPerMessage` groups and `sessionSeq >= 1`; a state announcement has at
    /// most `maxSessionsPerState` sessions of at most `maxGroupsPerSession` groups each.
    public static func validate(_ message: GroupMessage) throws(WireError) {
        switch message {
        case .data(let data):
            guard !data.groups.isEmpty else { throw .invalidField("group.data.groups", reason: "no target group") }
            guard data.groups.count <= WireLimits.maxGroupsPerMessage else {
                throw .tooMany("group.data.groups", count: data.groups.count, limit: WireLimits.maxGroupsPerMessage)
            }
            guard data.sessionSeq >= 1 else { throw .invalidField("group.data.sessionSeq", reason: "counts from 1") }
            guard !data.isStandIn || data.payload.readableBytes == 0 else {
                throw .invalidField("group.data.payload", reason: "a stand-in carries no body")
            }
            try checkGroupNames(data.groups, "group.data.groups")
        case .join(_, let group):
            try checkGroupNames(CollectionOfOne(group), "group.join.group")
        case .leave(_, let group):
            try checkGroupNames(CollectionOfOne(group), "group.leave.group")
        case .disconnect:
            break
        case .state(_, _, let sessions, _, _):
            guard sessions.count <= WireLimits.maxSessionsPerState else {
                throw .tooMany("group.state.sessions", count: sessions.count, limit: WireLimits.maxSessionsPerState)
            }
            for entry in sessions {
                guard entry.groups.count <= WireLimits.maxGroupsPerSession else {
                    throw .tooMany("group.state.groups", count: entry.groups.count, limit: WireLimits.maxGroupsPerSession)
                }
                try checkGroupNames(entry.groups, "group.state.groups")
            }
        case .interestsDropped(_, let groups):
            guard !groups.isEmpty, groups.count <= WireLimits.maxGroupsPerMessage else {
                throw .tooMany("group.interestsDropped.groups", count: groups.count, limit: WireLimits.maxGroupsPerMessage)
            }
            try checkGroupNames(groups, "group.interestsDropped.groups")
            for index in groups.indices.dropFirst() where !(groups[index - 1] < groups[index]) {
                throw .invalidField("group.interestsDropped.groups", reason: "not strictly ascending")
            }
        case .siteDaemons(_, let daemons):
            guard daemons.count <= WireLimits.maxMembers else {
                throw .tooMany("group.siteDaemons.daemons", count: daemons.count, limit: WireLimits.maxMembers)
            }
            // Ascending and distinct: one encoding per set (canonical).
            try PacketCodec.checkStrictlyAscending(daemons, "group.siteDaemons.daemons")
        }
    }

    static func isValid(_ message: GroupMessage) -> Bool {
        do throws(WireError) {
            try validate(message)
            return true
        } catch {
            return false
        }
    }

    static func checkGroupNames(_ names: some Sequence<String>, _ field: String) throws(WireError) {
        for name in names where !WireLimits.isValidGroupName(name) {
            throw .invalidField(field, reason: "group name must be 1...\(WireLimits.maxGroupNameLength) UTF-8 bytes")
        }
    }

    static func bodySize(_ message: GroupMessage) -> Int {
        switch message {
        case .data(let data):
            sessionSize(data.sender) + 8 + 2 + 1 + groupsSize(data.groups) + 4 + data.payload.readableBytes
        case .join(let session, let group), .leave(let session, let group):
            sessionSize(session) + 1 + group.utf8.count
        case .disconnect(let session):
            sessionSize(session)
        case .state(_, _, let sessions, _, _):
            4 + 8 + 12 + 4 + sessions.reduce(0) { $0 + sessionSize($1.session) + groupsSize($1.groups) }
        case .siteDaemons(_, let daemons):
            4 + 2 + 4 * daemons.count
        case .interestsDropped(_, let groups):
            4 + groupsSize(groups)
        }
    }

    static func groupsSize(_ groups: [String]) -> Int {
        groups.reduce(2) { $0 + 1 + $1.utf8.count }
    }

    static func writeSession(_ session: SessionID, into buffer: inout ByteBuffer) {
        // Checked once, when the session opened (`GroupLayer.openSession`), not per message.
        assert(session.name.isEmpty || SessionID.isValidName(session.name), "invalid session name")
        buffer.writeInteger(session.daemon.rawValue)
        buffer.writeInteger(session.local)
        buffer.writeInteger(UInt8(session.name.utf8.count))
        buffer.writeString(session.name)
    }

    static func readSession(_ reader: inout WireReader, _ field: String) throws(WireError) -> SessionID {
        let daemon = NodeID(try reader.read(UInt32.self, field))
        let local = try reader.read(UInt64.self, field)
        let length = Int(try reader.read(UInt8.self, field))
        let bytes = try reader.readSlice(length, field)
        let name = String(buffer: bytes)
        guard length == 0 || SessionID.isValidName(name) else {
            throw .invalidField(field, reason: "a session name is 1 to \(WireLimits.maxSessionNameLength) bytes of '!' to '~' but '#'")
        }
        return SessionID(daemon: daemon, local: local, name: name)
    }

    static func writeGroups(_ groups: [String], limit: Int, into buffer: inout ByteBuffer) {
        precondition(groups.count <= limit, "too many groups")
        buffer.writeInteger(UInt16(groups.count))
        for group in groups {
            buffer.writeShortString(group)
        }
    }

    static func readGroups(_ reader: inout WireReader, _ field: String, limit: Int) throws(WireError) -> [String] {
        // Each name takes at least 2 bytes (length byte and one byte of text).
        let count = try reader.readCount(UInt16.self, field, limit: limit, minimumEntrySize: 2)
        var groups: [String] = []
        groups.reserveCapacity(count)
        for _ in 0..<count {
            groups.append(try reader.readShortString(field))
        }
        return groups
    }
}
