// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Chorus",
    products: [
        .library(name: "ChorusWire", targets: ["ChorusWire"]),
        .library(name: "ChorusCore", targets: ["ChorusCore"]),
        .library(name: "ChorusSimulator", targets: ["ChorusSimulator"]),
        .executable(name: "chorus", targets: ["chorus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // Hardware CRC32C (SSE4.2 / ARMv8 CRC) with a portable fallback.
        .target(name: "CChorusCRC"),
        .target(
            name: "ChorusWire",
            dependencies: ["CChorusCRC", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "ChorusCore",
            dependencies: ["ChorusWire", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Checkers for extended virtual synchrony and the service promises, on recorded histories.
        .target(name: "ChorusVerify"),
        .target(
            name: "ChorusSimulator",
            dependencies: ["ChorusCore", "ChorusWire", "ChorusVerify", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "chorus",
            dependencies: [
                "ChorusSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "ChorusWireTests", dependencies: ["ChorusWire"]),
        .testTarget(name: "ChorusCoreTests", dependencies: ["ChorusCore", "ChorusWire"]),
        .testTarget(name: "ChorusVerifyTests", dependencies: ["ChorusVerify"]),
        .testTarget(name: "ChorusSimulatorTests", dependencies: ["ChorusSimulator", "ChorusVerify", "ChorusCore"]),
    ],
    swiftLanguageModes: [.v6]
)
