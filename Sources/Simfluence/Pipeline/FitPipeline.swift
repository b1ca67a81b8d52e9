import Foundation

/// The steps between reading a log and writing a model or a table, for programs that use
/// simfluence as a library; the CLI's `fit`, `evaluate` and `demo` are these calls plus flags
/// and printing.
public enum FitPipeline {
    /// What `simfluence fit` does: checks the request and the memory it needs, interpolates a
    /// gapped log (``LossSubsampling``), fits `method` on every run of `log` (or on the test
    /// slice `shard`), refuses non-finite parameters, and records the log (`logPath`), its
    /// ``LogFingerprint`` and the shard in the simulator's provenance, as ``ShardMerge`` needs.
    /// With `modelPath` (where the model will be written), the log's path is recorded relative
    /// to the model file's folder, so that `simulate --bootstrap` finds it from anywhere.
    public static func fit(_ method: MethodName, log: TrainingLog, inputs: MethodInputs, shard: ShardSpec? = nil,
                           logPath: String? = nil, modelPath: String? = nil,
                           threads: Int = Parallel.defaultThreads) throws -> MethodFit {
        let inputs = try budgeted(inputs)
        try MethodFitting.check(method, inputs: inputs, sliced: shard != nil)
        let runs = LossSubsampling.interpolated(log.runs, every: inputs.every)
        let tests = shard.map { Array($0.range(tests: log.testIDs.count)) }
        try FitChecks.requireMemory(method, FitRequest(log: log, runs: runs, inputs: inputs, tests: tests, threads: threads))
        var fit = try MethodFitting.fit(method, log: log, runs: runs, inputs: inputs, tests: tests, threads: threads)
        try FitChecks.requireFiniteParameters(fit.simulator)
        fit.simulator.provenance.log = logPath.map { path in
            modelPath.map { Paths.relative(path, from: ($0 as NSString).deletingLastPathComponent) } ?? path
        }
        fit.simulator.provenance.logFingerprint = LogFingerprint.compute(log)
        if let shard {
            fit.simulator.provenance.shard = shard
            fit.simulator.provenance.shardTotalTests = log.testIDs.count
        }
        return fit
    }

    /// What `simfluence evaluate` does: interpolates the training runs of a gapped log, checks
    /// every method's request and memory before fitting any, then fits, simulates and scores
    /// each method on `split` beside the baselines (``Evaluator``).
    public static func evaluate(_ methods: [MethodName], log: TrainingLog, split: HoldoutSplit, inputs: MethodInputs,
                                unseen: UnseenPolicy = .error, threads: Int = Parallel.defaultThreads) throws -> EvaluationResult {
        let inputs = try budgeted(inputs)
        var split = split
        split.training = LossSubsampling.interpolated(split.training, every: inputs.every)
        for m in methods {
            try MethodFitting.check(m, inputs: inputs, sliced: false)
            try FitChecks.requireMemory(m, FitRequest(log: log, runs: split.training, inputs: inputs, threads: threads))
        }
        return try Evaluator.evaluate(methods, log: log, split: split, inputs: inputs, unseen: unseen, threads: threads)
    }

    /// `inputs` with ``MethodInputs/memoryBudget`` set to the process's memory limit
    /// (``MemoryLimit``) unless it is set already.
    static func budgeted(_ inputs: MethodInputs) throws -> MethodInputs {
        var inputs = inputs
        if inputs.memoryBudget == nil { inputs.memoryBudget = try MemoryLimit.current()?.bytes }
        return inputs
    }

    /// What `evaluate --bootstrap B` adds for one evaluated method: per-step intervals on the
    /// held-out runs from B refits on resampled (interpolated) training runs; nil for baselines.
    public static func bootstrapHeldOut(_ entry: MethodEvaluation, log: TrainingLog, split: HoldoutSplit,
                                        inputs: MethodInputs, replicates: Int, seed: UInt64,
                                        threads: Int = Parallel.defaultThreads) throws -> BootstrapIntervals? {
        guard let sim = entry.fit?.simulator else { return nil }
        let bytes = Bootstrap.memoryEstimate(replicates: replicates, targetRows: split.heldOut.reduce(0) { $0 + $1.losses.rows },
                                             runRows: split.training.reduce(0) { $0 + $1.losses.rows }, tests: log.testIDs.count)
        try FitChecks.requireMemory(bytes, what: "--bootstrap \(replicates) for \(sim.method)",
                                    detail: "every replicate's predictions and residuals", advice: "use fewer replicates")
        return try Bootstrap.heldOut(sim.method, fitted: sim, log: log,
                                     training: LossSubsampling.interpolated(split.training, every: inputs.every),
                                     heldOut: split.heldOut, inputs: inputs, replicates: replicates, seed: seed,
                                     threads: threads)
    }
}
