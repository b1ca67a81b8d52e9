/// A built-in workload the tool can retrain exactly: every run starts from the same checkpoint,
/// and training a given curriculum is deterministic, so the real outcome of any counterfactual
/// curriculum can be computed and compared with a simulator's prediction.
public protocol RetrainableWorkload: Sendable {
    /// Training-pool ids (the columns of a log's curricula, as indices).
    var trainIDs: [String] { get }
    /// Test ids whose losses every run records.
    var testIDs: [String] { get }
    /// Describes the workload and its settings, for a log's metadata.
    var logMetadata: [String: String] { get }

    /// The curriculum (batches of pool indices) of random subset `subset` (1-based) trained in
    /// order `order` (0-based): runs with the same subset train on the same examples, each the
    /// same number of times, in different orders. Order 0 of subset r is the curriculum of run r
    /// of an ordinary log of the workload.
    func curriculum(subset: Int, order: Int) -> [[Int]]

    /// Trains exactly `batches` from the shared checkpoint, recording every test example's loss
    /// before training and after every step (`firstLossStep` 0). Deterministic.
    func retrain(name: String, batches: [[Int]]) -> TrainingRun

    /// Per-example gradient features of the pool and the test set at checkpoints of a reference
    /// run (for the classic methods), or nil when the workload records none.
    func referenceGradients(threads: Int) throws -> GradientFeatures?
}

extension RetrainableWorkload {
    /// Trains exactly the curriculum `ids` (batches of training ids) from the shared checkpoint.
    /// Throws for an empty batch or an id that is not in ``trainIDs``, naming the step.
    public func retrain(name: String, ids: [[String]]) throws -> TrainingRun {
        let index = Dictionary(uniqueKeysWithValues: trainIDs.enumerated().map { ($1, $0) })
        return retrain(name: name, batches: try PoolBatches.indices(name: name, batches: ids, index: index))
    }

    /// A log of `runs` runs named run1 ... runN, in parallel (the result does not depend on
    /// `threads`): with `orders` = K, K consecutive runs share a random subset, run r training
    /// subset (r - 1) / K + 1 in order (r - 1) % K.
    public func trainRuns(_ runs: Int, orders: Int = 1, threads: Int = Parallel.defaultThreads) throws -> TrainingLog {
        let k = max(1, orders)
        let trained = try Parallel.map(runs, threads: threads) { r in
            retrain(name: "run\(r + 1)", batches: curriculum(subset: r / k + 1, order: r % k))
        }
        return TrainingLog(trainIDs: trainIDs, testIDs: testIDs, runs: trained, metadata: logMetadata)
    }
}
