/// Runs that train on the same examples in different orders.
///
/// Two runs belong to the same *order group* when their curricula hold the same multiset of
/// training examples (the same examples, each the same number of times), whatever the order and
/// the batching. Order groups measure what static attribution cannot see: how the order of the
/// same examples changes a test example's final loss (`Spearman (orders)`, order-LDS).
public enum OrderGroups {
    /// Indices into `runs` of every group of runs with equal training multisets, groups ordered
    /// by their first run and runs within a group in `runs` order; singletons included.
    public static func groups(_ runs: [TrainingRun]) -> [[Int]] {
        var keyOf: [[Int]: Int] = [:]
        var groups: [[Int]] = []
        for (k, run) in runs.enumerated() {
            let key = run.batches.joined().sorted()
            if let g = keyOf[key] {
                groups[g].append(k)
            } else {
                keyOf[key] = groups.count
                groups.append([k])
            }
        }
        return groups
    }

    /// Spearman's rho between true and predicted final losses across the runs of each order
    /// group of at least 3 runs, for every test example: one value per (group, test example),
    /// groups in ``groups(_:)`` order, test examples in column order. Empty when no group has 3
    /// runs. `predictions[k]` is the prediction for `runs[k]` (same shape as its losses).
    ///
    /// Predictions that differ across the group by no more than ``constantTolerance`` of their
    /// magnitude count as constant (rho 0, as for a constant prediction): a simulator that
    /// ignores order predicts the same sum in a different summation order, and ranking the last
    /// bits of that rounding would score noise.
    public static func spearmanWithinGroups(predictions: [Matrix], runs: [TrainingRun]) -> [Double] {
        let tests = runs.first?.losses.columns ?? 0
        var rhos: [Double] = []
        for group in groups(runs) where group.count >= 3 {
            for c in 0..<tests {
                let truth = group.map { runs[$0].losses[runs[$0].losses.rows - 1, c] }
                let predicted = group.map { predictions[$0][predictions[$0].rows - 1, c] }
                let lo = predicted.min() ?? 0, hi = predicted.max() ?? 0
                let scale = max(abs(lo), abs(hi))
                if lo.isFinite && hi.isFinite && hi - lo <= constantTolerance * scale {
                    rhos.append(0)
                } else {
                    rhos.append(RankCorrelation.spearman(truth, predicted))
                }
            }
        }
        return rhos
    }

    /// Relative spread below which a group's predictions count as one constant value.
    public static let constantTolerance = 1e-9

    /// The share of the variance of a test example's final loss that comes from order alone:
    /// per test example, the mean over order groups (of at least 2 runs) of the variance of the
    /// final loss within the group, divided by the variance of the final loss across `random`
    /// runs (random subsets in random orders); the mean over test examples with a positive
    /// denominator. Variances are population variances. NaN when nothing can be computed.
    public static func orderShare(groups groupRuns: [[TrainingRun]], random: [TrainingRun]) -> Double {
        func variance(_ v: [Double]) -> Double {
            let m = v.reduce(0, +) / Double(v.count)
            return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)
        }
        let tests = random.first?.losses.columns ?? 0
        var shares: [Double] = []
        for c in 0..<tests {
            let total = variance(random.map { $0.finalLosses[c] })
            let within = groupRuns.filter { $0.count >= 2 }.map { g in variance(g.map { $0.finalLosses[c] }) }
            guard total > 0, !within.isEmpty else { continue }
            shares.append(within.reduce(0, +) / Double(within.count) / total)
        }
        return shares.isEmpty ? .nan : shares.reduce(0, +) / Double(shares.count)
    }
}
