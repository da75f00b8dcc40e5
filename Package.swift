// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Chorus",
    products: [
        .library(name: "ChorusWire", targets: ["ChorusWire"]),
        .library(name: "ChorusCore", targets: ["ChorusCore"]),
        .library(name: "ChorusSimulator", targets: ["ChorusSimulator"]),
        .library(name: "ChorusProtocol", targets: ["ChorusProtocol"]),
        .library(name: "ChorusDaemon", targets: ["ChorusDaemon"]),
        .library(name: "Chorus", targets: ["Chorus"]),
        .executable(name: "chorusd", targets: ["chorusd"]),
        .executable(name: "chorus", targets: ["chorus"]),
        .executable(name: "chorus-fuzz", targets: ["chorus-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
    ],
    targets: [
        // Hardware CRC32C (SSE4.2 / ARMv8 CRC) with a portable fallback.
        .target(name: "CChorusCRC"),
        // What the engine, the daemon and every client share: the services, and the status report.
        .target(name: "ChorusSchema"),
        .target(
            name: "ChorusWire",
            dependencies: ["CChorusCRC", "ChorusSchema", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "ChorusCore",
            dependencies: [
                "ChorusWire", "ChorusSchema", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // Checkers for extended virtual synchrony and the service promises, on recorded histories.
        .target(name: "ChorusVerify"),
        .target(
            name: "ChorusSimulator",
            dependencies: [
                "ChorusCore", "ChorusWire", "ChorusVerify", "ChorusSeal", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Sealed daemon datagrams: AES-GCM, key files, replay windows, key rotation.
        .target(
            name: "ChorusSeal",
            dependencies: [.product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Spread 4's client protocol, for chorusd's listener that unchanged Spread applications use.
        .target(name: "ChorusSpread", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // The client protocol's frames, shared by the daemon and every Swift client.
        // Depends on no part of the ring: a client links only this, ChorusSchema and NIO.
        .target(name: "ChorusProtocol", dependencies: ["ChorusSchema", .product(name: "NIOCore", package: "swift-nio")]),
        // The daemon shell: configuration, UDP ring transport, client sessions, around the engine.
        .target(
            name: "ChorusDaemon",
            dependencies: [
                "ChorusCore", "ChorusWire", "ChorusProtocol", "ChorusSchema", "ChorusSeal", "ChorusSpread",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The Swift client library.
        .target(
            name: "Chorus",
            dependencies: [
                "ChorusProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Runs a site of real chorusd processes on this host (for `chorus demo`, `chorus bench`, tests).
        .target(name: "ChorusLocalCluster", dependencies: ["Chorus"]),
        .executableTarget(
            name: "chorusd",
            dependencies: [
                "ChorusDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "chorus",
            dependencies: [
                "ChorusSimulator", "ChorusCore", "Chorus", "ChorusLocalCluster", "ChorusDaemon", "ChorusSeal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // Every decoder of outside input as a fuzz target; chorus-fuzz runs them under libFuzzer
        // (scripts/fuzz.sh), FuzzCorpusTests replays their committed corpora.
        .target(
            name: "ChorusFuzzTargets",
            dependencies: [
                "ChorusWire", "ChorusProtocol", "ChorusDaemon", "ChorusSeal", "ChorusSpread",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // libFuzzer's driver entry, declared for chorus-fuzz (defined by the fuzzer runtime).
        .target(name: "CChorusFuzz"),
        .executableTarget(name: "chorus-fuzz", dependencies: ["ChorusFuzzTargets", "CChorusFuzz"]),
        .testTarget(name: "ChorusWireTests", dependencies: ["ChorusWire"]),
        .testTarget(name: "ChorusCoreTests", dependencies: ["ChorusCore", "ChorusWire"]),
        .testTarget(name: "ChorusVerifyTests", dependencies: ["ChorusVerify"]),
        .testTarget(
            name: "ChorusSealTests", dependencies: ["ChorusSeal", .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "ChorusProtocolTests", dependencies: ["ChorusProtocol", "ChorusSchema"]),
        .testTarget(name: "ChorusSpreadTests", dependencies: ["ChorusSpread", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "ChorusDaemonTests",
            dependencies: ["ChorusDaemon", "ChorusCore", "ChorusWire", .product(name: "NIOCore", package: "swift-nio")]),
        // Real daemons as child processes, real sockets, real kills.
        .testTarget(
            name: "ChorusIntegrationTests",
            dependencies: ["Chorus", "ChorusLocalCluster", "ChorusVerify", "ChorusSeal", "ChorusWire", .product(name: "NIOCore", package: "swift-nio")],
            // Test-only certificates, read from the source tree (see TLS/README.md); the C and
            // Python members of MixedClientsTests.
            exclude: ["TLS", "Mixed"]),
        .testTarget(
            name: "ChorusFuzzTests", dependencies: ["ChorusFuzzTargets", "ChorusWire", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Corpus")]),
        .testTarget(name: "ChorusSimulatorTests", dependencies: ["ChorusSimulator", "ChorusVerify", "ChorusCore", "ChorusWire"]),
    ],
    swiftLanguageModes: [.v6]
)
