// swift-tools-version:6.1
import PackageDescription
let package = Package(name: "aeadbench",
  dependencies: [.package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0")],
  targets: [.executableTarget(name: "aeadbench", dependencies: [.product(name: "Crypto", package: "swift-crypto")])])
