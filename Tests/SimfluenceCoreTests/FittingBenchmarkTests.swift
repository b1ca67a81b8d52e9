#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SimfluenceCore

/// Paper-scale timings (27 runs x 96 steps, batch 4, pool 200, 200 test examples, GPTDynamics
/// layout). Prints times; asserts nothing about them. Run in release:
///     SIMFLUENCE_BENCH=1 swift test -c release --filter FittingBenchmark
@Suite struct FittingBenchmarkTests {
    static var enabled: Bool { getenv("SIMFLUENCE_BENCH") != nil }

    static func paperScaleLog() -> TrainingLog {
        var g = SeededGenerator(seed: 2023)
        let pool = 200, tests = 200, batch = 4, steps = 96
        let model = FittingFixtures.plantedModel(&g, form: .linear, pool: pool, tests: tests, batch: batch)
        var runs: [TrainingRun] = []
        for r in 0..<27 {
            // Each run: 128 of the 200 examples, 3 epochs of 32 batches of 4, reshuffled per epoch.
            var ids = Array(0..<pool)
            for k in stride(from: pool - 1, to: 0, by: -1) { ids.swapAt(k, FittingFixtures.int(&g, k + 1)) }
            let subset = Array(ids[0..<128])
            var batches: [[Int]] = []
            for _ in 0..<3 {
                var order = subset
                for k in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(k, FittingFixtures.int(&g, k + 1)) }
                for s in 0..<32 { batches.append(Array(order[(s * batch)..<((s + 1) * batch)])) }
            }
            var losses = Matrix(rows: steps, columns: tests)
            for z in 0..<tests {
                var loss = FittingFixtures.uniform(&g, 2, 3)
                losses[0, z] = loss
                for t in 2...steps {
                    var alpha = 0.0, beta = 0.0
                    for i in batches[t - 1] { alpha += model.a[z][i]; beta += model.b[z][i] }
                    loss = alpha * loss + beta + 0.01 * g.nextGaussian()
                    losses[t - 1, z] = loss
                }
            }
            runs.append(TrainingRun(name: "run\(r)", batches: batches, firstLossStep: 1, losses: losses))
        }
        return TrainingLog(trainIDs: (0..<pool).map(String.init), testIDs: (0..<tests).map(String.init), runs: runs)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    @Test(.enabled(if: FittingBenchmarkTests.enabled))
    func paperScaleTimings() throws {
        let log = Self.paperScaleLog()
        let clock = ContinuousClock()
        for form in RecurrenceForm.allCases {
            for threads in [1, 2] {
                var best = Double.infinity
                var fit: FittedSimulator? = nil
                for _ in 0..<3 {
                    let t = clock.measure { fit = try? RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 1, threads: threads) }
                    best = min(best, Self.seconds(t))
                }
                print("BENCH fit \(form) threads=\(threads): \(best) s (active \(fit?.metadata["active_examples"] ?? "?"), rows \(fit?.metadata["rows"] ?? "?"))")
            }
        }
        for form in RecurrenceForm.allCases {
            var sel: LambdaSelection? = nil
            let t = try clock.measure { sel = try LambdaSearch.select(log: log, runs: log.runs, form: form, threads: 2) }
            print("BENCH select \(form) threads=2 grid=\(LambdaSearch.defaultGrid.count) folds=5: \(Self.seconds(t)) s, chosen \(sel!.chosen), scores \(sel!.scores)")
        }
    }
}

extension FittingBenchmarkTests {
    /// The factorisation kernel alone: order 400 from row 200 (the linear paper-scale shape).
    @Test(.enabled(if: FittingBenchmarkTests.enabled))
    func choleskyKernelTiming() {
        let n = 400
        var g = SeededGenerator(seed: 1)
        // SPD: G G^T / n + I with G random n x n.
        let gm = (0..<(n * n)).map { _ in g.nextGaussian() }
        var m = [Double](repeating: 0, count: PackedCholesky.packedCount(n))
        for i in 0..<n { for j in 0...i {
            var s = 0.0
            for k in 0..<n { s += gm[i * n + k] * gm[j * n + k] }
            m[PackedCholesky.rowStart(i) + j] = s / Double(n) + (i == j ? 1 : 0)
        } }
        let work = UnsafeMutablePointer<Double>.allocate(capacity: m.count)
        defer { work.deallocate() }
        let clock = ContinuousClock()
        for start in [0, 200] {
            var best = Double.infinity
            for _ in 0..<20 {
                work.update(from: m, count: m.count)
                let t = clock.measure { _ = PackedCholesky.factor(work, n: n, startRow: 0) }
                if start == 0 { best = min(best, Self.seconds(t)) }
                else {
                    work.update(from: m, count: m.count)
                    _ = PackedCholesky.factor(work, n: 200)
                    let t2 = clock.measure { _ = PackedCholesky.factor(work, n: n, startRow: 200) }
                    best = min(best, Self.seconds(t2))
                }
            }
            let fmas = Double(n * n * n - start * start * start) / 6
            print("BENCH cholesky n=\(n) from \(start): \(best * 1e3) ms, \(2 * fmas / best / 1e9) GFLOP/s")
        }
    }
}
