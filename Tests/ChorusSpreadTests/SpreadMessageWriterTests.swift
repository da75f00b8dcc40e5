import ChorusSpread
import NIOCore
import Testing

/// Reads what the writer wrote the way libspread does (SP_receive, then SP_get_memb_info and
/// SP_get_vs_sets_info over the data), written here from sp.h's layout.
struct LibspreadView {
    var type: UInt32
    var sender: String
    var groups: [String]
    var messageType: UInt16
    var data: [UInt8]
    var little: Bool

    init(_ bytes: [UInt8], reject: Bool = false) throws {
        #expect(bytes.count >= 48)
        let isLittle = bytes[0] & 0x80 != 0
        little = isLittle
        func int(_ at: Int) -> UInt32 {
            let b = bytes[at..<(at + 4)].map(UInt32.init)
            return isLittle ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        }
        func name(_ at: Int) -> String { String(decoding: bytes[at..<(at + 32)].prefix { $0 != 0 }, as: UTF8.self) }
        var type = int(0) & ~0x8000_0080
        sender = name(4)
        let count = Int(int(36))
        messageType = UInt16((int(40) >> 8) & 0xFFFF)
        let length = Int(int(44))
        var at = 48
        if reject {
            type |= int(48) & ~0x8000_0080
            at += 4
        }
        self.type = type
        groups = (0..<count).map { name(at + 32 * $0) }
        at += 32 * count
        #expect(bytes.count == at + length, "the data length says \(length), \(bytes.count - at) follow")
        data = Array(bytes[at...])
    }

    func int(_ at: Int) -> UInt32 {
        let b = data[at..<(at + 4)].map(UInt32.init)
        return little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
    }

    /// SP_get_memb_info: the group id, then SP_get_vs_sets_info: every set and the local one.
    var membership: (groupID: [UInt32], sets: [[String]], local: Int) {
        let groupID = [int(0), int(4), int(8)]
        let setCount = Int(int(12))
        let offset = Int(int(16))
        var sets: [[String]] = []
        var local = -1
        var at = 20
        for index in 0..<setCount {
            if at - 20 == offset { local = index }
            let members = Int(int(at))
            at += 4
            sets.append((0..<members).map { String(decoding: data[(at + 32 * $0)..<(at + 32 * $0 + 32)].prefix { $0 != 0 }, as: UTF8.self) })
            at += 32 * members
        }
        #expect(at == data.count)
        return (groupID, sets, local)
    }
}

