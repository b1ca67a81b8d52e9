/// Curricula given as training-pool ids, turned into the pool indices a ``TrainingRun`` holds:
/// the check every built-in workload makes before it trains a curriculum.
public enum PoolBatches {
    /// `batches` (one batch of pool ids per step) as indices through `index` (pool id -> index).
    /// Throws ``SimfluenceError/invalidArgument(_:)`` naming the run `name` and the step for an
    /// empty batch or an id outside the pool.
    public static func indices(name: String, batches: [[String]], index: [String: Int]) throws -> [[Int]] {
        var indexBatches: [[Int]] = []
        indexBatches.reserveCapacity(batches.count)
        for (t, batch) in batches.enumerated() {
            guard !batch.isEmpty else {
                throw SimfluenceError.invalidArgument("\(name): step \(t + 1) has an empty batch")
            }
            indexBatches.append(try batch.map { id in
                guard let k = index[id] else {
                    throw SimfluenceError.invalidArgument("\(name): step \(t + 1): '\(id)' is not an example of the training pool")
                }
                return k
            })
        }
        return indexBatches
    }
}
