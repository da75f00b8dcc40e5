import ChorusLocalCluster
import ChorusProtocol
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket for sending hostile bytes to a daemon and reading what comes back.
final class RawSocket {
    let fd: Int32

    init(port: Int, receiveBuffer: Int? = nil) throws {
        let connected = LocalCluster.connectLoopback(port: port) { fd in
            if let receiveBuffer {
                var size = Int32(receiveBuffer)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        guard let connected else { throw POSIXError(.ECONNREFUSED) }
        fd = connected
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    /// Ends the write side (the daemon sees the end of the stream after everything written).
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until the daemon closes the connection (or 5 s pass); returns the bytes and whether
    /// the connection was closed.
    func readToEnd() -> (bytes: [UInt8], closed: Bool) {
        var all: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return (all, true) }
            if count < 0 { return (all, errno == ECONNRESET) }
            all.append(contentsOf: chunk[0..<count])
        }
    }

    /// Frames in `bytes`: (type, body).
    static func frames(_ bytes: [UInt8]) -> [(type: UInt8, body: [UInt8])] {
        var frames: [(UInt8, [UInt8])] = []
        var index = 0
        while index + 5 <= bytes.count {
            let length = Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            guard length >= 1, index + 4 + length <= bytes.count else { break }
            frames.append((bytes[index + 4], Array(bytes[(index + 5)..<(index + 4 + length)])))
            index += 4 + length
        }
        return frames
    }

    static func frame(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count + 1)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type] + body
    }

    static func connectFrame(_ name: String) -> [UInt8] {
        frame(0x01, withUnsafeBytes(of: ClientProtocol.version.bigEndian, Array.init) + [1, UInt8(name.utf8.count)] + Array(name.utf8) + [0])  // no token
    }

    static func shortString(_ text: String) -> [UInt8] { [UInt8(text.utf8.count)] + Array(text.utf8) }
}
