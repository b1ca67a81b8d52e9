// swift-tools-version: 6.1
// The benchmark suite: a separate package so that `swift build` / `swift test` of simfluence never
// compile it. It is a plain executable (not ordo-one/benchmark) because it must run side by side
// with the Python reference on the same files; see Benchmarks/README.md and Benchmarks/run.sh.
import PackageDescription

let package = Package(
    name: "SimfluenceBenchmarks",
    dependencies: [.package(name: "simfluence", path: "..")],
    targets: [
        .executableTarget(
            name: "simfluence-bench",
            dependencies: [.product(name: "Simfluence", package: "simfluence"),
                           .product(name: "LanguageWorkload", package: "simfluence")],
            path: "Sources/SimfluenceBench"
        ),
    ],
    swiftLanguageModes: [.v6]
)
