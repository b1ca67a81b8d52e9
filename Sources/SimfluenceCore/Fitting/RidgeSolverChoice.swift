/// Which algorithm ``RidgeFit`` uses for the per-test-example normal equations.
public enum RidgeSolverChoice: Sendable, Equatable {
    /// Dense exact Cholesky when the system is small, preconditioned conjugate gradients when it
    /// is large: dense when the unknowns per test example (2 x active examples for linear, the
    /// active examples for the other forms) number at most ``RidgeFit/denseUnknownLimit``, or
    /// when lambda = 0 (CG needs lambda > 0 to be safe on unidentified directions).
    case automatic
    /// Always the dense exact Cholesky path (memory and time grow as unknowns^2 and unknowns^3).
    case dense
    /// Always block-Jacobi-preconditioned CG, stopped when the relative residual of the normal
    /// equations ||X^T y - (X^T X + lambda I) theta|| / ||X^T y|| is at most `tolerance`.
    case iterative(tolerance: Double)
}

extension RidgeFit {
    /// Largest number of unknowns per test example for which ``RidgeSolverChoice/automatic``
    /// takes the dense path. At 256 unknowns a dense factorisation costs about 2.4e6
    /// multiply-adds (under 1 ms) per test example; beyond it CG on the sparse
    /// design is cheaper by a growing factor (its cost is linear in the number of appearances).
    public static let denseUnknownLimit = 256

    /// Relative residual the automatic choice asks of the iterative path when it is used on a
    /// moderate system (at most ``smallIterativeLimit`` unknowns): 1e-12, so the result matches
    /// the dense solution to about 1e-10 relative at negligible cost.
    public static let smallIterativeTolerance = 1e-12
    public static let smallIterativeLimit = 8192
    /// Relative residual the automatic choice asks of the iterative path on large systems:
    /// ||X^T y - (X^T X + lambda I) theta|| <= 1e-7 ||X^T y||, ten times below the 1e-6 at which
    /// a fit is as good as the exact solution for simulation purposes.
    public static let defaultIterativeTolerance = 1e-7

    /// The iterative (CG) fit of the given test columns; returns A and B rows (tests x train), and
    /// the largest iteration count and relative residual over test examples.
    static func fitIterative(design: RidgeDesign, runs: [TrainingRun], testIDs: [String], form: RecurrenceForm,
                             lambda: Double, tests: [Int], tolerance: Double, threads: Int)
    throws -> (a: [Double], b: [Double], iterations: Int, residual: Double) {
        let trainCount = design.trainCount
        guard !tests.isEmpty, trainCount > 0, design.activeCount > 0 else {
            let zeros = [Double](repeating: 0, count: tests.count * trainCount)
            return (zeros, zeros, 0, 0)
        }
        let solver = IterativeRidge(design: design, form: form, tolerance: tolerance)
        let w = IterativeRidge.width
        let blocks = (tests.count + w - 1) / w
        let order = IterativeRidge.convergenceOrder(tests: tests, runs: runs)
        let stats = UnsafeMutableBufferPointer<Double>.allocate(capacity: 2 * blocks)
        defer { stats.deallocate() }
        let sOut = RidgeSharedPointer(base: stats.baseAddress!)
        let progress = ProgressCounter(task: "fitting \(form.rawValue) form (conjugate gradients, \(tests.count) test examples)",
                                       unit: "blocks of \(w)", total: blocks)
        // The A and B rows are written whole by the workers (in parallel, and once: a zero fill
        // first would touch 1.6 GB on one thread for the large benchmark workload).
        var bStore: [Double] = []
        let aStore = try [Double](unsafeUninitializedCapacity: tests.count * trainCount) { ab, aCount in
            bStore = try [Double](unsafeUninitializedCapacity: tests.count * trainCount) { bb, bCount in
                let aOut = RidgeSharedPointer(base: ab.baseAddress!)
                let bOut = RidgeSharedPointer(base: bb.baseAddress!)
                try ridgeParallel(blocks, threads: threads) { items in
                    let ws = IterativeRidge.Workspace(m: design.activeCount, rows: design.rowCount, mixedPrecision: solver.mixedPrecision)
                    for block in items {
                        let rows = Array(order[(block * w)..<min(tests.count, (block + 1) * w)])
                        let result = try solver.solveBlock(tests: rows.map { tests[$0] }, outRows: rows, lambda: lambda, runs: runs,
                                                           testIDs: testIDs, aOut: aOut.base, bOut: bOut.base, ws)
                        sOut.base[2 * block] = Double(result.iterations.max() ?? 0)
                        sOut.base[2 * block + 1] = result.residuals.max() ?? 0
                        progress.advance()
                    }
                }
                bCount = tests.count * trainCount
            }
            aCount = tests.count * trainCount
        }
        var iterations = 0.0, residual = 0.0
        for k in 0..<blocks {
            iterations = max(iterations, stats[2 * k])
            residual = max(residual, stats[2 * k + 1])
        }
        if residual > tolerance * 10 {
            // Did not converge within the iteration budget: report, do not return a bad fit silently.
            throw SimfluenceError.invalidArgument(
                "the iterative ridge solver stopped at relative residual \(residual) (asked for \(tolerance)) after \(Int(iterations)) iterations; use a larger lambda or the dense solver")
        }
        return (aStore, bStore, Int(iterations), residual)
    }
}
