import ChorusLocalCluster
import Foundation
import Testing

/// The `chorus` CLI as users run it: real processes against a real daemon.
@Suite(.serialized) struct CommandLineTests {
    static func run(_ arguments: [String], input: String? = nil, timeout: Double = 20) throws -> (status: Int32, output: String) {
        try runProgram(LocalCluster.siblingExecutable("chorus"), arguments, input: input, timeout: timeout)
    }

    /// Runs `program` to its end (terminated after `timeout` seconds); its output and status.
    static func runProgram(
        _ program: String, _ arguments: [String], input: String? = nil, timeout: Double = 20
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let inputPipe = Pipe()
        process.standardInput = inputPipe
        try process.run()
        if let input { inputPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inputPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }

    @Test func sendListenStatusAndUser() async throws {
        let cluster = try LocalCluster(count: 2, basePort: 21_600)
        defer { cluster.stop() }
        try await cluster.start()
        let d1 = "127.0.0.1:\(cluster.members[0].clientPort)"
        let d2 = cluster.members[1].unixSocket

        // listen on d2 (Unix socket), send from d1 (TCP).
        let listener = Task.detached { try Self.run(["listen", "--daemon", d2, "-g", "chat", "--count", "3", "--json", "--no-membership"]) }
        // Send once the listener's join is ordered (the group table is the same at every daemon).
        let deadline = Date().addingTimeInterval(20)
        while try await !BadClientTests.status(port: cluster.members[0].clientPort).contains("\"name\":\"chat\"") {
            guard Date() < deadline else { throw ClusterError("the listener never joined chat") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let sent = try Self.run(["send", "--daemon", d1, "-g", "chat", "--service", "safe", "one", "two"])
        #expect(sent.status == 0, "\(sent.output)")
        let piped = try Self.run(["send", "--daemon", d1, "-g", "chat", "--type", "7"], input: "three\n")
        #expect(piped.status == 0, "\(piped.output)")
        let (status, output) = try await listener.value
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == 3, "\(output)")
        #expect(lines.first?.contains("\"payload\":\"one\"") == true && lines.first?.contains("\"service\":\"safe\"") == true)
        #expect(lines.last?.contains("\"type\":7") == true)

        // status: the ring and both daemons.
        let report = try Self.run(["status", "--daemon", d1])
        #expect(report.status == 0)
        #expect(report.output.contains("regular): d1, d2"), "\(report.output)")
        #expect(report.output.contains("messages accepted 3"), "\(report.output)")

        // user: join, send, see the message and the view.
        let user = try Self.run(["user", "--daemon", d1, "-n", "tester"], input: "j room\ns room hello there\nq\n")
        #expect(user.output.contains("view room"), "\(user.output)")
        #expect(user.output.contains("hello there"), "\(user.output)")

        // Bad input gets a clear message and a non-zero exit.
        let bad = try Self.run(["send", "--daemon", "not-an-endpoint", "-g", "x", "m"])
        #expect(bad.status != 0 && bad.output.contains("--daemon"), "\(bad.output)")
    }

    /// README's first command.
    @Test func demoRunsAndCleansUp() throws {
        let (status, output) = try Self.run(["demo", "--base-port", "21700"], timeout: 60)
        #expect(status == 0, "\(output)")
        #expect(output.contains("every client delivered the same 9 agreed messages in the same order: yes"), "\(output)")
        #expect(output.contains("transitional network"), "\(output)")
        #expect(output.contains("after the merge every client delivered the same agreed order: yes"), "\(output)")
        #expect(!LocalCluster.canConnect(port: 21_700))
    }

    /// `chorus bench --sites`: local daemons in two sites 20 ms apart; each site's receiver gets
    /// both senders' messages, about a one-way delay after they were sent.
    @Test func benchAcrossSites() throws {
        let (status, output) = try Self.run(
            ["bench", "--daemons", "2", "--sites", "2", "--wan-delay", "20", "--rate", "100", "--duration", "2", "--warmup", "1",
             "--base-port", "23600"], timeout: 90)
        #expect(status == 0, "\(output)")
        for site in ["s1", "s2"] {
            let line = output.split(separator: "\n").first { $0.contains("site \(site) (1 receiver(s))") }.map(String.init) ?? ""
            let numbers = line.split(whereSeparator: { !$0.isNumber && $0 != "." }).compactMap { Double($0) }
            // "site s1 (1 receiver(s)): 200 msg/s 0.20 MB/s per receiver; latency p50 21000 µs p99 29000":
            // 1, 1, 200, 0.20, 50, 21000, 99, 29000
            #expect(numbers.count == 8, "\(output)")
            if numbers.count == 8 {
                #expect(numbers[2] >= 150, "\(site) delivered \(numbers[2]) msg/s: \(line)")
                #expect(numbers[5] >= 15_000 && numbers[5] <= 60_000, "\(site) p50 \(numbers[5]) µs: \(line)")
            }
        }
    }

    /// `chorus sim --sites`: whole daemons in three sites over lossy wide-area links, checked.
    @Test func simAcrossSites() throws {
        let (status, output) = try Self.run(
            ["sim", "--sites", "3", "--daemons", "2", "--seed", "4", "--duration", "6", "--wan-delay", "20", "--wan-loss", "0.02"],
            timeout: 60)
        #expect(status == 0, "\(output)")
        #expect(output.contains("3 sites × 2 daemons") && output.contains("no violations"), "\(output)")
    }

    /// `--break RULE` breaks an order rule on purpose: the same run then fails, with the seed and
    /// the violations; an unknown rule is refused with the names it takes.
    @Test func simAcrossSitesWithABrokenRule() throws {
        let arguments = ["sim", "--sites", "3", "--daemons", "2", "--seed", "1", "--duration", "4"]
        let (status, output) = try Self.run(arguments + ["--break", "promises"], timeout: 60)
        #expect(status != 0, "\(output)")
        #expect(output.contains("VIOLATIONS") && output.contains("FAILED seeds: 1"), "\(output)")
        let (refused, message) = try Self.run(arguments + ["--break", "no-such-rule"], timeout: 60)
        #expect(refused != 0 && message.contains("unknown rule no-such-rule") && message.contains("fifo-ahead"), "\(message)")
    }

    /// A site cut off for 4 s: the trace shows it alone and the others without it, then all merged.
    @Test func simAcrossSitesWithASiteCutOff() throws {
        let (status, output) = try Self.run(
            ["sim", "--sites", "3", "--daemons", "2", "--seed", "7", "--duration", "12", "--wan-delay", "20", "--site-cutoffs", "1",
             "--cutoff-seconds", "4", "--trace-configurations"],
            timeout: 60)
        #expect(status == 0, "\(output)")
        #expect(output.contains("cut off") && output.contains("no violations"), "\(output)")
        // Some site alone, in a configuration of its own, and all of them together at the end.
        #expect(output.range(of: #"regular [0-9]+\.s([1-3])\{s\1\}"#, options: .regularExpression) != nil, "\(output)")
        #expect(output.contains("(every site, every daemon)"), "\(output)")
    }

    /// `chorus sim` across sites with sessions leaving and joining again and daemons restarted:
    /// group views spanning sites are shown and checked.
    @Test func simAcrossSitesWithGroupLeavesAndRestarts() throws {
        let (status, output) = try Self.run(
            ["sim", "--sites", "3", "--daemons", "2", "--seed", "4", "--duration", "10", "--group-leaves", "0.5", "--daemon-restarts", "1"],
            timeout: 60)
        #expect(status == 0, "\(output)")
        #expect(output.contains("no violations") && output.contains("1 restarts"), "\(output)")
        #expect(output.range(of: #"group views: [1-9][0-9]* shown over all daemons, [1-9][0-9]* leaves"#, options: .regularExpression) != nil, "\(output)")
    }

    @Test func checkConfigPointsAtTheMistake() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-check-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.toml")
        try "[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n\n[ring]\nwindow = 5\n".write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: LocalCluster.siblingExecutable("chorusd"))
        process.arguments = ["--check-config", file.path]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(text.contains("bad.toml:6: ring.window: 5 is out of range; expected an integer from 10 to 100000"), "\(text)")
    }
}
