import SimfluenceCore

extension DigitsFineTuning {
    /// The curriculum of run `run` (1-based): with ``WorkloadProtocol/orders`` = K, runs come in
    /// groups of K that share a subset: run r trains subset (r - 1) / K + 1 in order (r - 1) % K
    /// (``curriculum(subset:order:)``). With K = 1 (the default) every run has its own subset.
    public func curriculum(ofRun run: Int) -> [[String]] {
        let k = max(1, settings.orders)
        return curriculum(subset: (run - 1) / k + 1, order: (run - 1) % k).map { $0.map { poolIDs[$0] } }
    }

    /// The batches (pool indices) of random subset `subset` (1-based) in order `order` (0-based):
    /// a random ``WorkloadProtocol/sampleSize`` of the pool (seeded by the protocol's seed and
    /// the subset), reshuffled for each of the ``WorkloadProtocol/epochs`` epochs and cut into
    /// batches of ``WorkloadProtocol/batchSize``. Order 0 continues the subset's own random
    /// stream (so run r of a log with one order per subset is subset r, order 0); order o > 0
    /// shuffles with a stream of its own, so the orders of one subset hold the same examples,
    /// each equally often, in different sequences.
    public func curriculum(subset: Int, order: Int) -> [[Int]] {
        SeededDraws.curriculum(seed: settings.seed, runStream: RandomDraws.Stream.run.rawValue,
                               orderStream: RandomDraws.Stream.order.rawValue, subset: subset, order: order,
                               poolSize: poolIDs.count, sampleSize: settings.sampleSize, batchSize: settings.batchSize,
                               epochs: settings.epochs)
    }

    /// The curricula of all runs, named "run1" ... "runN".
    public func curricula() -> [(name: String, batches: [[String]])] {
        (1...settings.runs).map { (name: "run\($0)", batches: curriculum(ofRun: $0)) }
    }
}

extension DigitsFineTuning: RetrainableWorkload {
    public var trainIDs: [String] { poolIDs }
    public var logMetadata: [String: String] { metadata }

    public func retrain(name: String, batches: [[Int]]) -> TrainingRun {
        train(name: name, poolIndexBatches: batches)
    }

    public func referenceGradients(threads: Int) throws -> GradientFeatures? {
        try gradientFeatures(every: 24, threads: threads)
    }
}
