import ChorusSpread
import NIOCore
import Testing

/// Bytes laid out by hand as libspread sends them (include/sp.h, libspread/sp.c), not by the
/// writer under test, so a mistake made on both sides cannot cancel out.
enum SpreadBytes {
    static func int(_ value: UInt32, little: Bool) -> [UInt8] {
        let bytes = [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
        return little ? bytes : bytes.reversed()
    }

    static func name(_ text: String) -> [UInt8] { Array(text.utf8) + [UInt8](repeating: 0, count: 32 - text.utf8.count) }

    static func connect(_ name: String, version: [UInt8] = [4, 4, 0], membership: Bool = true) -> [UInt8] {
        version + [membership ? 1 : 0, UInt8(name.utf8.count)] + Array(name.utf8)
    }

    static func auth(_ methods: [String] = ["NULL"]) -> [UInt8] {
        var bytes: [UInt8] = []
        for slot in 0..<3 { bytes += slot < methods.count ? Array(methods[slot].utf8) + [UInt8](repeating: 0, count: 30 - methods[slot].utf8.count) : [UInt8](repeating: 0, count: 30) }
        return bytes
    }

    /// A message header (with the endian marker the way a machine of that order sets it),
    /// the groups and the data.
    static func message(type: UInt32, sender: String, groups: [String], messageType: UInt16 = 0, data: [UInt8] = [], little: Bool = true) -> [UInt8] {
        let marker: UInt32 = little ? 0x8000_0080 : 0
        var bytes = int(type | marker, little: little) + name(sender) + int(UInt32(groups.count), little: little)
        bytes += int(((UInt32(messageType) << 8) & 0x00FF_FF00) | marker, little: little) + int(UInt32(data.count), little: little)
        for group in groups { bytes += name(group) }
        return bytes + data
    }
}

struct SpreadSessionReaderTests {
    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBufferAllocator().buffer(bytes: bytes) }

    /// Feeds `bytes` one at a time, as a slow network would, and collects the events.
    static func feedByteByByte(_ reader: inout SpreadSessionReader, _ bytes: [UInt8]) throws -> [SpreadSessionReader.Event] {
        var pending = ByteBufferAllocator().buffer(capacity: bytes.count)
        var events: [SpreadSessionReader.Event] = []
        for byte in bytes {
            pending.writeInteger(byte)
            while let event = try reader.next(&pending) { events.append(event) }
        }
        #expect(pending.readableBytes == 0)
        return events
    }

    @Test func theHandshakeAndARequestReadInAnyPieces() throws {
        var reader = SpreadSessionReader()
        let events = try Self.feedByteByByte(&reader, SpreadBytes.connect("alice") + SpreadBytes.auth())
        #expect(events.count == 2)
        guard case .connect(let connect) = events[0] else { Issue.record("no connect"); return }
        #expect(connect.name == "alice" && connect.membershipNotices && connect.version == (4, 4, 0))
        #expect(events[1] == .authentication(["NULL"]))
        reader.accepted(privateGroup: "#alice#d1")
        let join = try Self.feedByteByByte(&reader, SpreadBytes.message(type: 0x0001_0000, sender: "#alice#d1", groups: ["chat"]))
        #expect(join == [.request(.join(group: "chat"))])
    }

    @Test(arguments: [true, false]) func aMulticastReadsInEitherByteOrder(little: Bool) throws {
        var reader = SpreadSessionReader()
        reader.accepted(privateGroup: "#bob#d2")
        var buffer = Self.buffer(SpreadBytes.message(
            type: 0x20 | 0x40, sender: "#bob#d2", groups: ["a", "b", "#x#d1"], messageType: 0xBEEF, data: Array("payload".utf8), little: little))
        let event = try reader.next(&buffer)
        guard case .request(.multicast(let message)) = event else { Issue.record("not a multicast: \(String(describing: event))"); return }
        #expect(message.service == 5 && message.selfDiscard && message.messageType == 0xBEEF)
        #expect(message.groups == ["a", "b", "#x#d1"])
        #expect(String(buffer: message.payload) == "payload")
        #expect(reader.byteOrder == (little ? .little : .big))
        #expect(buffer.readableBytes == 0)
    }

