import NIOCore

/// Reads what a Spread client sends, in its three phases: the connect message (version, flags,
/// private name), the authentication methods it picked (90 bytes), then messages (a 48-byte
/// header, 32-byte group names, the data). Bytes may arrive in any pieces: `next` returns nil
/// until a whole part is in, and consumes nothing then.
///
/// Every header is checked as Spread's daemon checks it before anything is sized by it: one
/// service or one request bit, the session's own private group, at most 100 groups, a hint with
/// only the message type and the endian marker, and a body within Spread's maximum.
public struct SpreadSessionReader: Sendable {
    public enum Event: Sendable, Equatable {
        case connect(SpreadConnect)
        /// The methods named in the authentication reply (at least one).
        case authentication([String])
        case request(SpreadRequest)
    }

    private enum Phase { case connect, authentication, messages }
    private var phase = Phase.connect
    /// The session's private group, which every header must name (set once accepted).
    public private(set) var privateGroup = ""
    private var privateGroupBytes: [UInt8] = []
    /// The group names of the last message, raw and read: a client nearly always sends to the
    /// same groups, which then cost one comparison instead of a string per name.
    private var lastGroupBytes: [UInt8] = []
    private var lastGroups: [String] = []
    /// The byte order of the client's last header (the order its answers go in).
    public private(set) var byteOrder = SpreadByteOrder.little
    /// The largest data part taken (the daemon's own limit may be below Spread's).
    public let maxData: Int

    public init(maxData: Int = Spread.maxMessageBody) {
        self.maxData = min(maxData, Spread.maxMessageBody)
    }

    /// Moves to reading messages (the handshake answered the client).
    public mutating func accepted(privateGroup: String) {
        self.privateGroup = privateGroup
        privateGroupBytes = Array(privateGroup.utf8)
        phase = .messages
    }

    /// The next event in `buffer` (consumed), or nil when more bytes are needed (nothing consumed).
    public mutating func next(_ buffer: inout ByteBuffer) throws(SpreadRefusal) -> Event? {
        switch phase {
        case .connect:
            guard let connect = try readConnect(&buffer) else { return nil }
            phase = .authentication
            return .connect(connect)
        case .authentication:
            guard let methods = try readAuthentication(&buffer) else { return nil }
            return .authentication(methods)
        case .messages:
            return try readMessage(&buffer).map(Event.request)
        }
    }

