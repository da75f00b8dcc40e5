import ChorusLocalCluster
import Foundation
import Testing

/// The Python and C clients' own suites (clients/python, clients/c), run against the chorusd
/// built with these tests, so the README's test command covers every language. Each skips, saying
/// why, where its tools are missing.
@Suite(.serialized) struct ClientLibraryTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var binaries: String { URL(fileURLWithPath: LocalCluster.siblingExecutable("chorusd")).deletingLastPathComponent().path }

    static func run(_ command: String, in directory: String) throws -> (output: String, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = repository.appendingPathComponent(directory)
        process.environment = ProcessInfo.processInfo.environment.merging(["CHORUS_BIN_DIR": binaries]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: output, as: UTF8.self), process.terminationStatus)
    }

    static func has(_ check: String) -> Bool { (try? run(check, in: "."))?.status == 0 }
    static let pythonReady = has("python3 -c 'import pytest' 2>/dev/null")
    static let compilerReady = has("command -v make >/dev/null && command -v cc >/dev/null")

    @Test(.enabled(if: pythonReady, "python3 with pytest is not installed: the Python client's tests cannot run"))
    func thePythonClientsSuitePasses() throws {
        let result = try Self.run("python3 -m pytest -q -p no:cacheprovider 2>&1", in: "clients/python")
        #expect(result.status == 0, "clients/python: pytest failed:\n\(result.output.suffix(6000))")
    }

    @Test(.enabled(if: compilerReady, "make and a C compiler are not installed: the C client's tests cannot run"))
    func theCClientsSuitePassesAlsoUnderAddressSanitizer() throws {
        let result = try Self.run("make -s test 2>&1 && make -s asan-test 2>&1", in: "clients/c")
        #expect(result.status == 0, "clients/c: make test / asan-test failed:\n\(result.output.suffix(6000))")
    }
}
