import Foundation
import Simfluence

/// The three benchmark workloads, generated from a planted Simfluence-Linear model.
///
/// The planted parameters follow `PlantedModel.random`'s distribution (A_i about
/// (1 - 0.03 u) / batch, B_i about (0.004 + 0.01 g) / batch, starting losses 1..3), but are drawn
/// one test example at a time from a generator seeded by (seed, test), so the large workload
/// (1,000 x 100,000 parameters of each kind, 1.6 GB) is never held in memory.
struct Workload {
    var name: String
    var runs: Int, steps: Int, batch: Int, pool: Int, tests: Int
    var noise = 0.01

    static let paper = Workload(name: "paper", runs: 27, steps: 96, batch: 4, pool: 200, tests: 200)
    static let large = Workload(name: "large", runs: 100, steps: 1000, batch: 16, pool: 100_000, tests: 1000)
    /// A log of thousands of examples in the GPTDynamics JSON layout (about 65 MB), so a fit's time
    /// includes parsing JSON as a user's real log would (issue 18): every method at this size.
    static let medium = Workload(name: "medium", runs: 50, steps: 200, batch: 8, pool: 5000, tests: 200)

    /// Whether the workload is written in the GPTDynamics JSON layout (else the native layout).
    var gptDynamicsLayout: Bool { name == "medium" }

    static func named(_ s: String) -> Workload? {
        switch s {
        case "paper": return .paper
        case "large": return .large
        case "medium": return .medium
        default: return nil
        }
    }

    /// Paper workload: each run draws 128 of the 200 examples and visits them 3 times (96 steps of 4),
    /// as in GPTfluence. Medium and large: each run draws steps x batch distinct examples and visits
    /// them once.
    var shape: PlantedModel.LogShape {
        let epochs = name == "paper" ? 3 : 1
        return PlantedModel.LogShape(runs: runs, sample: steps * batch / epochs, batchSize: batch, epochs: epochs,
                                     noise: noise, firstLossStep: 0)
    }

    /// The planted parameters of test example `z`.
    func planted(_ z: Int, seed: UInt64) -> (a: [Double], b: [Double], initial: Double) {
        var rng = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(z))
        let k = Double(batch)
        var a = [Double](repeating: 0, count: pool), b = [Double](repeating: 0, count: pool)
        for i in 0..<pool {
            a[i] = (1 - 0.03 * rng.nextUniform()) / k
            b[i] = (0.004 + 0.01 * rng.nextGaussian()) / k
        }
        return (a, b, 1 + 2 * rng.nextUniform())
    }

    /// Generates the log (native layout, float64 losses).
    func generate(seed: UInt64, threads: Int) throws -> TrainingLog {
        let curricula = PlantedModel.curricula(pool: pool, shape: shape, seed: seed)
        let rowsPerRun = curricula.map { $0.count + 1 }
        let tests = self.tests
        let pointers = rowsPerRun.map { Ptr(p: UnsafeMutablePointer<Double>.allocate(capacity: $0 * tests)) }
        let noise = self.noise
        try Parallel.forEach(tests, threads: threads) { z in
            let (a, b, initial) = planted(z, seed: seed)
            var rng = SeededGenerator(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B &+ UInt64(z) &* 0xD1B5_4A32_D192_ED03)
            for (r, batches) in curricula.enumerated() {
                let out = pointers[r].p
                var loss = initial
                out[z] = loss
                for (t, batch) in batches.enumerated() {
                    var alpha = 0.0, beta = 0.0
                    for i in batch { alpha += a[i]; beta += b[i] }
                    loss = alpha * loss + beta + noise * rng.nextGaussian()
                    out[(t + 1) * tests + z] = loss
                }
            }
        }
        let runs = curricula.enumerated().map { r, batches in
            let values = Array(UnsafeBufferPointer(start: pointers[r].p, count: rowsPerRun[r] * tests))
            pointers[r].p.deallocate()
            return TrainingRun(name: "run\(r + 1)", batches: batches, firstLossStep: 0,
                               losses: Matrix(rows: rowsPerRun[r], columns: tests, storage: values))
        }
        return TrainingLog(trainIDs: (0..<pool).map { String($0) }, testIDs: (0..<tests).map { String($0) }, runs: runs,
                           metadata: ["generator": "simfluence-bench planted-linear (\(name))", "seed": String(seed),
                                      "noise": String(noise)])
    }
}

/// A pointer handed to workers that write disjoint columns.
struct Ptr: @unchecked Sendable { let p: UnsafeMutablePointer<Double> }
