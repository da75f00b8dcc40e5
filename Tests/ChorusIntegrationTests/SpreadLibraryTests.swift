import ChorusLocalCluster
import Foundation
import Testing

/// Spread's own client library against chorusd: `scripts/spread` builds Spread 4.4.0's libspread
/// and a scriptable client from ../shared (absent in a fresh clone elsewhere: then these skip),
/// runs a scenario recorded against real Spread daemons, and compares the transcripts.
@Suite(.serialized) struct SpreadLibraryTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tarball = repository.deletingLastPathComponent().appendingPathComponent("shared/bench/spread/spread-src-4.4.0.tar.gz")
    static var sharedIsHere: Bool { FileManager.default.fileExists(atPath: tarball.path) }

    /// javac (a JDK) on PATH: Spread's Java library is compiled from the tarball by build-java.sh.
    static var javacIsHere: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/javac")
        }
    }

    /// Runs a bash command in the repository; its output and exit status.
    static func bash(_ command: String, environment: [String: String] = [:]) throws -> (output: String, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = repository
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: output, as: UTF8.self), process.terminationStatus)
    }

    @Test(.enabled(if: sharedIsHere, "../shared/bench/spread (Spread 4.4.0's source) is not here: libspread cannot be built"))
    func libspreadSeesWhatSpreadShowsIt() throws {
        let build = try Self.bash("scripts/spread/build.sh")
        try #require(build.status == 0, "scripts/spread/build.sh failed:\n\(build.output.suffix(2000))")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-spread-golden-\(getpid())")
        defer { try? FileManager.default.removeItem(at: out) }
        let run = try Self.bash(
            "scripts/spread/golden.sh --start scripts/spread/start-chorusd.sh --stop scripts/spread/stop-chorusd.sh --out '\(out.path)' three-daemons",
            // Below the ephemeral range (32768-60999 here), where a client's outgoing port can take
            // a listener's before it binds (start-chorusd.sh's default 48300 failed so once).
            environment: ["CHORUSD": LocalCluster.siblingExecutable("chorusd"), "CHORUS_SPREAD_BASE_PORT": "29300"])
        try #require(run.status == 0, "golden.sh failed:\n\(run.output.suffix(2000))")
        // chorusd's group ids never repeat where Spread's do: their numbering is masked.
        let compare = try Self.bash(
            """
            norm() { scripts/spread/normalize.sh "$1" | sed -E 's/gid=G[0-9]+/gid=G/g'; }
            diff <(norm scripts/spread/golden/three-daemons.txt) <(norm '\(out.path)/three-daemons.txt')
            """)
        #expect(compare.status == 0, "libspread saw chorusd differ from Spread 4.4.0:\n\(compare.output.prefix(4000))")
    }

    /// Spread 4.4.0's own Java library (the package `spread`, compiled unchanged from the tarball) in
    /// SpJClient runs the `java-three-daemons` scenario against chorusd: every service, message
    /// types, a multigroup send, joins, leaves, disconnects and a killed daemon, as MembershipInfo
    /// parses them. The library speaks big-endian and takes ports up to 32768 only: golden.sh --java
    /// puts chorusd's Spread listeners at 32305, 32315, 32325 (CHORUS_SPREAD_BASE_PORT=32300).
    @Test(
        .enabled(if: sharedIsHere, "../shared/bench/spread (Spread 4.4.0's source) is not here: Spread's Java library cannot be built"),
        .enabled(if: javacIsHere, "no javac on PATH: Spread's Java library cannot be compiled"))
    func javaClientSeesWhatSpreadShowsIt() throws {
        let build = try Self.bash("scripts/spread/build-java.sh")
        try #require(build.status == 0 && !build.output.contains("SKIP:"), "scripts/spread/build-java.sh failed:\n\(build.output.suffix(2000))")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-spread-java-golden-\(getpid())")
        defer { try? FileManager.default.removeItem(at: out) }
        let run = try Self.bash(
            "scripts/spread/golden.sh --java --start scripts/spread/start-chorusd.sh --stop scripts/spread/stop-chorusd.sh --out '\(out.path)' java-three-daemons",
            environment: ["CHORUSD": LocalCluster.siblingExecutable("chorusd"), "CHORUS_SPREAD_BASE_PORT": "32300"])
        try #require(run.status == 0, "golden.sh --java failed:\n\(run.output.suffix(2000))")
        // chorusd's group ids never repeat where Spread's do: their numbering is masked.
        let compare = try Self.bash(
            """
            norm() { scripts/spread/normalize.sh "$1" | sed -E 's/gid=G[0-9]+/gid=G/g'; }
            diff <(norm scripts/spread/golden/java-three-daemons.txt) <(norm '\(out.path)/java-three-daemons.txt')
            """)
        #expect(compare.status == 0, "Spread's Java library saw chorusd differ from Spread 4.4.0:\n\(compare.output.prefix(4000))")
    }
}
