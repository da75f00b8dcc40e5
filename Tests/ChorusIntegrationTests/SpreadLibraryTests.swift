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
            environment: ["CHORUSD": LocalCluster.siblingExecutable("chorusd")])
        try #require(run.status == 0, "golden.sh failed:\n\(run.output.suffix(2000))")
        // chorusd's group ids never repeat where Spread's do: their numbering is masked.
        let compare = try Self.bash(
            """
            norm() { scripts/spread/normalize.sh "$1" | sed -E 's/gid=G[0-9]+/gid=G/g'; }
            diff <(norm scripts/spread/golden/three-daemons.txt) <(norm '\(out.path)/three-daemons.txt')
            """)
        #expect(compare.status == 0, "libspread saw chorusd differ from Spread 4.4.0:\n\(compare.output.prefix(4000))")
    }
}
