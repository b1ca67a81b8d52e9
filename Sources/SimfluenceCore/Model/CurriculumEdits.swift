/// Counterfactual edits of a curriculum (batches of training-example indices).
///
/// Edits keep the batch size: the curriculum's examples are taken in order, edited as a
/// sequence, and cut again into batches of `batchSize`; a remainder too small to fill a batch is
/// dropped (as a data loader with `drop_last` does). That is what dropping examples from a
/// dataset does to a training loop with a fixed batch size, and it keeps alpha(c_t), a sum over
/// the batch, on the scale the simulator was fitted on: a partial batch would shrink alpha and
/// fake a large drop in loss.
public enum CurriculumEdits {
    /// The curriculum's examples in training order.
    public static func sequence(_ batches: [[Int]]) -> [Int] { batches.flatMap { $0 } }

    /// Cuts a sequence into full batches of `batchSize`, dropping a remainder that does not fill one.
    public static func batched(_ sequence: [Int], batchSize: Int) -> [[Int]] {
        precondition(batchSize >= 1, "batch size must be at least 1")
        return stride(from: 0, to: sequence.count - batchSize + 1, by: batchSize).map {
            Array(sequence[$0..<($0 + batchSize)])
        }
    }

    /// The curriculum without any occurrence of `removed`, re-batched.
    public static func dropping(_ removed: Set<Int>, from batches: [[Int]], batchSize: Int) -> [[Int]] {
        batched(sequence(batches).filter { !removed.contains($0) }, batchSize: batchSize)
    }

    /// The curriculum with every occurrence of `moved` taken out of place and appended at the end
    /// (in their original relative order), re-batched.
    public static func movingToEnd(_ moved: Set<Int>, in batches: [[Int]], batchSize: Int) -> [[Int]] {
        let all = sequence(batches)
        return batched(all.filter { !moved.contains($0) } + all.filter { moved.contains($0) }, batchSize: batchSize)
    }

    /// Cuts a sequence into batches of `batchSize`, keeping a final partial batch: every
    /// example keeps its count (for edits that reorder or add rather than remove).
    public static func batchedKeepingAll(_ sequence: [Int], batchSize: Int) -> [[Int]] {
        precondition(batchSize >= 1, "batch size must be at least 1")
        return stride(from: 0, to: sequence.count, by: batchSize).map {
            Array(sequence[$0..<min($0 + batchSize, sequence.count)])
        }
    }

    /// Every occurrence of `moved` taken out of place and put at the end (`toStart` false) or
    /// the start (in their original relative order), the rest in order; re-batched keeping a
    /// final partial batch, so every example's count is unchanged.
    public static func moving(_ moved: Set<Int>, in batches: [[Int]], toStart: Bool, batchSize: Int) -> [[Int]] {
        let all = sequence(batches)
        let chosen = all.filter { moved.contains($0) }, rest = all.filter { !moved.contains($0) }
        return batchedKeepingAll(toStart ? chosen + rest : rest + chosen, batchSize: batchSize)
    }

    /// Every occurrence of `duplicated` followed by a second copy of it (the example is trained
    /// twice as often, at the same points of the curriculum); re-batched keeping a final
    /// partial batch.
    public static func duplicating(_ duplicated: Set<Int>, in batches: [[Int]], batchSize: Int) -> [[Int]] {
        batchedKeepingAll(sequence(batches).flatMap { duplicated.contains($0) ? [$0, $0] : [$0] }, batchSize: batchSize)
    }

    /// The most common batch size of a curriculum (ties: the larger), or 1 for an empty one.
    public static func typicalBatchSize(_ batches: [[Int]]) -> Int {
        var counts: [Int: Int] = [:]
        for b in batches { counts[b.count, default: 0] += 1 }
        return counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }?.key ?? 1
    }
}
