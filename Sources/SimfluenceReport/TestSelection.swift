import SimfluenceCore

/// A test example picked for plotting, with why it was picked.
public struct ChosenTest: Sendable, Equatable {
    /// Column index into the test ids.
    public var index: Int
    /// Reasons, e.g. "best fit by linear (mean all-steps MSE 0.0012)"; several when one example
    /// was picked by several rules.
    public var reasons: [String]

    public init(index: Int, reasons: [String]) {
        self.index = index
        self.reasons = reasons
    }
}

/// Which test examples the report plots.
public enum TestSelection {
    /// The default choice: by the first method's mean all-steps MSE over the held-out runs (a
    /// non-finite error counts as the worst), the best, the median (the lower middle for an even
    /// count) and the worst test example; then the two test examples whose real final loss
    /// varies most (largest max - min) across the held-out runs, where curricula matter most.
    /// Ties go to the lower index; an example picked twice appears once, at its first position,
    /// with both reasons.
    public static func `default`(result: EvaluationResult, heldOut: [TrainingRun]) -> [ChosenTest] {
        let tests = heldOut.first?.losses.columns ?? 0
        guard tests > 0 else { return [] }
        var picks: [(Int, String)] = []
        if let first = result.results.first {
            let name = first.scores.method
            let errors = meanErrors(first.predictions, heldOut, tests: tests)
            let order = (0..<tests).sorted { errors[$0] != errors[$1] ? errors[$0] < errors[$1] : $0 < $1 }
            let describe = { (z: Int) in "mean all-steps MSE \(NumberFormat.significant(errors[z], digits: 3))" }
            picks.append((order[0], "best fit by \(name) (\(describe(order[0])))"))
            let median = order[(tests - 1) / 2]
            picks.append((median, "median fit by \(name) (\(describe(median)))"))
            picks.append((order[tests - 1], "worst fit by \(name) (\(describe(order[tests - 1])))"))
        }
        let spread: [Double] = (0..<tests).map { z in
            let finals = heldOut.map { $0.losses[$0.losses.rows - 1, z] }.filter(\.isFinite)
            return (finals.max() ?? 0) - (finals.min() ?? 0)
        }
        let bySpread = (0..<tests).sorted { spread[$0] != spread[$1] ? spread[$0] > spread[$1] : $0 < $1 }
        for (rank, z) in bySpread.prefix(2).enumerated() {
            picks.append((z, "\(rank == 0 ? "largest" : "second-largest") spread of the real final loss across held-out runs (\(NumberFormat.significant(spread[z], digits: 3)))"))
        }
        var chosen: [ChosenTest] = []
        for (z, reason) in picks {
            if let k = chosen.firstIndex(where: { $0.index == z }) {
                chosen[k].reasons.append(reason)
            } else {
                chosen.append(ChosenTest(index: z, reasons: [reason]))
            }
        }
        return chosen
    }

    /// Per test example, the mean over held-out runs of the all-steps MSE of `predictions`
    /// (+infinity when any predicted step is non-finite).
    static func meanErrors(_ predictions: [Matrix], _ heldOut: [TrainingRun], tests: Int) -> [Double] {
        (0..<tests).map { z in
            var total = 0.0
            var runs = 0
            for (p, run) in zip(predictions, heldOut) where run.losses.rows >= 2 && p.rows == run.losses.rows {
                var sum = 0.0
                for r in 1..<p.rows {
                    let d = p[r, z] - run.losses[r, z]
                    sum += d.isFinite ? d * d : .infinity
                }
                total += sum / Double(p.rows - 1)
                runs += 1
            }
            let mean = runs == 0 ? Double.infinity : total / Double(runs)
            return mean.isNaN ? .infinity : mean
        }
    }
}
