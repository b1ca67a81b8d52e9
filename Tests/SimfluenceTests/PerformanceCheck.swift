import Foundation
import Testing
@testable import Simfluence

/// Timings to run by hand, in release: `SIMFLUENCE_PERF=1 swift test -c release --filter PerformanceCheck`.
/// Prints timings; asserts only on correctness.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SIMFLUENCE_PERF"] != nil))
struct PerformanceCheck {
    func generate(runs: Int, steps: Int, tests: Int, pool: Int = 200, batch: Int = 4) -> TrainingLog {
        var rng = SeededGenerator(seed: 42)
        let trainIDs = (0..<pool).map(String.init)
        let testIDs = (0..<tests).map { String(10_000 + $0) }
        let runList = (0..<runs).map { r -> TrainingRun in
            let batches = (0..<steps).map { _ in (0..<batch).map { _ in Int.random(in: 0..<pool, using: &rng) } }
            var losses = Matrix(rows: steps, columns: tests)
            for k in 0..<losses.storage.count { losses.storage[k] = Double.random(in: 0.01..<5, using: &rng) }
            return TrainingRun(name: "run\(r)", batches: batches, firstLossStep: 1, losses: losses)
        }
        return TrainingLog(trainIDs: trainIDs, testIDs: testIDs, runs: runList)
    }

    func time<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
        let start = Date()
        let v = try body()
        print(String(format: "PERF %@: %.3f s", label, Date().timeIntervalSince(start)))
        return v
    }

    @Test(arguments: [(32, 96, 200), (100, 1000, 100)])
    func readWrite(runs: Int, steps: Int, tests: Int) throws {
        let dir = TempDir()
        let label = "\(runs) runs x \(steps) steps x \(tests) tests"
        let log = generate(runs: runs, steps: steps, tests: tests)
        try time("\(label): GPTDynamics write") { try GPTDynamicsWriter.write(log, to: dir.at("gpt")) }
        let size = (try? FileManager.default.subpathsOfDirectory(atPath: dir.at("gpt")))?.reduce(0) { s, p in
            s + ((try? FileManager.default.attributesOfItem(atPath: dir.at("gpt/" + p))[.size] as? Int) ?? 0)
        } ?? 0
        print("PERF \(label): GPTDynamics size \(size / 1_000_000) MB")
        let back = try time("\(label): GPTDynamics read (2 threads)") { try GPTDynamicsReader.read(dir.at("gpt")) }
        #expect(back.runs.map(\.losses) == log.runs.sorted { naturalOrder($0.name, $1.name) }.map(\.losses))
        _ = try time("\(label): GPTDynamics read (1 thread)") { try GPTDynamicsReader.read(dir.at("gpt"), threads: 1) }
        try time("\(label): native write") { try NativeLogWriter.write(log, to: dir.at("native")) }
        let native = try time("\(label): native read") { try LogReader.read(dir.at("native")) }
        #expect(native.runs.map(\.losses) == back.runs.map(\.losses))
    }
}

/// Reads an existing log by hand: `SIMFLUENCE_PERF_LOG=/path swift test -c release --filter readExistingLog`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SIMFLUENCE_PERF_LOG"] != nil))
struct ExistingLogPerformanceCheck {
    @Test func readExistingLog() throws {
        let path = ProcessInfo.processInfo.environment["SIMFLUENCE_PERF_LOG"] ?? ""
        for _ in 0..<3 {
            let start = Date()
            let log = try LogReader.read(path)
            print(String(format: "PERF read %@ (%d runs, %d test ids): %.3f s", path, log.runs.count, log.testIDs.count, Date().timeIntervalSince(start)))
        }
    }
}
