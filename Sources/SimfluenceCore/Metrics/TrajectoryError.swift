/// Per-trajectory error measures of the evaluation protocol.
///
/// A trajectory is one column of a losses matrix (rows = recorded steps, row 0 the starting
/// point). Errors are taken over the predicted steps only: rows `1..<rows`.
public enum TrajectoryError {
    /// Mean of (predicted - true)^2 over rows 1..<rows of column `column`; both matrices must have
    /// the same number of rows (at least 2). Units: squared loss units.
    public static func allStepsMSE(predicted: Matrix, truth: Matrix, predictedColumn: Int, truthColumn: Int) -> Double {
        meanOverSteps(predicted, truth, predictedColumn, truthColumn) { $0 * $0 }
    }

    /// Mean of |predicted - true| over rows 1..<rows of the given columns. Units: loss units.
    public static func allStepsMAE(predicted: Matrix, truth: Matrix, predictedColumn: Int, truthColumn: Int) -> Double {
        meanOverSteps(predicted, truth, predictedColumn, truthColumn) { abs($0) }
    }

    private static func meanOverSteps(_ p: Matrix, _ t: Matrix, _ pc: Int, _ tc: Int, _ f: (Double) -> Double) -> Double {
        precondition(p.rows == t.rows && p.rows >= 2, "trajectories must have equal length of at least 2 rows")
        var sum = 0.0
        for r in 1..<p.rows { sum += f(p[r, pc] - t[r, tc]) }
        return sum / Double(p.rows - 1)
    }
}
