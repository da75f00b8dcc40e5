import ChorusFuzzTargets
import Foundation

#if FUZZING
import CChorusFuzz

// Built with `-sanitize=fuzzer,address -DFUZZING` (scripts/fuzz.sh). SwiftPM makes an
// executable's `main` an alias of `chorus_fuzz_main`, so libFuzzer's own `main` is not used: this
// entry point picks the target (CHORUS_FUZZ_TARGET) and hands over to libFuzzer's driver.
nonisolated(unsafe) var target: FuzzTarget = .ring

@_cdecl("chorus_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["CHORUS_FUZZ_TARGET"] ?? "ring"
    guard let chosen = FuzzTarget.named(name) else {
        print("chorus-fuzz: CHORUS_FUZZ_TARGET '\(name)' is none of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        return 2
    }
    target = chosen
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return withUnsafeMutablePointer(to: &arguments) { pointer in
        pointer.withMemoryRebound(to: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?.self, capacity: 1) {
            LLVMFuzzerRunDriver(&count, $0) { data, size in
                target.run(UnsafeRawBufferPointer(start: data, count: size))
                return 0
            }
        }
    }
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
