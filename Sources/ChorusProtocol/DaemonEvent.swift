import ChorusSchema
import NIOCore

/// The daemon's answer to a connect.
public struct Welcome: Sendable, Equatable {
    public var version: UInt16
    /// The session's private group, e.g. `#7#d2`: a message sent to it reaches this session only,
    /// and it names the session as a sender and group member.
    public var privateGroup: String
    /// The daemon's configured name.
    public var daemon: String
    /// Largest payload the daemon accepts.
    public var maxPayload: UInt32

    public init(version: UInt16 = ClientProtocol.version, privateGroup: String, daemon: String, maxPayload: UInt32) {
        self.version = version
        self.privateGroup = privateGroup
        self.daemon = daemon
        self.maxPayload = maxPayload
    }
}

/// A group message delivered to the session.
public struct MessageEvent: Sendable, Equatable {
    public var service: Service
    public var messageType: UInt16
    /// The sending session's private group.
    public var sender: String
    /// The groups the sender addressed.
    public var groups: [String]
    public var payload: ByteBuffer

    public init(service: Service, messageType: UInt16, sender: String, groups: [String], payload: ByteBuffer) {
        self.service = service
        self.messageType = messageType
        self.sender = sender
        self.groups = groups
        self.payload = payload
    }
}

/// A group's new view, for a member of the group.
public struct MembershipEvent: Sendable, Equatable {
    public enum Kind: UInt8, Sendable { case regular = 0, transitional = 1 }
    public enum Reason: UInt8, Sendable { case join = 0, leave = 1, disconnect = 2, network = 3 }

    public var group: String
    /// The view id: equal at every daemon for the same view, increasing per group.
    public var viewRingSeq: UInt64
    public var viewRingRepresentative: UInt32
    public var viewIndex: UInt64
    public var kind: Kind
    public var reason: Reason
    /// Every member's private group, in the same order at every daemon.
    public var members: [String]
    /// Join/leave/disconnect: the member concerned. Network: the members that moved together.
    public var changed: [String]
    /// The members that were not in the previous view of the group the member was shown (for a
    /// member's first view, the members its daemon's previous view of the group lacked).
    public var added: [String]
    /// The members of the previous view that are not in this one.
    public var removed: [String]

    public init(
        group: String, viewRingSeq: UInt64, viewRingRepresentative: UInt32, viewIndex: UInt64, kind: Kind,
        reason: Reason, members: [String], changed: [String], added: [String] = [], removed: [String] = []
    ) {
        self.group = group
        self.viewRingSeq = viewRingSeq
        self.viewRingRepresentative = viewRingRepresentative
        self.viewIndex = viewIndex
        self.kind = kind
        self.reason = reason
        self.members = members
        self.changed = changed
        self.added = added
        self.removed = removed
    }
}

/// A request the daemon did not carry out, the session staying open (access rules).
public struct Refusal: Sendable, Equatable {
    public var code: ErrorCode
    /// The refused request's frame type (join or multicast).
    public var request: UInt8
    /// The group it was refused for (of a multicast: the first one refused).
    public var group: String
    public var text: String
    public init(code: ErrorCode, request: UInt8, group: String, text: String) {
        self.code = code
        self.request = request
        self.group = group
        self.text = text
    }
}

