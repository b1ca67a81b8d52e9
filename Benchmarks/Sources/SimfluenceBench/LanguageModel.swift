import Foundation
import LanguageWorkload
import Simfluence

/// The language-model workload's speed: pre-training, the default 32 runs (`trainAll`), tokens
/// per second of training and of evaluation on one thread, gradient features, and the model's
/// main matrix products (printed as `MATMUL m k n seconds-per-product` lines, which
/// Benchmarks/lm.sh times again in NumPy).
///
///     simfluence-bench lm [--runs N] [--threads T] [--no-gradients] [--no-runs]
///                         [--lr X] [--pretrain-steps N] [--weight-decay X] [--warmup N] [--beta2 X]
func languageModelBenchmark(_ args: [String]) throws {
    let threads = option(args, "--threads", 2), runs = option(args, "--runs", 32)
    func double(_ name: String) -> Double? {
        args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? Double(args[$0 + 1]) : nil }
    }
    let clock = ContinuousClock()
    func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = clock.now
        let value = try body()
        return (value, seconds(clock.now - start))
    }
    func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }
    /// CPU seconds of the calling thread (excludes time spent waiting for a core on a busy machine).
    func threadCPU() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
    func timeCPU<T>(_ body: () throws -> T) rethrows -> (T, wall: Double, cpu: Double) {
        let start = clock.now, cpu0 = threadCPU()
        let value = try body()
        return (value, seconds(clock.now - start), threadCPU() - cpu0)
    }

    let (corpus, loadSeconds) = try time { try GlossCorpus.bundled() }
    var settings = LanguageProtocol()
    settings.runs = runs
    if let lr = double("--lr") { settings.learningRate = lr }
    if let wd = double("--weight-decay") { settings.weightDecay = wd }
    settings.pretrainSteps = option(args, "--pretrain-steps", settings.pretrainSteps)
    settings.warmupSteps = option(args, "--warmup", settings.warmupSteps)
    if let b2 = double("--beta2") { settings.adamBeta2 = b2 }
    if let plr = double("--pretrain-lr") { settings.pretrainLearningRate = plr }
    let (w, buildSeconds) = try time { try LanguageFineTuning(protocol: settings, corpus: corpus, threads: threads) }
    print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; threads used: \(threads)")
    print("model: \(w.model.descriptor), \(w.model.parameterCount) parameters, float32")
    print("corpus load: \(fmt(loadSeconds, 3)) s")
    print("pre-training: \(fmt(buildSeconds)) s (\(settings.pretrainSteps) steps x \(settings.pretrainBatchSize) texts); " +
          "batch loss \(fmt(w.pretrainingLosses.first!, 3)) -> \(fmt(w.pretrainingLosses.last!, 3)) nats")
    let testTokens = w.testIDs.map { w.tokens(of: $0)!.count - 1 }.reduce(0, +)
    let initialLoss = w.testLosses(at: w.initialParameters, threads: threads).reduce(0, +) / Double(w.testIDs.count)
    let checkpointLoss = w.testLosses(at: w.checkpoint, threads: threads).reduce(0, +) / Double(w.testIDs.count)
    print("held-out (test) mean loss: initialisation \(fmt(initialLoss, 3)), checkpoint \(fmt(checkpointLoss, 3)) nats")

    // Tokens per second on one thread.
    let batches = w.curriculum(subset: 1, order: 0)
    let trainTokens = batches.joined().map { w.tokens(of: w.poolIDs[$0])!.count - 1 }.reduce(0, +)
    let train = timeCPU { w.fineTunedParameters(poolIndexBatches: batches, threads: 1) }
    print("training, 1 thread: \(batches.count) steps, \(trainTokens) tokens in \(fmt(train.wall, 3)) s = " +
          "\(Int(Double(trainTokens) / train.wall)) tokens/s (forward, backward, AdamW); " +
          "\(Int(Double(trainTokens) / train.cpu)) tokens per CPU second")
    let repeats = 10
    let eval = timeCPU { for _ in 0..<repeats { _ = w.testLosses(at: w.checkpoint, threads: 1) } }
    print("evaluation, 1 thread: \(repeats) x \(w.testIDs.count) test texts, \(repeats * testTokens) tokens in " +
          "\(fmt(eval.wall, 3)) s = \(Int(Double(repeats * testTokens) / eval.wall)) tokens/s (forward only); " +
          "\(Int(Double(repeats * testTokens) / eval.cpu)) tokens per CPU second")

    if !args.contains("--no-runs") {
        let (log, allSeconds) = try time { try w.trainAll(threads: threads) }
        let steps = log.runs.map(\.steps).reduce(0, +)
        let evalTokens = log.runs.map { ($0.steps + 1) * testTokens }.reduce(0, +)
        print("trainAll(threads: \(threads)): \(log.runs.count) runs x \(log.runs[0].steps) steps in \(fmt(allSeconds)) s " +
              "(\(steps) steps, \(evalTokens) evaluated tokens); with pre-training \(fmt(allSeconds + buildSeconds)) s")
        // Mean test loss over runs and test examples at a few steps, and how much the final loss
        // of a test example varies across runs (the signal an LDS measures).
        let steps0 = log.runs[0].steps
        let marks = [0, steps0 / 8, steps0 / 4, steps0 / 2, 3 * steps0 / 4, steps0]
        let curve = marks.map { t in
            log.runs.map { $0.losses.row(t).reduce(0, +) }.reduce(0, +) / Double(log.runs.count * testTokens.signum() * w.testIDs.count)
        }
        print("mean test loss at steps \(marks.map(String.init).joined(separator: ", ")): " +
              curve.map { fmt($0, 3) }.joined(separator: ", ") + " nats")
        var spread = 0.0
        for z in 0..<w.testIDs.count {
            let finals = log.runs.map { $0.finalLosses[z] }
            let m = finals.reduce(0, +) / Double(finals.count)
            spread += (finals.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, finals.count - 1))).squareRoot()
        }
        print("std across runs of a test example's final loss, mean over test examples: \(fmt(spread / Double(w.testIDs.count), 4)) nats")
        let sampled = Set(batches.joined())
        let after = w.poolLosses(at: w.fineTunedParameters(poolIndexBatches: batches, threads: threads), threads: threads)
        let before = w.poolLosses(at: w.checkpoint, threads: threads)
        let trainedDrop = sampled.map { before[$0] - after[$0] }.reduce(0, +) / Double(sampled.count)
        let unseen = (0..<w.poolIDs.count).filter { !sampled.contains($0) }
        let unseenDrop = unseen.map { before[$0] - after[$0] }.reduce(0, +) / Double(max(1, unseen.count))
        print("run 1: pool loss drop, trained examples \(fmt(trainedDrop, 3)), untrained pool examples \(fmt(unseenDrop, 3)) nats")
    }
    if !args.contains("--no-gradients") {
        let (g, gradientSeconds) = try time { try w.referenceGradients(threads: threads)! }
        print("gradient features: \(g.checkpoints.count) checkpoints x \(g.trainIDs.count + g.testIDs.count) examples, " +
              "projected \(w.model.parameterCount) -> \(g.dimension), in \(fmt(gradientSeconds)) s")
    }

    // The main matrix products, at the mean test length.
    let n = Int((Double(testTokens) / Double(w.testIDs.count)).rounded())
    let d = settings.width, f = settings.mlpWidth
    for (m, k, cols) in [(n, d, 3 * d), (n, d, f), (n, f, d)] {
        let a = (0..<(m * k)).map { Float(($0 * 7) % 13) * 0.01 }, b = (0..<(k * cols)).map { Float(($0 * 5) % 11) * 0.01 }
        var c = [Float](repeating: 0, count: m * cols)
        var reps = 0
        let start = clock.now
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                c.withUnsafeMutableBufferPointer { cb in
                    repeat {
                        for _ in 0..<100 { LanguageKernels.multiply(m: m, k: k, n: cols, a: ab, b: bb, c: cb) }
                        reps += 100
                    } while seconds(clock.now - start) < 0.5
                }
            }
        }
        let perCall = seconds(clock.now - start) / Double(reps)
        print("MATMUL \(m) \(k) \(cols) \(perCall)  (\(fmt(perCall * 1e6)) us, \(fmt(2 * Double(m * k * cols) / perCall / 1e9, 1)) GFLOP/s, 1 thread)")
    }
}
