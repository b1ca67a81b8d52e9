/// Per-example attribution from a simulator: the change in the simulated final loss of a test
/// example when one training example is removed from a reference curriculum.
///
/// Sign convention: effect_i = L_final(reference) - L_final(reference without i). A negative
/// effect means that training on i lowers the test loss (i helps); a positive one that i hurts.
/// Removal re-batches the remaining examples at the reference's batch size (see
/// ``CurriculumEdits``). Examples absent from the reference have effect 0.
public enum RemovalEffects {
    /// The effect of every training example of `simulator` on test example `test` (a row of the
    /// simulator), simulated from `initial` through `reference`. Indexed like the simulator's
    /// ``FittedSimulator/trainIDs``; loss units.
    public static func effects(of simulator: FittedSimulator, test: Int, reference: [[Int]], initial: Double) -> [Double] {
        effects(of: simulator, tests: [test], reference: reference, initial: [initial], threads: 1)[0]
    }

    /// The effects on several test examples at once (`tests`, rows of the simulator, each starting
    /// from its `initial` loss): `effects[k][i]` for test example `tests[k]` and training example
    /// i. One simulation of every test example per removed example, the removals spread over
    /// `threads` (the same numbers whatever the threads). For a simulator whose test examples
    /// roll out independently each row equals ``effects(of:test:reference:initial:)``; one that
    /// rolls them out together (a lag kernel with saturation) reads every requested test
    /// example's starting loss, which is why the attribution of many test examples should ask for
    /// them together rather than one by one.
    public static func effects(of simulator: FittedSimulator, tests: [Int], reference: [[Int]], initial: [Double],
                               threads: Int) -> [[Double]] {
        let batchSize = CurriculumEdits.typicalBatchSize(reference)
        let base = finalLosses(simulator, tests: tests, reference, initial)
        let removed = Set(CurriculumEdits.sequence(reference)).sorted()
        let finals = (try? Parallel.map(removed.count, threads: threads) { r in
            finalLosses(simulator, tests: tests, CurriculumEdits.dropping([removed[r]], from: reference, batchSize: batchSize), initial)
        }) ?? []
        var effects = [[Double]](repeating: Array(repeating: 0.0, count: simulator.trainIDs.count), count: tests.count)
        for (r, i) in removed.enumerated() {
            for k in tests.indices { effects[k][i] = base[k] - finals[r][k] }
        }
        return effects
    }

    /// The mean of ``effects(of:tests:reference:initial:threads:)`` over several reference
    /// curricula, each with its own starting losses (one per test example of `tests`; an example
    /// absent from a reference counts 0 there): `[k][i]` for test example `tests[k]` and training
    /// example i.
    public static func meanEffects(of simulator: FittedSimulator, tests: [Int], references: [(batches: [[Int]], initial: [Double])],
                                   threads: Int) -> [[Double]] {
        var total = [[Double]](repeating: Array(repeating: 0.0, count: simulator.trainIDs.count), count: tests.count)
        for reference in references {
            let e = effects(of: simulator, tests: tests, reference: reference.batches, initial: reference.initial, threads: threads)
            for k in tests.indices { for i in total[k].indices { total[k][i] += e[k][i] } }
        }
        let count = Double(max(1, references.count))
        return total.map { $0.map { $0 / count } }
    }

    /// Training examples ordered from most helpful (most negative effect) to most harmful, with
    /// their effects; examples absent from the reference are left out. Ties keep index order.
    public static func ranked(_ effects: [Double], present: Set<Int>) -> [(index: Int, effect: Double)] {
        present.sorted().map { ($0, effects[$0]) }.sorted { $0.effect != $1.effect ? $0.effect < $1.effect : $0.index < $1.index }
    }

    private static func finalLosses(_ s: FittedSimulator, tests: [Int], _ batches: [[Int]], _ initial: [Double]) -> [Double] {
        let out = s.simulate(batches, initial: initial, tests: tests)
        return (0..<tests.count).map { out[out.rows - 1, $0] }
    }
}

/// Attribution aggregated over test examples: which training examples help or hurt the test
/// set as a whole (the data-cleaning question).
public struct AggregateEffect: Sendable, Equatable {
    /// The training example (an index into the simulator's training ids).
    public var index: Int
    /// The mean (or sum) over test examples of its removal effect (loss units; negative = its
    /// presence lowers the test losses, it helps).
    public var effect: Double
    /// Test examples it helps (effect < 0) and hurts (effect > 0).
    public var helped: Int
    public var hurt: Int
}

extension RemovalEffects {
    /// How per-test effects are combined.
    public enum Aggregation: String, Sendable, CaseIterable {
        case mean, sum
    }

    /// Per training example present in the references, the mean or sum over test examples of its
    /// effects (`effects[k][i]`: test example k, training example i; summed in test order), with
    /// the numbers of test examples it helps and hurts; ranked from most helpful to most harmful
    /// (ties: index order).
    public static func aggregate(_ effects: [[Double]], present: Set<Int>, by aggregation: Aggregation) -> [AggregateEffect] {
        guard let n = effects.first?.count else { return [] }
        var out: [AggregateEffect] = []
        for i in 0..<n where present.contains(i) {
            var sum = 0.0, helped = 0, hurt = 0
            for row in effects {
                sum += row[i]
                if row[i] < 0 { helped += 1 } else if row[i] > 0 { hurt += 1 }
            }
            let value = aggregation == .mean ? sum / Double(effects.count) : sum
            out.append(AggregateEffect(index: i, effect: value, helped: helped, hurt: hurt))
        }
        return out.sorted { $0.effect != $1.effect ? $0.effect < $1.effect : $0.index < $1.index }
    }
}
