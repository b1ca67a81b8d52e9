import Foundation
import Simfluence

/// simfluence-bench: the benchmark suite's executable.
///
///     simfluence-bench generate paper|medium|large DIR [--seed N]
///                                                            write a workload (native layout;
///                                                            medium: GPTDynamics JSON layout)
///     simfluence-bench rollout [--tests N] [--pool P] [--curricula K] [--steps T] [--batch B]
///                                                            batch-rollout throughput
///     simfluence-bench lm [--runs N] [--threads T] [--no-runs] [--no-gradients]
///                                                            language-model workload speed
///
/// Timing of the fit itself is done by Benchmarks/run.sh around the `simfluence fit` CLI, so the
/// figures include reading the log and writing the model, exactly as a user runs it.
func option(_ args: [String], _ name: String, _ fallback: Int) -> Int {
    if let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) { return v }
    return fallback
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

let args = Array(CommandLine.arguments.dropFirst())
let clock = ContinuousClock()
switch args.first {
case "generate":
    guard args.count >= 3, let w = Workload.named(args[1]) else {
        print("usage: simfluence-bench generate paper|medium|large DIR [--seed N]"); exit(2)
    }
    let seed = UInt64(option(args, "--seed", 2026))
    let start = clock.now
    let log = try w.generate(seed: seed, threads: Parallel.defaultThreads)
    if w.gptDynamicsLayout {
        try GPTDynamicsWriter.write(log, to: args[2])
    } else {
        try NativeLogWriter.write(log, to: args[2])
    }
    print("wrote \(w.name): \(w.runs) runs x \(w.steps) steps, batch \(w.batch), pool \(w.pool), \(w.tests) test examples to \(args[2]) in \(String(format: "%.1f", seconds(clock.now - start))) s")
case "rollout":
    try rolloutBenchmark(args)
case "lm":
    try languageModelBenchmark(args)
default:
    print("usage: simfluence-bench generate paper|medium|large DIR [--seed N] | rollout [options] | lm [options]")
    exit(2)
}
