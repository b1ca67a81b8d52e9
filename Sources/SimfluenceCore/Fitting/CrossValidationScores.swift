/// The last step of every cross-validation: per-point mean scores and the best point.
enum CrossValidationScores {
    /// Scores `sums[p] / trajectories` (infinite where point p was singular or non-finite) and the
    /// index of the lowest score (ties: the later point, i.e. the larger lambda on an ascending grid).
    ///
    /// - Throws: ``SimfluenceError/invalidArgument(_:)`` when nothing was validated or no point
    ///   scored finitely; `grid` names the candidates in that message.
    static func finish(sums: [Double], singular: [Bool], trajectories: Int, grid: [Double]) throws -> (scores: [Double], best: Int) {
        guard trajectories > 0 else {
            throw SimfluenceError.invalidArgument("no validation run records a step to predict; cannot cross-validate lambda")
        }
        var scores = [Double](repeating: .infinity, count: sums.count)
        for p in sums.indices where !singular[p] {
            let s = sums[p] / Double(trajectories)
            scores[p] = s.isFinite ? s : .infinity
        }
        var best = -1
        for p in scores.indices where scores[p].isFinite && (best < 0 || scores[p] <= scores[best]) { best = p }
        guard best >= 0 else {
            throw SimfluenceError.invalidArgument(
                "no lambda in the grid \(grid) gave a finite cross-validation score (singular systems or diverging simulations); pass a fixed lambda > 0 or a grid with larger values")
        }
        return (scores, best)
    }
}
