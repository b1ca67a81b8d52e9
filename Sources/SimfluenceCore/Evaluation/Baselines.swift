/// The two trivial predictors reported beside every method.
///
/// Both return one matrix per held-out run with the shape of that run's `losses`; row 0 is the
/// run's own starting loss, as for a simulator.
public enum Baselines {
    /// Persistence: every step predicts the run's starting (first recorded) loss.
    public static func persistence(_ heldOut: [TrainingRun]) -> [Matrix] {
        heldOut.map { run in
            let start = run.initialLosses
            var out = Matrix(rows: run.losses.rows, columns: run.losses.columns)
            for r in 0..<out.rows {
                for c in 0..<out.columns { out[r, c] = start[c] }
            }
            return out
        }
    }

    /// Mean-run: the average trajectory of the training runs.
    ///
    /// Row r >= 1 of a held-out run's prediction is the mean, over the training runs that
    /// recorded a loss at step `firstLossStep + r`, of that loss (runs are aligned by step number,
    /// not by row, because runs may start at step 0 or 1 and differ in length; runs are summed in
    /// their given order). Steps beyond every training run's end carry the last available mean
    /// forward (so a run that ended early simply stops contributing, and after the longest run
    /// ends the mean stays put). Row 0 is the held-out run's own starting loss. If the training
    /// runs record no loss at or before a step (no training runs, or none with any rows), that
    /// step falls back to persistence (the held-out run's starting loss).
    ///
    /// Training and held-out runs must record the same test examples (same column count).
    public static func meanRun(training: [TrainingRun], heldOut: [TrainingRun]) -> [Matrix] {
        let columns = heldOut.first?.losses.columns ?? training.first?.losses.columns ?? 0
        for run in training + heldOut {
            precondition(run.losses.columns == columns,
                         "mean-run: run \(run.name) records \(run.losses.columns) test examples, expected \(columns)")
        }
        // Mean loss at every step 0...maxStep that some training run recorded (nil where none did).
        let lastStep = training.filter { $0.losses.rows > 0 }.map { $0.firstLossStep + $0.losses.rows - 1 }.max() ?? -1
        var means: [[Double]?] = []
        if lastStep >= 0 {
            for step in 0...lastStep {
                var sum = [Double](repeating: 0, count: columns)
                var count = 0
                for run in training {
                    let r = step - run.firstLossStep
                    guard r >= 0 && r < run.losses.rows else { continue }
                    for c in 0..<columns { sum[c] += run.losses[r, c] }
                    count += 1
                }
                means.append(count == 0 ? nil : sum.map { $0 / Double(count) })
            }
        }
        // carried[s]: the mean at the latest step <= s that has one (nil if none).
        var carried: [[Double]?] = []
        var last: [Double]? = nil
        for m in means {
            if let m { last = m }
            carried.append(last)
        }
        return heldOut.map { run in
            let start = run.initialLosses
            var out = Matrix(rows: run.losses.rows, columns: columns)
            for r in 0..<out.rows {
                let step = run.firstLossStep + r
                let row: [Double]
                if r == 0 || carried.isEmpty {
                    row = start
                } else {
                    row = carried[min(step, carried.count - 1)] ?? start
                }
                for c in 0..<columns { out[r, c] = row[c] }
            }
            return out
        }
    }

    /// Both baselines' predictions of `heldOut`, by name, in report order ("persistence",
    /// "mean-run"): what every evaluation scores beside the methods.
    public static func all(training: [TrainingRun], heldOut: [TrainingRun]) -> [(name: String, predictions: [Matrix])] {
        [("persistence", persistence(heldOut)), ("mean-run", meanRun(training: training, heldOut: heldOut))]
    }
}