    private func readConnect(_ buffer: inout ByteBuffer) throws(SpreadRefusal) -> SpreadConnect? {
        let start = buffer.readerIndex
        guard let major = buffer.getInteger(at: start, as: UInt8.self), let minor = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        let number = Int(major) * 10_000 + Int(minor) * 100
        // The patch byte is sent by libraries after 3.14 only.
        let hasPatch = number > 31_400
        let fixed = hasPatch ? 5 : 4
        guard buffer.readableBytes >= fixed else { return nil }
        let patch = hasPatch ? buffer.getInteger(at: start + 2, as: UInt8.self)! : 0
        // Before 3.16 there was no authentication exchange; this listener speaks only the later form.
        guard number + Int(patch) >= 31_600 else {
            throw SpreadRefusal(.rejectVersion, "library version \(major).\(minor).\(patch) is older than 3.16, which this listener needs")
        }
        let flags = buffer.getInteger(at: start + fixed - 2, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: start + fixed - 1, as: UInt8.self)!)
        guard length <= Spread.maxPrivateName else {
            throw SpreadRefusal(.rejectIllegalName, "a private name of \(length) bytes; at most \(Spread.maxPrivateName)")
        }
        guard let nameBytes = buffer.getBytes(at: start + fixed, length: length) else { return nil }
        // Spread's rule: every character above '#' and at most '~'.
        guard nameBytes.allSatisfy({ $0 > UInt8(ascii: "#") && $0 <= UInt8(ascii: "~") }) else {
            throw SpreadRefusal(.rejectIllegalName, "a private name may hold only the characters from '$' to '~'")
        }
        buffer.moveReaderIndex(forwardBy: fixed + length)
        return SpreadConnect(
            version: (major, minor, patch), membershipNotices: flags & 1 == 1, priority: flags >> 4,
            name: String(decoding: nameBytes, as: UTF8.self))
    }

    private func readAuthentication(_ buffer: inout ByteBuffer) throws(SpreadRefusal) -> [String]? {
        guard let reply = buffer.readSlice(length: Spread.authReplySize) else { return nil }
        var methods: [String] = []
        for slot in 0..<(Spread.authReplySize / Spread.authNameSize) {
            let bytes = reply.getBytes(at: reply.readerIndex + slot * Spread.authNameSize, length: Spread.authNameSize)!
            let name = bytes.prefix { $0 != 0 }
            // The list ends at the first empty slot, as in Spread.
            if name.isEmpty { break }
            methods.append(String(decoding: name, as: UTF8.self))
        }
        guard !methods.isEmpty else { throw SpreadRefusal(.rejectAuth, "no authentication method named") }
        return methods
    }

    private mutating func readMessage(_ buffer: inout ByteBuffer) throws(SpreadRefusal) -> SpreadRequest? {
        let start = buffer.readerIndex
        guard buffer.readableBytes >= Spread.headerSize else { return nil }
        let order = SpreadByteOrder(typeWordBytes: buffer.getInteger(at: start, as: UInt32.self)!)
        let type = buffer.getSpreadInt(at: start, order)!
        let groupCount = Int32(bitPattern: buffer.getSpreadInt(at: start + 36, order)!)
        let hint = buffer.getSpreadInt(at: start + 40, order)!
        let dataLength = Int32(bitPattern: buffer.getSpreadInt(at: start + 44, order)!)
        let services = (type & Spread.TypeBits.services).nonzeroBitCount
        let requests = (type & Spread.TypeBits.requests).nonzeroBitCount
        guard services + requests == 1 else {
            throw SpreadRefusal(.illegalService, "type 0x\(String(type, radix: 16)) names \(services) services and \(requests) requests; expected exactly one")
        }
        guard buffer.spreadName(at: start + 4, is: privateGroupBytes) == true else {
            throw SpreadRefusal(.illegalSession, "a header naming another session than \(privateGroup)")
        }
        guard (0...Int32(Spread.maxGroupsPerMessage)).contains(groupCount) else {
            throw SpreadRefusal(.illegalGroup, "\(groupCount) groups; expected 0 to \(Spread.maxGroupsPerMessage)")
        }
        guard hint & ~(Spread.TypeBits.endianMarker | 0x00FF_FF00) == 0 else {
            throw SpreadRefusal(.illegalMessage, "hint 0x\(String(hint, radix: 16)) has bits besides the message type")
        }
        guard dataLength >= 0, Int(dataLength) + Int(groupCount) * Spread.groupNameSize <= Spread.maxMessageBody - Spread.headerSize
        else {
            throw SpreadRefusal(.messageTooLong, "\(dataLength) bytes of data and \(groupCount) groups; at most \(Spread.maxMessageBody - Spread.headerSize) bytes together")
        }
        guard Int(dataLength) <= maxData else {
            throw SpreadRefusal(.messageTooLong, "\(dataLength) bytes of data; this daemon takes at most \(maxData)")
        }
        let total = Spread.headerSize + Int(groupCount) * Spread.groupNameSize + Int(dataLength)
        guard buffer.readableBytes >= total else { return nil }
        let groups = try readGroups(count: Int(groupCount), at: start + Spread.headerSize, in: buffer)
        buffer.moveReaderIndex(forwardBy: total - Int(dataLength))
        let payload = buffer.readSlice(length: Int(dataLength))!
        byteOrder = order
        if requests == 1 {
            if type & Spread.TypeBits.kill != 0 { return .disconnect }
            guard let group = groups.first, !group.isEmpty else {
                throw SpreadRefusal(.illegalGroup, "a join or leave without a group")
            }
            return type & Spread.TypeBits.join != 0 ? .join(group: group) : .leave(group: group)
        }
        guard !groups.isEmpty else { throw SpreadRefusal(.illegalGroup, "a message to no group") }
        let service = UInt8((type & Spread.TypeBits.services).trailingZeroBitCount)
        return .multicast(SpreadMulticast(
            service: service, selfDiscard: type & Spread.TypeBits.selfDiscard != 0,
            messageType: UInt16((hint >> 8) & 0xFFFF), groups: groups, payload: payload))
    }

    /// The `count` group names at `index`: the last message's list when the bytes are the same.
    private mutating func readGroups(count: Int, at index: Int, in buffer: ByteBuffer) throws(SpreadRefusal) -> [String] {
        let length = count * Spread.groupNameSize
        if length == lastGroupBytes.count, buffer.bytes(at: index, equal: lastGroupBytes) { return lastGroups }
        var groups: [String] = []
        groups.reserveCapacity(count)
        for slot in 0..<count {
            guard let name = buffer.getSpreadName(at: index + slot * Spread.groupNameSize) else {
                throw SpreadRefusal(.illegalGroup, "group name \(slot + 1) is not UTF-8")
            }
            groups.append(name)
        }
        lastGroupBytes = buffer.getBytes(at: index, length: length) ?? []
        lastGroups = groups
        return groups
    }
}
