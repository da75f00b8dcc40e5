import ChorusLocalCluster
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A client that connects the moment a daemon listens (as after a restart) is served. Found by
/// KillRestartFaultTests: the daemon bound its client listeners before it started, and refused a
/// connect that arrived in between as "shutting down".
@Suite struct DaemonStartTests {
    @Test func aClientConnectingAsSoonAsTheDaemonListensIsServed() async throws {
        let cluster = try LocalCluster(count: 1, basePort: 22_700)
        defer { cluster.stop() }
        for attempt in 0..<5 {
            try cluster.launch("d1")
            let deadline = Date().addingTimeInterval(10)
            var socket: RawSocket?
            while socket == nil, Date() < deadline {
                socket = try? RawSocket(port: cluster.members[0].clientPort)
                if socket == nil { usleep(200) }
            }
            let connected = try #require(socket, "d1 never listened (attempt \(attempt))")
            connected.write(RawSocket.connectFrame("early"))
            connected.shutdownWrite()
            let frames = RawSocket.frames(connected.readToEnd().bytes)
            #expect(frames.first?.type == 0x81, "attempt \(attempt): the first reply is \(frames.first.map { "type \($0.type), \(String(decoding: $0.body.dropFirst(4), as: UTF8.self))" } ?? "nothing"), not welcome")
            cluster.kill9("d1")  // waits for the exit
        }
    }
}
