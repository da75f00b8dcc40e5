import ChorusSchema
import NIOCore

/// The first frame of a session: who the client is and what it wants to hear.
public struct ConnectRequest: Sendable, Equatable {
    public var version: UInt16
    /// A label for the session, unique on its daemon: 1 to 32 bytes of `A-Z a-z 0-9 _ - .`.
    public var name: String
    /// Whether the session gets membership events of the groups it is in.
    public var membershipNotices: Bool
    /// A shared secret naming the client to the daemon (version 3; empty: none). The daemon
    /// compares it in constant time with the tokens of its tokens file.
    public var token: String

    public init(version: UInt16 = ClientProtocol.version, name: String, membershipNotices: Bool, token: String = "") {
        self.version = version
        self.name = name
        self.membershipNotices = membershipNotices
        self.token = token
    }

    /// Whether `name` is a valid connect name.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard (1...ClientProtocol.maxNameLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }
    }
}

/// A message a client multicasts to one or more groups.
public struct MulticastRequest: Sendable, Equatable {
    public var service: Service
    public var selfDiscard: Bool
    public var messageType: UInt16
    public var groups: [String]
    public var payload: ByteBuffer

    public init(service: Service, selfDiscard: Bool = false, messageType: UInt16 = 0, groups: [String], payload: ByteBuffer) {
        self.service = service
        self.selfDiscard = selfDiscard
        self.messageType = messageType
        self.groups = groups
        self.payload = payload
    }
}

/// A frame from a client to its daemon.
public enum ClientRequest: Sendable, Equatable {
    case connect(ConnectRequest)
    case join(group: String)
    case leave(group: String)
    case multicast(MulticastRequest)
    /// The client ends its session (the daemon closes the connection).
    case disconnect
    /// Asks for a `statusReply`.
    case status
    /// Asks the daemon to read its key file again (answered by a `statusReply`, or `refused`).
    case reloadKeys

    /// Writes the whole frame, header included. For a multicast the payload is copied; senders
    /// that care use `encodeMulticastHeader` and write the payload separately.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .connect(let connect):
            let start = buffer.startFrame(.connect)
            buffer.writeInteger(connect.version)
            buffer.writeInteger(UInt8(connect.membershipNotices ? 1 : 0))
            buffer.writeShortString(connect.name)
            if connect.version >= 3 { buffer.writeShortString(connect.token) }
            buffer.finishFrame(at: start)
        case .join(let group):
            let start = buffer.startFrame(.join)
            buffer.writeShortString(group)
            buffer.finishFrame(at: start)
        case .leave(let group):
            let start = buffer.startFrame(.leave)
            buffer.writeShortString(group)
            buffer.finishFrame(at: start)
        case .multicast(let multicast):
            Self.encodeMulticastHeader(multicast, payloadLength: multicast.payload.readableBytes, into: &buffer)
            var payload = multicast.payload
            buffer.writeBuffer(&payload)
        case .disconnect:
            let start = buffer.startFrame(.disconnect)
            buffer.finishFrame(at: start)
        case .status:
            let start = buffer.startFrame(.status)
            buffer.finishFrame(at: start)
        case .reloadKeys:
            let start = buffer.startFrame(.reloadKeys)
            buffer.finishFrame(at: start)
        }
    }

    /// Writes a multicast frame up to its payload; `payloadLength` bytes must follow.
    public static func encodeMulticastHeader(_ multicast: MulticastRequest, payloadLength: Int, into buffer: inout ByteBuffer) {
        let header = MulticastFrameHeader(
            service: multicast.service, selfDiscard: multicast.selfDiscard, messageType: multicast.messageType,
            groups: multicast.groups)
        buffer.writeInteger(UInt32(header.bytes.count + payloadLength))
        buffer.writeBytes(header.bytes)
    }

    /// Decodes a frame a client sent. Never traps; any malformed input is a `ProtocolError`.
    public static func decode(_ frame: RawFrame) throws(ProtocolError) -> ClientRequest {
        var groups = GroupListCache()
        return try decode(frame, groups: &groups)
    }

    /// Decodes like `decode(_:)`, with the same result and errors, reusing the group names of
    /// `groups` when a multicast names the same list as the one decoded last.
    public static func decode(_ frame: RawFrame, groups cache: inout GroupListCache) throws(ProtocolError) -> ClientRequest {
        guard let type = FrameType(rawValue: frame.type), type.rawValue < 0x80 else {
            throw ProtocolError(.unknownFrameType, "frame type 0x\(String(frame.type, radix: 16)) is not a client frame")
        }
        var reader = FrameReader(frame.body)
        let request: ClientRequest
        switch type {
        case .connect:
            let version = try reader.integer("version", as: UInt16.self)
            let flags = try reader.integer("flags", as: UInt8.self)
            guard flags & ~1 == 0 else { throw ProtocolError(.malformedFrame, "unknown connect flags 0x\(String(flags, radix: 16))") }
            let name = try reader.shortString("name")
            let membership = flags & 1 == 1
            guard version == 2 || version == 3 else {
                // The daemon refuses it with `unsupportedVersion`; its body may be laid out otherwise.
                return .connect(ConnectRequest(version: version, name: name, membershipNotices: membership))
            }
            let token = version == 3 ? try reader.shortString("token") : ""
            request = .connect(ConnectRequest(version: version, name: name, membershipNotices: membership, token: token))
        case .join: request = .join(group: try reader.shortString("group"))
        case .leave: request = .leave(group: try reader.shortString("group"))
        case .multicast:
            let serviceByte = try reader.integer("service", as: UInt8.self)
            guard let service = Service(rawValue: serviceByte) else {
                throw ProtocolError(.invalidService, "service byte \(serviceByte) (expected 0 to 5)")
            }
            let flags = try reader.integer("flags", as: UInt8.self)
            guard flags & ~1 == 0 else { throw ProtocolError(.malformedFrame, "unknown multicast flags 0x\(String(flags, radix: 16))") }
            let messageType = try reader.integer("message type", as: UInt16.self)
            let groups = try cache.read(from: &reader)
            let payload = reader.rest()
            return .multicast(MulticastRequest(
                service: service, selfDiscard: flags & 1 == 1, messageType: messageType, groups: groups, payload: payload))
        case .disconnect: request = .disconnect
        case .status: request = .status
        case .reloadKeys: request = .reloadKeys
        default: throw ProtocolError(.unknownFrameType, "frame type \(type) is not a client frame")
        }
        try reader.expectEnd("\(type)")
        return request
    }
}
