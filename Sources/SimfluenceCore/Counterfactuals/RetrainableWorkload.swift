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
