/// Scores predicted trajectories against held-out runs (Docs/SIMFLUENCE.md, "Evaluation protocol").
public enum Scoring {
    /// Scores `predictions` (one matrix per held-out run, same shape as its `losses`; row 0, the
    /// starting point, is ignored) against the runs' recorded losses.
    ///
    /// - all-steps MSE / MAE: per (run, test example) trajectory, the mean squared / absolute
    ///   error over rows 1..<rows (``TrajectoryError``); summarised over trajectories.
    /// - final-step MSE: per trajectory, the squared error at the last row; summarised over
    ///   trajectories.
    /// - Spearman across examples: per run, ``RankCorrelation/spearman(_:_:)`` of (true final,
    ///   predicted final) over the test examples; summarised over runs. With fewer than 2 test
    ///   examples no run can be ranked and the summary is empty (count 0, NaN).
    /// - Spearman across runs: per test example, Spearman over the held-out runs of (true final,
    ///   predicted final); summarised over test examples; nil with fewer than 3 held-out runs.
    ///   With held-out runs on random subsets this is the linear datamodeling score (LDS).
    /// - Spearman across orders: the held-out runs grouped by the multiset of training examples
    ///   they contain (``OrderGroups``); per group of 3 or more runs and per test example,
    ///   Spearman over the group's runs of (true final, predicted final); summarised over
    ///   (group, test example) pairs; nil when no group has 3 runs (order-LDS).
    ///
    /// Trajectories are taken run by run, test examples in column order within a run; every
    /// reduction runs in that fixed order.
    ///
    /// Non-finite values never trap: a trajectory whose predictions over the scored rows contain
    /// a non-finite value (NaN or +-infinity, from a diverged simulator) has all-steps MSE, MAE
    /// and (if the last row is non-finite) final-step error of +infinity — it is infinitely wrong,
    /// so the method's mean is +infinity and its std +infinity (see ``Summary/init(of:)``).
    /// Finite predictions large enough to overflow give +infinity too. Spearman values involving
    /// a non-finite final prediction are NaN, so a diverged method's rank scores read NaN rather
    /// than a plausible-looking correlation. Non-finite recorded losses (which a valid log does
    /// not contain) propagate as NaN.
    ///
    /// Requires `predictions.count == heldOut.count`, matching shapes, and at least 2 loss rows per
    /// run (``HoldoutSplit`` guarantees the latter).
    public static func score(method: String, lambda: Double?, predictions: [Matrix], heldOut: [TrainingRun]) -> MethodScores {
        precondition(predictions.count == heldOut.count,
                     "scoring: \(predictions.count) prediction matrices for \(heldOut.count) held-out runs")
        for (p, run) in zip(predictions, heldOut) {
            precondition(p.rows == run.losses.rows && p.columns == run.losses.columns,
                         "scoring: prediction for run \(run.name) is \(p.rows)x\(p.columns), its losses are \(run.losses.rows)x\(run.losses.columns)")
            precondition(run.losses.rows >= 2,
                         "scoring: run \(run.name) has \(run.losses.rows) loss row(s); a held-out run needs at least 2")
        }
        let tests = heldOut.first?.losses.columns ?? 0
        precondition(heldOut.allSatisfy { $0.losses.columns == tests }, "scoring: runs record different numbers of test examples")

        var mse: [Double] = [], mae: [Double] = [], finalSE: [Double] = []
        var acrossExamples: [Double] = []
        for (p, run) in zip(predictions, heldOut) {
            let truth = run.losses
            let last = truth.rows - 1
            for c in 0..<tests {
                let diverged = (1..<p.rows).contains { !p[$0, c].isFinite }
                let truthFinite = (1..<truth.rows).allSatisfy { truth[$0, c].isFinite }
                if diverged && truthFinite {
                    mse.append(.infinity)
                    mae.append(.infinity)
                } else {
                    mse.append(TrajectoryError.allStepsMSE(predicted: p, truth: truth, predictedColumn: c, truthColumn: c))
                    mae.append(TrajectoryError.allStepsMAE(predicted: p, truth: truth, predictedColumn: c, truthColumn: c))
                }
                finalSE.append(squaredError(p[last, c], truth[last, c]))
            }
            if tests >= 2 {
                acrossExamples.append(RankCorrelation.spearman(truth.row(last), p.row(last)))
            }
        }

        var acrossRuns: Summary? = nil
        if heldOut.count >= 3 {
            var rhos: [Double] = []
            for c in 0..<tests {
                let truthFinals = heldOut.map { $0.losses[$0.losses.rows - 1, c] }
                let predictedFinals = predictions.map { $0[$0.rows - 1, c] }
                rhos.append(RankCorrelation.spearman(truthFinals, predictedFinals))
            }
            acrossRuns = Summary(of: rhos)
        }

        let withinGroups = OrderGroups.spearmanWithinGroups(predictions: predictions, runs: heldOut)
        return MethodScores(method: method, lambda: lambda,
                            allStepsMSE: Summary(of: mse), allStepsMAE: Summary(of: mae),
                            finalStepMSE: Summary(of: finalSE),
                            spearmanAcrossExamples: Summary(of: acrossExamples),
                            spearmanAcrossRuns: acrossRuns,
                            spearmanAcrossOrders: withinGroups.isEmpty ? nil : Summary(of: withinGroups))
    }

    /// (predicted - truth)^2, +infinity for a non-finite prediction of a finite truth.
    private static func squaredError(_ predicted: Double, _ truth: Double) -> Double {
        if !predicted.isFinite && truth.isFinite { return .infinity }
        let d = predicted - truth
        return d * d
    }
}