    @Test func aDisconnectAndALeaveRead() throws {
        var reader = SpreadSessionReader()
        reader.accepted(privateGroup: "#c#d1")
        var buffer = Self.buffer(
            SpreadBytes.message(type: 0x0002_0000, sender: "#c#d1", groups: ["g"], little: false)
                + SpreadBytes.message(type: 0x0004_0000, sender: "#c#d1", groups: ["#c#d1"]))
        #expect(try reader.next(&buffer) == .request(.leave(group: "g")))
        #expect(try reader.next(&buffer) == .request(.disconnect))
    }

    @Test func groupListsReadRightWhenTheyRepeatAndWhenTheyChange() throws {
        var reader = SpreadSessionReader()
        reader.accepted(privateGroup: "#bob#d2")
        let lists = [["a", "b"], ["a", "b"], ["a", "c"], ["a"], ["a", "b", "c"], ["a", "b"], ["b", "a"], ["a", "b"]]
        var bytes: [UInt8] = []
        for groups in lists { bytes += SpreadBytes.message(type: 0x10, sender: "#bob#d2", groups: groups) }
        var buffer = Self.buffer(bytes)
        for groups in lists {
            guard case .request(.multicast(let message)) = try reader.next(&buffer) else { Issue.record("not a multicast"); return }
            #expect(message.groups == groups)
        }
        // A list the cache holds, then bytes that differ only past a name's NUL: the same names.
        var padded = SpreadBytes.message(type: 0x10, sender: "#bob#d2", groups: ["a", "b"])
        padded[48 + 5] = 0x7A
        buffer = Self.buffer(padded)
        guard case .request(.multicast(let message)) = try reader.next(&buffer) else { Issue.record("not a multicast"); return }
        #expect(message.groups == ["a", "b"])
        // A name that is not UTF-8 is refused even right after a list the cache holds.
        var bad = SpreadBytes.message(type: 0x10, sender: "#bob#d2", groups: ["a", "b"])
        bad[48 + 32] = 0xFF
        #expect(Self.refusal(SpreadBytes.message(type: 0x10, sender: "#bob#d2", groups: ["a", "b"]) + bad, accepted: "#bob#d2") == .illegalGroup)
    }

    @Test func theSenderMustBeThisSessionExactly() {
        let me = "#a#d1"
        #expect(Self.refusal(SpreadBytes.message(type: 0x10, sender: me, groups: ["g"]), accepted: me) == nil)
        // A longer name it is the start of, or a shorter one.
        #expect(Self.refusal(SpreadBytes.message(type: 0x10, sender: "#a#d10", groups: ["g"]), accepted: me) == .illegalSession)
        #expect(Self.refusal(SpreadBytes.message(type: 0x10, sender: "#a#d", groups: ["g"]), accepted: me) == .illegalSession)
        // Bytes after the NUL do not count; a 31-byte name fills the field up to its last byte,
        // which is taken as a NUL whatever it holds.
        var trailing = SpreadBytes.message(type: 0x10, sender: me, groups: ["g"])
        trailing[4 + 10] = 0x41
        #expect(Self.refusal(trailing, accepted: me) == nil)
        let longest = "#" + String(repeating: "n", count: 10) + "#" + String(repeating: "d", count: 19)
        var full = SpreadBytes.message(type: 0x10, sender: longest, groups: ["g"])
        #expect(Self.refusal(full, accepted: longest) == nil)
        full[4 + 31] = 0x41
        #expect(Self.refusal(full, accepted: longest) == nil)
    }

    static func refusal(_ bytes: [UInt8], accepted: String? = nil, maxData: Int = Spread.maxMessageBody) -> Spread.Code? {
        var reader = SpreadSessionReader(maxData: maxData)
        if let accepted { reader.accepted(privateGroup: accepted) }
        var buffer = buffer(bytes)
        do {
            while try reader.next(&buffer) != nil {}
            return nil
        } catch {
            return error.code
        }
    }

