// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "simfluence",
    products: [
        .library(name: "Simfluence", targets: ["Simfluence"]),
        .library(name: "LanguageWorkload", targets: ["LanguageWorkload"]),
        .executable(name: "simfluence", targets: ["simfluence"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    ],
    targets: [
        // Pure core: data model, simulators, solvers, metrics. No I/O.
        .target(
            name: "SimfluenceCore",
            dependencies: ["SimfluenceKernels", .product(name: "RealModule", package: "swift-numerics")]
        ),
        // The conjugate-gradient solver's inner loops in C, built for several instruction sets.
        .target(name: "SimfluenceKernels"),
        // Readers and writers for run logs, curricula and model files, beside the core.
        .target(
            name: "Simfluence",
            dependencies: ["SimfluenceCore"]
        ),
        // The built-in workload: UCI digits and a small MLP trainer that logs runs.
        .target(
            name: "DigitsWorkload",
            dependencies: ["SimfluenceCore", .product(name: "RealModule", package: "swift-numerics")],
            resources: [.copy("Resources/digits.csv"), .copy("Resources/LICENSE-digits.md")]
        ),
        // The built-in language-model workload: WordNet glosses and a small character-level
        // transformer (hand-written forward and backward passes) that logs fine-tuning runs.
        .target(
            name: "LanguageWorkload",
            dependencies: ["SimfluenceCore", .product(name: "RealModule", package: "swift-numerics")],
            resources: [.copy("Resources/wordnet-glosses.txt"), .copy("Resources/LICENSE-wordnet.md")]
        ),
        // The command-line interface, as a library so tests can drive it.
        .target(
            name: "SimfluenceCommands",
            dependencies: [
                "Simfluence", "DigitsWorkload", "LanguageWorkload", "SimfluenceReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "simfluence", dependencies: ["SimfluenceCommands"]),
        // The self-contained HTML report of an evaluation (pure string building, no I/O).
        .target(name: "SimfluenceReport", dependencies: ["SimfluenceCore"]),
        .testTarget(name: "SimfluenceKernelsTests", dependencies: ["SimfluenceKernels"]),
        .testTarget(name: "SimfluenceCoreTests", dependencies: ["SimfluenceCore"]),
        .testTarget(name: "SimfluenceTests", dependencies: ["Simfluence"]),
        .testTarget(name: "DigitsWorkloadTests", dependencies: ["DigitsWorkload", "Simfluence"]),
        .testTarget(name: "LanguageWorkloadTests", dependencies: ["LanguageWorkload"]),
        .testTarget(name: "SimfluenceCommandsTests", dependencies: ["SimfluenceCommands", "Simfluence"]),
        .testTarget(name: "SimfluenceReportTests", dependencies: ["SimfluenceReport"]),
    ],
    swiftLanguageModes: [.v6]
)