/// A frame from a daemon to a client.
public enum DaemonEvent: Sendable, Equatable {
    case welcome(Welcome)
    case message(MessageEvent)
    case membership(MembershipEvent)
    /// The daemon refused a request or ends the session; it closes the connection after this.
    case error(code: ErrorCode, text: String)
    /// The daemon's state as a JSON document (see docs/protocol.md).
    case statusReply(json: String)
    /// The daemon did not carry out a request; the session stays open.
    case refused(Refusal)

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .welcome(let welcome):
            let start = buffer.startFrame(.welcome)
            buffer.writeInteger(welcome.version)
            buffer.writeShortString(welcome.privateGroup)
            buffer.writeShortString(welcome.daemon)
            buffer.writeInteger(welcome.maxPayload)
            buffer.finishFrame(at: start)
        case .message(let message):
            Self.encodeMessageHeader(
                service: message.service, messageType: message.messageType, sender: message.sender,
                groups: message.groups, payloadLength: message.payload.readableBytes, into: &buffer)
            var payload = message.payload
            buffer.writeBuffer(&payload)
        case .membership(let event):
            let start = buffer.startFrame(.membership)
            buffer.writeShortString(event.group)
            buffer.writeInteger(event.viewRingSeq)
            buffer.writeInteger(event.viewRingRepresentative)
            buffer.writeInteger(event.viewIndex)
            buffer.writeInteger(event.kind.rawValue)
            buffer.writeInteger(event.reason.rawValue)
            buffer.writeStringList(event.members)
            buffer.writeStringList(event.changed)
            buffer.writeStringList(event.added)
            buffer.writeStringList(event.removed)
            buffer.finishFrame(at: start)
        case .error(let code, let text):
            let start = buffer.startFrame(.error)
            buffer.writeInteger(code.rawValue)
            var clipped = Substring(text)
            while clipped.utf8.count > ClientProtocol.maxErrorTextLength { clipped = clipped.dropLast() }
            buffer.writeString16(String(clipped))
            buffer.finishFrame(at: start)
        case .statusReply(let json):
            let start = buffer.startFrame(.statusReply)
            buffer.writeString(json)
            buffer.finishFrame(at: start)
        case .refused(let refusal):
            let start = buffer.startFrame(.refused)
            buffer.writeInteger(refusal.code.rawValue)
            buffer.writeInteger(refusal.request)
            buffer.writeShortString(refusal.group)
            var clipped = Substring(refusal.text)
            while clipped.utf8.count > ClientProtocol.maxErrorTextLength { clipped = clipped.dropLast() }
            buffer.writeString16(String(clipped))
            buffer.finishFrame(at: start)
        }
    }

    /// Writes a message frame up to its payload; `payloadLength` bytes must follow (so a daemon
    /// can send one payload to many sessions without copying it).
    public static func encodeMessageHeader(
        service: Service, messageType: UInt16, sender: String, groups: [String], payloadLength: Int,
        into buffer: inout ByteBuffer
    ) {
        let header = MessageFrameHeader(service: service, messageType: messageType, sender: sender, groups: groups)
        buffer.writeInteger(UInt32(header.bytes.count + payloadLength))
        buffer.writeBytes(header.bytes)
    }

    /// Decodes a frame a daemon sent. Never traps; any malformed input is a `ProtocolError`.
    public static func decode(_ frame: RawFrame) throws(ProtocolError) -> DaemonEvent {
        guard let type = FrameType(rawValue: frame.type), type.rawValue >= 0x80 else {
            throw ProtocolError(.unknownFrameType, "frame type 0x\(String(frame.type, radix: 16)) is not a daemon frame")
        }
        var reader = FrameReader(frame.body)
        let event: DaemonEvent
        switch type {
        case .welcome:
            let version = try reader.integer("version", as: UInt16.self)
            let privateGroup = try reader.shortString("private group")
            let daemon = try reader.shortString("daemon")
            let maxPayload = try reader.integer("max payload", as: UInt32.self)
            event = .welcome(Welcome(version: version, privateGroup: privateGroup, daemon: daemon, maxPayload: maxPayload))
        case .message:
            var names = MessageNameCache()
            return .message(try decodeMessage(frame.body, names: &names))
        case .membership:
            let group = try reader.shortString("group")
            let ringSeq = try reader.integer("view ring seq", as: UInt64.self)
            let representative = try reader.integer("view ring representative", as: UInt32.self)
            let index = try reader.integer("view index", as: UInt64.self)
            let kindByte = try reader.integer("kind", as: UInt8.self)
            guard let kind = MembershipEvent.Kind(rawValue: kindByte) else {
                throw ProtocolError(.malformedFrame, "membership kind \(kindByte)")
            }
            let reasonByte = try reader.integer("reason", as: UInt8.self)
            guard let reason = MembershipEvent.Reason(rawValue: reasonByte) else {
                throw ProtocolError(.malformedFrame, "membership reason \(reasonByte)")
            }
            let members = try reader.stringList("members", limit: Int(UInt16.max))
            let changed = try reader.stringList("changed", limit: Int(UInt16.max))
            let added = try reader.stringList("added", limit: Int(UInt16.max))
            let removed = try reader.stringList("removed", limit: Int(UInt16.max))
            event = .membership(MembershipEvent(
                group: group, viewRingSeq: ringSeq, viewRingRepresentative: representative, viewIndex: index,
                kind: kind, reason: reason, members: members, changed: changed, added: added, removed: removed))
        case .error:
            let code = ErrorCode(rawValue: try reader.integer("code", as: UInt16.self))
            event = .error(code: code, text: try reader.string16("text"))
        case .statusReply:
            let rest = reader.rest()
            event = .statusReply(json: String(buffer: rest))
        case .refused:
            let code = ErrorCode(rawValue: try reader.integer("code", as: UInt16.self))
            let request = try reader.integer("request", as: UInt8.self)
            let group = try reader.shortString("group")
            event = .refused(Refusal(code: code, request: request, group: group, text: try reader.string16("text")))
        default: throw ProtocolError(.unknownFrameType, "frame type \(type) is not a daemon frame")
        }
        try reader.expectEnd("\(type)")
        return event
    }
}
