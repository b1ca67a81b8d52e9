import Foundation
import Simfluence

/// Batch-rollout throughput: example-steps per second (one example-step = one training
/// example's A and B applied at one step for one test example), single thread and all threads,
/// checked bit for bit against `FittedSimulator.simulate` on a few curricula.
func rolloutBenchmark(_ args: [String]) throws {
    let tests = option(args, "--tests", 1000), pool = option(args, "--pool", 2000)
    let curricula = option(args, "--curricula", 64), steps = option(args, "--steps", 1000), batch = option(args, "--batch", 16)
    let w = Workload(name: "rollout", runs: 1, steps: steps, batch: batch, pool: pool, tests: tests)
    var a = Matrix(rows: tests, columns: pool), b = Matrix(rows: tests, columns: pool)
    var initial = [Double](repeating: 0, count: tests)
    for z in 0..<tests {
        let p = w.planted(z, seed: 99)
        for i in 0..<pool { a[z, i] = p.a[i]; b[z, i] = p.b[i] }
        initial[z] = p.initial
    }
    let sim = FittedSimulator(method: .linear, form: .linear, lambda: 1, trainIDs: (0..<pool).map(String.init),
                              testIDs: (0..<tests).map(String.init), a: a, b: b,
                              seen: Array(repeating: true, count: pool), fittedOn: [])
    var rng = SeededGenerator(seed: 5)
    let cs: [[[Int]]] = (0..<curricula).map { _ in
        (0..<steps).map { _ in (0..<batch).map { _ in Int(rng.next() % UInt64(pool)) } }
    }
    let plan = BatchRollout(sim)
    let work = Double(curricula) * Double(steps) * Double(batch) * Double(tests)
    var results: [(Int, Double)] = []
    var last = Matrix(rows: 0, columns: 0)
    for threads in [1, Parallel.defaultThreads] {
        var best = Double.infinity
        for _ in 0..<3 {
            let start = ContinuousClock().now
            last = plan.finalLosses(curricula: cs, initial: initial, threads: threads)
            best = min(best, seconds(ContinuousClock().now - start))
        }
        results.append((threads, best))
    }
    // Reference: the per-test-example simulate, on 4 curricula.
    var referenceSeconds = 0.0
    for c in 0..<min(4, curricula) {
        let start = ContinuousClock().now
        let full = sim.simulate(cs[c], initial: initial)
        referenceSeconds += seconds(ContinuousClock().now - start)
        for z in 0..<tests where full[steps, z].bitPattern != last[c, z].bitPattern {
            print("MISMATCH curriculum \(c) test \(z): \(full[steps, z]) vs \(last[c, z])"); exit(1)
        }
    }
    let refRate = Double(min(4, curricula)) * Double(steps * batch * tests) / referenceSeconds
    print("batch rollout: \(curricula) curricula x \(steps) steps x batch \(batch) x \(tests) test examples (pool \(pool))")
    for (threads, s) in results {
        print(String(format: "  %d thread(s): %.3f s, %.3g example-steps/s (%.3g per thread)", threads, s, work / s, work / s / Double(threads)))
    }
    print(String(format: "  FittedSimulator.simulate (1 thread, per test example): %.3g example-steps/s; results bit-identical", refRate))
}
