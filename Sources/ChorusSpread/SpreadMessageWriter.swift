import NIOCore

/// A group's view id as Spread clients read it: three 32-bit integers (Spread's membership id,
/// daemon and time, and an index). Chorus fills them from its own view id: the ring's
/// representative, the ring's sequence number and the view's index, each cut to 32 bits.
public struct SpreadGroupID: Sendable, Equatable {
    public var daemon: UInt32
    public var time: UInt32
    public var index: UInt32
    public init(daemon: UInt32, time: UInt32, index: UInt32) {
        self.daemon = daemon
        self.time = time
        self.index = index
    }
}

/// Why a regular membership changed (Spread's CAUSED_BY bits).
public enum SpreadCause: Sendable {
    case join, leave, disconnect, network

    var bits: UInt32 {
        switch self {
        case .join: Spread.TypeBits.causedByJoin
        case .leave: Spread.TypeBits.causedByLeave
        case .disconnect: Spread.TypeBits.causedByDisconnect
        case .network: Spread.TypeBits.causedByNetwork
        }
    }
}

/// Writes what the daemon sends a Spread client: the handshake's answers, then messages in the
/// client's byte order, laid out as libspread reads them.
public enum SpreadMessageWriter {
    /// The authentication methods offered: NULL only.
    public static func writeAuthenticationMethods(into buffer: inout ByteBuffer) {
        let list = "NULL "
        buffer.writeInteger(UInt8(list.utf8.count))
        buffer.writeString(list)
    }

    /// The accept: the code, this daemon's version (the patch byte for libraries from 3.15 on),
    /// and the private group.
    public static func writeAccept(privateGroup: String, for connect: SpreadConnect, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(bitPattern: Spread.Code.acceptSession.rawValue))
        buffer.writeInteger(Spread.version.major)
        buffer.writeInteger(Spread.version.minor)
        let (major, minor, patch) = connect.version
        if Int(major) * 10_000 + Int(minor) * 100 + Int(patch) >= 31_500 { buffer.writeInteger(Spread.version.patch) }
        let name = privateGroup.utf8.prefix(Spread.groupNameSize - 1)
        buffer.writeInteger(UInt8(name.count))
        buffer.writeBytes(name)
    }

    /// A refused handshake: the code as one signed byte.
    public static func writeRefusal(_ code: Spread.Code, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(bitPattern: code.rawValue))
    }

    private static func writeHeader(
        type: UInt32, sender: String, groupCount: Int, messageType: UInt16, dataLength: Int, order: SpreadByteOrder,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeSpreadInt(order.marked(type), order)
        buffer.writeSpreadName(sender)
        buffer.writeSpreadInt(UInt32(groupCount), order)
        buffer.writeSpreadInt(order.marked((UInt32(messageType) << 8) & 0x00FF_FF00), order)
        buffer.writeSpreadInt(UInt32(dataLength), order)
    }

    /// The size of a data message's header and group names (the payload follows).
    public static func dataHeaderSize(groupCount: Int) -> Int { Spread.headerSize + groupCount * Spread.groupNameSize }

    /// A data message's header and groups, without the payload (written after it, or on its own).
    /// `selfDiscard`: the sender asked for it; Spread shows the bit to the other members too.
    public static func writeDataHeader(
        service: UInt8, selfDiscard: Bool = false, sender: String, groups: [String], messageType: UInt16, payloadLength: Int,
        order: SpreadByteOrder, into buffer: inout ByteBuffer
    ) {
        writeHeader(
            type: 1 << UInt32(min(service, 5)) | (selfDiscard ? Spread.TypeBits.selfDiscard : 0), sender: sender, groupCount: groups.count, messageType: messageType,
            dataLength: payloadLength, order: order, into: &buffer)
        for group in groups { buffer.writeSpreadName(group) }
    }

    /// A regular membership message: the group in the sender field, the members as the groups,
    /// and the data libspread's SP_get_memb_info and SP_get_vs_sets_info read: the group id, the
    /// number of vs sets, the byte offset of the receiver's own set, then each set (a count and
    /// its names).
    public static func writeRegularMembership(
        group: String, cause: SpreadCause, groupID: SpreadGroupID, members: [String], vsSets: [[String]], localSet: Int,
        order: SpreadByteOrder, into buffer: inout ByteBuffer
    ) {
        let setsSize = vsSets.reduce(0) { $0 + 4 + $1.count * Spread.groupNameSize }
        writeHeader(
            type: Spread.TypeBits.regularMembership | cause.bits, sender: group, groupCount: members.count, messageType: 0,
            dataLength: 12 + 8 + setsSize, order: order, into: &buffer)
        for member in members { buffer.writeSpreadName(member) }
        writeGroupID(groupID, order: order, into: &buffer)
        buffer.writeSpreadInt(UInt32(vsSets.count), order)
        let offset = vsSets.prefix(localSet).reduce(0) { $0 + 4 + $1.count * Spread.groupNameSize }
        buffer.writeSpreadInt(UInt32(offset), order)
        for set in vsSets {
            buffer.writeSpreadInt(UInt32(set.count), order)
            for member in set { buffer.writeSpreadName(member) }
        }
    }

    /// A transitional membership message: the group in the sender field, no members, the group id.
    public static func writeTransitionalMembership(
        group: String, groupID: SpreadGroupID, order: SpreadByteOrder, into buffer: inout ByteBuffer
    ) {
        writeHeader(
            type: Spread.TypeBits.transitionalMembership, sender: group, groupCount: 0, messageType: 0, dataLength: 12,
            order: order, into: &buffer)
        writeGroupID(groupID, order: order, into: &buffer)
    }

    /// The notice a session gets once its own leave took effect: CAUSED_BY_LEAVE alone.
    public static func writeSelfLeave(group: String, order: SpreadByteOrder, into buffer: inout ByteBuffer) {
        writeHeader(
            type: Spread.TypeBits.causedByLeave, sender: group, groupCount: 0, messageType: 0, dataLength: 0, order: order,
            into: &buffer)
    }

    /// A refused join, leave or multicast sent back to its sender as Spread does: REJECT_MESS, the
    /// refused request's type word, its groups and data.
    public static func writeReject(
        requestType: UInt32, sender: String, groups: [String], messageType: UInt16, payload: ByteBuffer?,
        order: SpreadByteOrder, into buffer: inout ByteBuffer
    ) {
        let length = payload?.readableBytes ?? 0
        writeHeader(
            type: Spread.TypeBits.reject | (requestType & Spread.TypeBits.selfDiscard), sender: sender,
            groupCount: groups.count, messageType: messageType, dataLength: length, order: order, into: &buffer)
        buffer.writeSpreadInt(order.marked(requestType), order)
        for group in groups { buffer.writeSpreadName(group) }
        if let payload { buffer.writeImmutableBuffer(payload) }
    }

    private static func writeGroupID(_ id: SpreadGroupID, order: SpreadByteOrder, into buffer: inout ByteBuffer) {
        buffer.writeSpreadInt(id.daemon, order)
        buffer.writeSpreadInt(id.time, order)
        buffer.writeSpreadInt(id.index, order)
    }
}