struct SpreadMessageWriterTests {
    static func bytes(_ write: (inout ByteBuffer) -> Void) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        write(&buffer)
        return Array(buffer.readableBytesView)
    }

    @Test func theHandshakeAnswers() {
        #expect(Self.bytes { SpreadMessageWriter.writeAuthenticationMethods(into: &$0) } == [5] + Array("NULL ".utf8))
        let modern = SpreadConnect(version: (4, 4, 0), membershipNotices: true, priority: 0, name: "a")
        #expect(Self.bytes { SpreadMessageWriter.writeAccept(privateGroup: "#a#d1", for: modern, into: &$0) } == [1, 4, 4, 0, 5] + Array("#a#d1".utf8))
        // A library before 3.15 gets no patch byte.
        let old = SpreadConnect(version: (3, 14, 0), membershipNotices: true, priority: 0, name: "a")
        #expect(Self.bytes { SpreadMessageWriter.writeAccept(privateGroup: "#a#d1", for: old, into: &$0) } == [1, 4, 4, 5] + Array("#a#d1".utf8))
        #expect(Self.bytes { SpreadMessageWriter.writeRefusal(.rejectNotUnique, into: &$0) } == [UInt8(bitPattern: -6)])
    }

    @Test(arguments: [SpreadByteOrder.little, .big]) func aDataMessageReadsBackAsSent(order: SpreadByteOrder) throws {
        let payload = ByteBufferAllocator().buffer(string: "hello")
        let bytes = Self.bytes {
            SpreadMessageWriter.writeDataHeader(
                service: 4, sender: "#a#d1", groups: ["g1", "g2"], messageType: 513, payloadLength: 5, order: order, into: &$0)
            $0.writeImmutableBuffer(payload)
        }
        let view = try LibspreadView(bytes)
        #expect(view.little == (order == .little))
        #expect(view.type == 0x10 && view.sender == "#a#d1" && view.groups == ["g1", "g2"] && view.messageType == 513)
        #expect(view.data == Array("hello".utf8))
    }

    @Test(arguments: [SpreadByteOrder.little, .big]) func aRegularMembershipCarriesItsVsSetsAndTheLocalOffset(order: SpreadByteOrder) throws {
        let id = SpreadGroupID(daemon: 3, time: 77, index: 9)
        let bytes = Self.bytes {
            SpreadMessageWriter.writeRegularMembership(
                group: "chat", cause: .network, groupID: id, members: ["#a#d1", "#b#d1", "#c#d2"],
                vsSets: [["#c#d2"], ["#a#d1", "#b#d1"]], localSet: 1, order: order, into: &$0)
        }
        let view = try LibspreadView(bytes)
        #expect(view.type == 0x1000 | 0x0800)
        #expect(view.sender == "chat" && view.groups == ["#a#d1", "#b#d1", "#c#d2"])
        let membership = view.membership
        #expect(membership.groupID == [3, 77, 9])
        #expect(membership.sets == [["#c#d2"], ["#a#d1", "#b#d1"]])
        #expect(membership.local == 1)
    }

    @Test(arguments: [SpreadByteOrder.little, .big]) func transitionalSelfLeaveAndRejectMessages(order: SpreadByteOrder) throws {
        let transitional = try LibspreadView(Self.bytes {
            SpreadMessageWriter.writeTransitionalMembership(group: "chat", groupID: SpreadGroupID(daemon: 1, time: 2, index: 0), order: order, into: &$0)
        })
        #expect(transitional.type == 0x2000 && transitional.sender == "chat" && transitional.groups.isEmpty)
        #expect(transitional.data.count == 12 && transitional.int(0) == 1 && transitional.int(4) == 2)
        let leave = try LibspreadView(Self.bytes { SpreadMessageWriter.writeSelfLeave(group: "chat", order: order, into: &$0) })
        // sp.h's Is_self_leave: CAUSED_BY_LEAVE without REG_MEMB_MESS or TRANSITION_MESS.
        #expect(leave.type == 0x0200 && leave.sender == "chat" && leave.groups.isEmpty && leave.data.isEmpty)
        let reject = try LibspreadView(
            Self.bytes {
                SpreadMessageWriter.writeReject(
                    requestType: 0x10 | 0x40, sender: "#a#d1", groups: ["secret"], messageType: 7,
                    payload: ByteBufferAllocator().buffer(string: "data"), order: order, into: &$0)
            }, reject: true)
        #expect(reject.type == 0x0040_0000 | 0x10 | 0x40)
        #expect(reject.groups == ["secret"] && reject.messageType == 7 && reject.data == Array("data".utf8))
    }

    @Test func namesLongerThanTheWireKeepsAreCutAndStillEndInANul() throws {
        let long = String(repeating: "g", count: 40)
        let view = try LibspreadView(Self.bytes {
            SpreadMessageWriter.writeDataHeader(service: 1, sender: "#a#d1", groups: [long], messageType: 0, payloadLength: 0, order: .little, into: &$0)
        })
        #expect(view.groups == [String(repeating: "g", count: 31)])
    }

    @Test(arguments: [SpreadByteOrder.little, .big]) func aStreamsPrebuiltHeaderWritesWhatTheWriterWrites(order: SpreadByteOrder) throws {
        let header = SpreadDataHeader(service: 5, selfDiscard: true, sender: "#a#d1", groups: ["g1", "g2"], messageType: 9, order: order)
        for length in [0, 1, 1000, 70_000] {
            let direct = Self.bytes {
                SpreadMessageWriter.writeDataHeader(
                    service: 5, selfDiscard: true, sender: "#a#d1", groups: ["g1", "g2"], messageType: 9, payloadLength: length, order: order, into: &$0)
            }
            #expect(Self.bytes { header.write(payloadLength: length, into: &$0) } == direct, "length \(length)")
        }
    }
}