    @Test func handshakesSpreadRefusesAreRefusedWithItsCodes() {
        #expect(Self.refusal(SpreadBytes.connect("a#b")) == .rejectIllegalName)
        #expect(Self.refusal(SpreadBytes.connect("with space")) == .rejectIllegalName)
        #expect(Self.refusal(SpreadBytes.connect("elevenchars")) == .rejectIllegalName)
        #expect(Self.refusal(SpreadBytes.connect("tenchars10")) == nil)
        #expect(Self.refusal(SpreadBytes.connect("old", version: [3, 15, 0])) == .rejectVersion)
        #expect(Self.refusal(SpreadBytes.connect("old", version: [3, 16, 0])) == nil)
        #expect(Self.refusal(SpreadBytes.connect("x") + SpreadBytes.auth([])) == .rejectAuth)
    }

    @Test func headersSpreadWouldRejectCloseTheSessionBeforeTheirBodyIsAwaited() {
        let me = "#me#d1"
        // Two services; a service and a request; nothing at all.
        #expect(Self.refusal(SpreadBytes.message(type: 0x10 | 0x20, sender: me, groups: ["g"]), accepted: me) == .illegalService)
        #expect(Self.refusal(SpreadBytes.message(type: 0x10 | 0x0001_0000, sender: me, groups: ["g"]), accepted: me) == .illegalService)
        #expect(Self.refusal(SpreadBytes.message(type: 0, sender: me, groups: ["g"]), accepted: me) == .illegalService)
        // Another session's name.
        #expect(Self.refusal(SpreadBytes.message(type: 0x10, sender: "#you#d1", groups: ["g"]), accepted: me) == .illegalSession)
        // 101 groups (only the header is sent: the count alone is refused).
        var header = SpreadBytes.message(type: 0x10, sender: me, groups: [])
        header.replaceSubrange(36..<40, with: SpreadBytes.int(101, little: true))
        #expect(Self.refusal(header, accepted: me) == .illegalGroup)
        // A negative count, bits in the hint beyond the type.
        header.replaceSubrange(36..<40, with: SpreadBytes.int(0xFFFF_FFFF, little: true))
        #expect(Self.refusal(header, accepted: me) == .illegalGroup)
        var hint = SpreadBytes.message(type: 0x10, sender: me, groups: ["g"])
        hint[40] |= 0x01
        #expect(Self.refusal(hint, accepted: me) == .illegalMessage)
        // A body beyond Spread's maximum, or this daemon's: refused from the header alone.
        var long = SpreadBytes.message(type: 0x10, sender: me, groups: [])
        long.replaceSubrange(44..<48, with: SpreadBytes.int(UInt32(Spread.maxMessageBody), little: true))
        #expect(Self.refusal(long, accepted: me) == .messageTooLong)
        long.replaceSubrange(44..<48, with: SpreadBytes.int(2000, little: true))
        #expect(Self.refusal(long, accepted: me, maxData: 1000) == .messageTooLong)
        // A join without a group; a message to no group.
        #expect(Self.refusal(SpreadBytes.message(type: 0x0001_0000, sender: me, groups: []), accepted: me) == .illegalGroup)
        #expect(Self.refusal(SpreadBytes.message(type: 0x10, sender: me, groups: []), accepted: me) == .illegalGroup)
    }

    @Test func randomBytesNeverTrapOrReadPastWhatIsThere() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var reader = SpreadSessionReader()
            if Bool.random(using: &generator) { reader.accepted(privateGroup: "#r#d1") }
            var bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if Bool.random(using: &generator), bytes.count >= 48 {
                bytes.replaceSubrange(4..<36, with: SpreadBytes.name("#r#d1"))
            }
            var buffer = Self.buffer(bytes)
            while let event = try? reader.next(&buffer), event != nil {}
        }
    }
}
