import ChorusFuzzTargets
import Foundation

#if FUZZING
// Built with `-sanitize=fuzzer,address -DFUZZING` (scripts/fuzz.sh): libFuzzer calls this for
// every input; CHORUS_FUZZ_TARGET says which decoder.
nonisolated(unsafe) var target: FuzzTarget = .ring

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>>>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["CHORUS_FUZZ_TARGET"] ?? "ring"
    guard let chosen = FuzzTarget.named(name) else {
        fputs("chorus-fuzz: CHORUS_FUZZ_TARGET '\(name)' is none of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n", stderr)
        exit(2)
    }
    target = chosen
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
/// Without the fuzzer: `chorus-fuzz TARGET FILE...` runs the target once on each file (to
/// replay a crash libFuzzer wrote, under the debugger or with prints).
@main
enum ReplayInputs {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget.named(name) else {
            print("usage: chorus-fuzz TARGET FILE...; targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                exit(1)
            }
            data.withUnsafeBytes { target.run($0) }
            print("\(path): ok")
        }
    }
}
#endif
