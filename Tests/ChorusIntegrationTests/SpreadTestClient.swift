import ChorusLocalCluster
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Spread 4 client over a blocking socket, written from Spread's documented layout (sp.h and
/// ../shared/anchors/spread-client-protocol.md), independent of chorusd's own codec: the
/// handshake, requests in either byte order, and messages parsed field by field as libspread does.
final class SpreadTestClient: @unchecked Sendable {  // used by one thread at a time
    struct Message: CustomStringConvertible {
        var type: UInt32
        var sender: String
        var groups: [String]
        var messageType: UInt16
        var data: [UInt8]
        /// A reject's refused request type (REJECT_MESS only).
        var rejectedType: UInt32 = 0
        var little: Bool

        var isRegularMembership: Bool { type & 0x1000 != 0 }
        var isTransitional: Bool { type & 0x2000 != 0 }
        var isSelfLeave: Bool { type & 0x0200 != 0 && type & 0x3000 == 0 }
        var isReject: Bool { type & 0x0040_0000 != 0 }
        var isData: Bool { type & 0x3F != 0 && !isReject }
        var text: String { String(decoding: data, as: UTF8.self) }

        func int(_ at: Int) -> UInt32 {
            let b = data[at..<(at + 4)].map(UInt32.init)
            return little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        }
        /// SP_get_memb_info / SP_get_vs_sets_info: group id, the vs sets, the index of the local set.
        var membership: (groupID: [UInt32], sets: [[String]], local: Int) {
            var sets: [[String]] = []
            var local = -1
            var at = 20
            for index in 0..<Int(int(12)) {
                if at - 20 == Int(int(16)) { local = index }
                let count = Int(int(at))
                at += 4
                sets.append((0..<count).map { SpreadTestClient.name(data, at + 32 * $0) })
                at += 32 * count
            }
            return ([int(0), int(4), int(8)], sets, local)
        }
        var description: String {
            "type 0x\(String(type, radix: 16)) sender \(sender) groups \(groups) messageType \(messageType) \(data.count) B"
        }
    }

    struct Refused: Error, CustomStringConvertible {
        var code: Int8
        var description: String { "refused with \(code)" }
    }

    let fd: Int32
    /// The byte order this client writes in.
    let little: Bool
    private(set) var privateGroup = ""
    private var input: [UInt8] = []

    /// Connects over TCP (`port`) or a Unix socket (`path`) and runs the handshake; throws
    /// `Refused` with Spread's code when the daemon refuses.
    init(port: Int? = nil, path: String? = nil, name: String, membership: Bool = true, little: Bool = true,
         version: [UInt8] = [4, 4, 0], methods: [String] = ["NULL"], receiveBuffer: Int? = nil) throws {
        self.little = little
        if let port {
            let connected = LocalCluster.connectLoopback(port: port) { fd in
                if let receiveBuffer {
                    var size = Int32(receiveBuffer)
                    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                }
            }
            guard let connected else { throw POSIXError(.ECONNREFUSED) }
            fd = connected
        } else {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path!.utf8.enumerated() { raw[index] = byte }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        write(version + [membership ? 1 : 0, UInt8(name.utf8.count)] + Array(name.utf8))
        // A refusal of the name or the version comes where the method list would (libspread
        // reads that length as a signed byte: negative is the code).
        let listLength = Int8(bitPattern: try read(1)[0])
        guard listLength >= 0 else { throw Refused(code: listLength) }
        let offered = try read(Int(listLength))
        guard String(decoding: offered, as: UTF8.self).split(separator: " ").contains("NULL") else { throw Refused(code: 0) }
        var reply: [UInt8] = []
        for slot in 0..<3 {
            let method = slot < methods.count ? Array(methods[slot].utf8) : []
            reply += method + [UInt8](repeating: 0, count: 30 - method.count)
        }
        write(reply)
        let code = Int8(bitPattern: try read(1)[0])
        guard code == 1 else { throw Refused(code: code) }
        _ = try read(3)
        privateGroup = String(decoding: try read(Int(try read(1)[0])), as: UTF8.self)
    }

    deinit { close(fd) }

    static func name(_ bytes: [UInt8], _ at: Int) -> String { String(decoding: bytes[at..<(at + 32)].prefix { $0 != 0 }, as: UTF8.self) }

    private func int(_ value: UInt32) -> [UInt8] {
        let bytes = [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
        return little ? bytes : bytes.reversed()
    }

    private func padded(_ text: String) -> [UInt8] { Array(text.utf8.prefix(31)) + [UInt8](repeating: 0, count: 32 - min(31, text.utf8.count)) }

    /// Sends a header (as `sender`, by default this session's private group), groups and data.
    func send(type: UInt32, groups: [String], messageType: UInt16 = 0, data: [UInt8] = [], sender: String? = nil) {
        let marker: UInt32 = little ? 0x8000_0080 : 0
        var bytes = int(type | marker) + padded(sender ?? privateGroup) + int(UInt32(groups.count))
        bytes += int(((UInt32(messageType) << 8) & 0x00FF_FF00) | marker) + int(UInt32(data.count))
        for group in groups { bytes += padded(group) }
        write(bytes + data)
    }

    func join(_ group: String) { send(type: 0x0001_0000, groups: [group]) }
    func leave(_ group: String) { send(type: 0x0002_0000, groups: [group]) }
    func disconnect() { send(type: 0x0004_0000, groups: [privateGroup]) }
    /// `service`: 0 unreliable … 5 safe.
    func multicast(_ text: String, to groups: [String], service: Int = 4, messageType: UInt16 = 0, selfDiscard: Bool = false) {
        send(type: UInt32(1) << UInt32(service) | (selfDiscard ? 0x40 : 0), groups: groups, messageType: messageType, data: Array(text.utf8))
    }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while input.count < count {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard got > 0 else { throw POSIXError(got == 0 ? .ECONNRESET : .ETIMEDOUT) }
            input += chunk[0..<got]
        }
        let bytes = Array(input[0..<count])
        input.removeFirst(count)
        return bytes
    }

    /// The next message (throws when the connection closes or 10 s pass).
    func receive() throws -> Message {
        let header = try read(48)
        let isLittle = header[0] & 0x80 != 0
        func int(_ at: Int) -> UInt32 {
            let b = header[at..<(at + 4)].map(UInt32.init)
            return isLittle ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        }
        var message = Message(
            type: int(0) & ~0x8000_0080, sender: Self.name(header, 4), groups: [], messageType: UInt16((int(40) >> 8) & 0xFFFF),
            data: [], little: isLittle)
        if message.isReject {
            let raw = try read(4)
            let b = raw.map(UInt32.init)
            message.rejectedType = (isLittle ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24) & ~0x8000_0080
        }
        let groups = try read(32 * Int(int(36)))
        message.groups = (0..<Int(int(36))).map { Self.name(groups, 32 * $0) }
        message.data = try read(Int(int(44)))
        return message
    }

    /// Receives until `match` holds (returns that message) or `limit` messages went by.
    func receive(until match: (Message) -> Bool, limit: Int = 1000) throws -> Message {
        for _ in 0..<limit {
            let message = try receive()
            if match(message) { return message }
        }
        throw POSIXError(.ETIMEDOUT)
    }

    /// Whether the daemon closed the connection (reads until the end, 5 s at most).
    func isClosedByDaemon() -> Bool {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got == 0 { return true }
            if got < 0 { return errno == ECONNRESET }
        }
    }
}
