import SimfluenceCore

extension LanguageFineTuning {
    /// The curriculum of run `run` (1-based): with ``LanguageProtocol/orders`` = K, runs come in
    /// groups of K that share a subset: run r trains subset (r - 1) / K + 1 in order (r - 1) % K
    /// (``curriculum(subset:order:)``). With K = 1 (the default) every run has its own subset.
    public func curriculum(ofRun run: Int) -> [[String]] {
        let k = max(1, settings.orders)
        return curriculum(subset: (run - 1) / k + 1, order: (run - 1) % k).map { $0.map { poolIDs[$0] } }
    }

    /// The batches (pool indices) of random subset `subset` (1-based) in order `order` (0-based):
    /// a random ``LanguageProtocol/sampleSize`` of the pool (seeded by the protocol's seed and the
    /// subset), reshuffled for each of the ``LanguageProtocol/epochs`` epochs and cut into batches
    /// of ``LanguageProtocol/batchSize`` (``SeededDraws/curriculum(seed:runStream:orderStream:subset:order:poolSize:sampleSize:batchSize:epochs:)``).
    /// Order 0 of subset r is run r of an ordinary log; the orders of one subset hold the same
    /// examples, each equally often, in different sequences.
    public func curriculum(subset: Int, order: Int) -> [[Int]] {
        SeededDraws.curriculum(seed: settings.seed, runStream: Stream.run.rawValue, orderStream: Stream.order.rawValue,
                               subset: subset, order: order, poolSize: poolIDs.count, sampleSize: settings.sampleSize,
                               batchSize: settings.batchSize, epochs: settings.epochs)
    }

    /// The curricula of all runs, named "run1" ... "runN".
    public func curricula() -> [(name: String, batches: [[String]])] {
        (1...settings.runs).map { (name: "run\($0)", batches: curriculum(ofRun: $0)) }
    }

    /// Fine-tunes from ``checkpoint`` with a fresh AdamW state on exactly `batches` (pool ids,
    /// one batch per step) and records the loss of every test example before training (row 0)
    /// and after every step. Batches are indices into ``poolIDs`` in the result; `firstLossStep`
    /// is 0. Throws ``SimfluenceError/invalidArgument(_:)`` for an id outside the pool or an
    /// empty batch.
    public func train(name: String, batches: [[String]], threads: Int = 1) throws -> TrainingRun {
        train(name: name, poolIndexBatches: try PoolBatches.indices(name: name, batches: batches, index: poolIndexByID), threads: threads)
    }

    /// As ``train(name:batches:threads:)`` with batches given as indices into ``poolIDs`` (must
    /// be valid and non-empty). `threads` parallelises one run over its examples; the result
    /// does not depend on it.
    public func train(name: String, poolIndexBatches: [[Int]], threads: Int = 1) -> TrainingRun {
        precondition(poolIndexBatches.allSatisfy { !$0.isEmpty && $0.allSatisfy { poolTokens.indices.contains($0) } },
                     "\(name): batches must be non-empty and hold pool indices")
        let result = fineTune(batches: poolIndexBatches, recordTests: true, threads: threads)
        return TrainingRun(name: name, batches: poolIndexBatches, firstLossStep: 0, losses: result.losses!)
    }

    /// Fine-tuning from ``checkpoint`` on `batches` (pool indices) with the protocol's optimizer.
    func fineTune(batches: [[Int]], recordTests: Bool, snapshotSteps: Set<Int> = [], threads: Int)
        -> (parameters: [Float], losses: Matrix?, snapshots: [Int: [Float]]) {
        let settings = self.settings
        let r = LanguageRunTrainer.train(model: model, from: checkpoint, batches: batches, examples: poolTokens,
                                         learningRate: settings.learningRate(atStep:), weightDecay: settings.weightDecay,
                                         beta1: settings.adamBeta1, beta2: settings.adamBeta2, epsilon: settings.adamEpsilon,
                                         tests: recordTests ? testTokens : nil, snapshotSteps: snapshotSteps, threads: threads)
        return (r.parameters, r.losses, r.snapshots)
    }

    /// The parameters after fine-tuning from ``checkpoint`` on `batches` (pool indices), without
    /// recording test losses: for probes such as the pool's own loss after a run.
    public func fineTunedParameters(poolIndexBatches batches: [[Int]], threads: Int = 1) -> [Float] {
        precondition(batches.allSatisfy { !$0.isEmpty && $0.allSatisfy { poolTokens.indices.contains($0) } })
        return fineTune(batches: batches, recordTests: false, threads: threads).parameters
    }

    /// Trains every run of ``curricula()`` into a log: `trainIDs` = ``poolIDs``, `testIDs` =
    /// ``testIDs``, runs in order, metadata = ``metadata``. Parallel over runs (each run on one
    /// thread); the result does not depend on `threads`.
    public func trainAll(threads: Int = Parallel.defaultThreads) throws -> TrainingLog {
        try trainRuns(settings.runs, orders: settings.orders, threads: threads)
    }
}

extension LanguageFineTuning: RetrainableWorkload {
    /// ``poolIDs``.
    public var trainIDs: [String] { poolIDs }
    /// ``metadata``.
    public var logMetadata: [String: String] { metadata }

    /// ``train(name:poolIndexBatches:threads:)`` on one thread (callers run retrainings in parallel).
    public func retrain(name: String, batches: [[Int]]) -> TrainingRun {
        train(name: name, poolIndexBatches: batches)
    }

    /// ``gradientFeatures(every:referenceRun:includeFinal:dimension:threads:)`` with the protocol's
    /// settings: checkpoints every ``LanguageProtocol/gradientInterval`` steps of run 1 and at its
    /// end, projected to ``LanguageProtocol/projectionDimension``.
    public func referenceGradients(threads: Int) throws -> GradientFeatures? {
        try gradientFeatures(threads: threads)
    }
}
