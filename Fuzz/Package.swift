// swift-tools-version: 6.1
// libFuzzer targets for simfluence's readers, kept out of the main package so that its
// `swift build` / `swift test` never compile them. Build and run with ./run.sh (or ./ci.sh).
import Foundation
import PackageDescription

// The main package is the parent folder; SwiftPM names a path dependency after its folder, so
// look that name up instead of assuming the clone is called "simfluence".
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let mainPackage = parent.lastPathComponent.lowercased()

let targets = ["npy", "model", "curriculum", "initial-losses", "gptdynamics", "native", "merge", "gradients"]

let package = Package(
    name: "SimfluenceFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
    ] + targets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: ["FuzzSupport", .product(name: "Simfluence", package: mainPackage)],
            path: "Sources/fuzz-\(name)"
        )
    },
    swiftLanguageModes: [.v6]
)
