import Chorus
import ChorusLocalCluster
import Foundation
import NIOCore
import Testing

/// Clients of every kind in one group on a 3-daemon site: a Swift session and a Spread-protocol
/// client on d1, the C client on d2 (Unix socket), the Python client on d3 (TCP). Each sends 20
/// agreed messages once all four are in; every one of them must deliver all 80, in one order, and
/// see the same view. (Mixed/ holds the C and Python members.)
@Suite(.serialized) struct MixedClientsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let mixed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Mixed")
    static let toolsReady = ClientLibraryTests.pythonReady && ClientLibraryTests.compilerReady
    static let members = 4
    static let count = 20

    /// Runs `executable` with `arguments`; its standard output, once it exits.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (String, Int32) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: executable)
                    process.arguments = arguments
                    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
                    let output = Pipe()
                    process.standardOutput = output
                    process.standardError = FileHandle.nullDevice
                    try process.run()
                    let bytes = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (String(decoding: bytes, as: UTF8.self), process.terminationStatus)
                })
            }.start()
        }
    }

    struct TimedOut: Error {}

    /// `body`'s result, or `TimedOut` (and `body` cancelled) after `seconds`.
    static func within<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                throw TimedOut()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// The "MSG sender text" lines and the last four-member "VIEW" line of a member's output.
    static func parse(_ output: String) -> (messages: [String], view: String?) {
        let lines = output.split(separator: "\n").map(String.init)
        let messages = lines.filter { $0.hasPrefix("MSG ") }.map { String($0.dropFirst(4)) }
        let view = lines.last { $0.hasPrefix("VIEW ") && $0.split(separator: ",").count == members }.map { String($0.dropFirst(5)) }
        return (messages, view)
    }

    @Test(.enabled(if: toolsReady, "python3 with pytest, make and a C compiler are needed for the Python and C members"))
    func swiftSpreadCAndPythonClientsShareOneGroupOneOrderAndOneView() async throws {
        // The C member, built against libchorus.
        let binary = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-mix-client-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: binary) }
        let build = try ClientLibraryTests.run(
            "make -s >/dev/null && cc -O1 -I include '\(Self.mixed.path)/mix_client.c' build/libchorus.a -lpthread -o '\(binary)' 2>&1",
            in: "clients/c")
        try #require(build.status == 0, "the C member did not build:\n\(build.output)")

        let cluster = try LocalCluster(count: 3, basePort: 26_700, spread: true)
        defer { cluster.stop() }
        try await cluster.start()
        let d1 = cluster.member("d1"), d2 = cluster.member("d2"), d3 = cluster.member("d3")
        let arguments = ["mix", "\(Self.members)", "\(Self.count)"]
        async let python = Self.run(
            "/usr/bin/env", ["python3", Self.mixed.appendingPathComponent("mix_client.py").path, "127.0.0.1:\(d3.clientPort)", "py"] + arguments,
            environment: ["PYTHONPATH": Self.repository.appendingPathComponent("clients/python/src").path])
        async let c = Self.run(binary, [d2.unixSocket, "c"] + arguments)
        async let spread: (messages: [String], view: String?) = SpreadProtocolTests.blocking {
            let client = try SpreadTestClient(port: d1.spreadPort, name: "sp")
            client.join("mix")
            var messages: [String] = []
            var view: String?
            while messages.count < Self.members * Self.count {
                let message = try client.receive()
                if message.isRegularMembership, message.sender == "mix" {
                    if message.groups.count == Self.members, view == nil {
                        view = message.groups.joined(separator: ",")
                        for index in 0..<Self.count { client.multicast("sp-\(index)", to: ["mix"]) }
                    }
                } else if message.isData {
                    messages.append("\(message.sender) \(message.text)")
                }
            }
            return (messages, view)
        }
        let swift = try await Self.within(seconds: 60) {
          try await ChorusClient.withSession(to: d1.endpoint, name: "swift") { session in
            try await session.join("mix")
            var messages: [String] = []
            var view: String?
            var events = session.events.makeAsyncIterator()
            while messages.count < Self.members * Self.count, let event = try await events.next() {
                switch event {
                case .membership(let membership) where membership.group == "mix" && membership.kind == .regular:
                    if membership.members.count == Self.members, view == nil {
                        view = membership.members.joined(separator: ",")
                        for index in 0..<Self.count { try await session.multicast("swift-\(index)", to: ["mix"]) }
                    }
                case .message(let message):
                    messages.append("\(message.sender) \(message.text)")
                default:
                    break
                }
            }
            return (messages: messages, view: view)
          }
        }
        let (pythonOutput, pythonStatus) = try await python
        let (cOutput, cStatus) = try await c
        #expect(pythonStatus == 0 && cStatus == 0, "python exited \(pythonStatus), C \(cStatus)")
        let results = [("swift", swift), ("spread", try await spread), ("c", Self.parse(cOutput)), ("python", Self.parse(pythonOutput))]
        let reference = results[0].1
        #expect(reference.messages.count == Self.members * Self.count)
        #expect(Set(reference.messages).count == Self.members * Self.count, "a message twice")
        for prefix in ["#swift#d1 swift-", "#sp#d1 sp-", "#c#d2 c-", "#py#d3 py-"] {
            #expect(reference.messages.filter { $0.hasPrefix(prefix) }.count == Self.count, "messages of \(prefix)")
        }
        #expect(reference.view.map { Set($0.split(separator: ",")) } == ["#swift#d1", "#sp#d1", "#c#d2", "#py#d3"])
        for (kind, result) in results.dropFirst() {
            #expect(result.messages == reference.messages, "the \(kind) client's order differs from the Swift client's")
            #expect(result.view == reference.view, "the \(kind) client's four-member view differs")
        }
    }
}
