/// The memory a ridge fit allocates, estimated before allocating any of it, so that a fit too
/// large for the machine is refused with an explanation instead of being killed half-way.
///
/// Mirrors the allocations of the dense solver (`RidgeSolver`, `RidgeDesign`, `RidgeFit`,
/// `LambdaSearch`): with m active training examples and n unknowns per test example (2m for
/// linear, m for the other forms), per worker thread a packed n x n matrix being factored, the
/// lambda-free part of it, and two loss vectors of one entry per design row; shared, one packed
/// m x m factor per lambda (forms with B) plus the co-occurrence matrix; and the fitted A and B
/// (tests x training examples each). When the fit goes through conjugate gradients instead (large
/// systems, see ``RidgeSolverChoice``), per worker thread the CG workspace of `SF_LANES` test
/// examples (per example sixteen double lane vectors, per design row four, plus their float
/// copies in mixed precision) and, shared, the design's pattern in row and column order. Keep it
/// in step with the solvers if their storage changes.
public enum FitMemory {
    /// The estimate and a short breakdown for messages.
    public struct Estimate: Sendable, Equatable {
        /// Peak bytes.
        public var bytes: Int
        /// A short breakdown for messages.
        public var detail: String

        public init(bytes: Int, detail: String) {
            self.bytes = bytes
            self.detail = detail
        }
    }

    /// Bytes needed to fit `form` on `runs` of `log` with `lambdas` candidate penalties (1 for a
    /// fixed lambda, the grid size for cross-validation) on `threads` threads. `lambda` is the
    /// fixed penalty (nil when cross-validated) and `solver` the solver choice, which together
    /// decide between the dense and the CG path as ``RidgeFit`` does.
    public static func estimate(log: TrainingLog, runs: [TrainingRun], form: RecurrenceForm,
                                lambdas: Int, threads: Int, lambda: Double? = nil,
                                solver: RidgeSolverChoice = .automatic) -> Estimate {
        let (m, rows) = activeExamplesAndRows(log: log, runs: runs)
        let n = form.unknowns(examples: m)
        let tests = Double(log.testIDs.count)
        let parameters: Double = 16 * tests * Double(log.trainIDs.count)
        let scores: Double = 8 * tests * Double(max(1, lambdas))
        let output: Double = parameters + scores
        let workers = Double(max(1, min(threads, log.testIDs.count)))
        // The path RidgeFit takes (cross-validation of the additive form is dense up to
        // RidgeFit.denseUnknownLimit active examples).
        let tolerance = try? RidgeFit.iterativeTolerance(solver, unknowns: n, lambda: lambda ?? 1)
        if tolerance != nil && (lambda != nil || form != .additive || m > RidgeFit.denseUnknownLimit) {
            let entries = Double(runs.reduce(0) { total, run in total + run.batches.reduce(0) { $0 + $1.count } })
            // IterativeRidge.Workspace: x, r, p, q, b (2 lane vectors per example) and pre,
            // diagonal (3 each); lp, y and ul (4 per row); in mixed precision float p and ul.
            let lane = Double(8 * IterativeRidge.width)
            let mixed = IterativeRidge.usesMixedPrecision(activeCount: m, tolerance: tolerance ?? 1) ? lane / 2 : 0
            let perThread: Double = lane * (16 * Double(m) + 4 * Double(rows)) + mixed * (2 * Double(m) + 2 * Double(rows))
                + 16 * Double(rows)
            let shared: Double = 40 * entries + 24 * Double(rows) + 8 * Double(m)
            let total = perThread * workers + shared + output
            let detail = "\(n) unknowns per test example from \(m) training examples (conjugate gradients): \(describe(perThread)) per thread on \(Int(workers)) thread\(workers == 1 ? "" : "s"), \(describe(shared)) of design pattern, \(describe(output)) of results"
            return Estimate(bytes: total < 9e18 ? Int(total) : Int.max, detail: detail)
        }
        func packed(_ k: Int) -> Double { Double(k) * Double(k + 1) / 2 }
        let base: Double
        switch form {
        case .linear: base = packed(n) - packed(m)
        case .multiplicative: base = packed(n)
        case .additive: base = 0
        }
        let work = form == .additive ? 0 : packed(n)
        let perThread: Double = 8 * (2 * Double(rows) + base + work + 2 * Double(n))
        let shared: Double = form.usesB ? 8 * (Double(max(1, lambdas)) + 1) * packed(m) : 0
        let total: Double = perThread * workers + shared + output
        let bytes = total < 9e18 ? Int(total) : Int.max
        let detail = "\(n) unknowns per test example from \(m) training examples: \(describe(perThread)) per thread on \(Int(workers)) thread\(workers == 1 ? "" : "s"), \(describe(shared)) of shared factors, \(describe(output)) of results"
        return Estimate(bytes: bytes, detail: detail)
    }

    /// Bytes needed by an extended fit (``ExtendedFit``) of `configuration` with `lambdas`
    /// candidate penalties on `threads` threads: with s = m + pooled means + step knots shared
    /// unknowns and n = 2s per test example, per worker thread the packed n x n normal matrix,
    /// its factor and two loss vectors of one entry per design row; shared, the packed s x s
    /// block factored once per penalty point (lambda x smoothing); and the fitted parameters.
    ///
    /// On the conjugate-gradient path (``ExtendedIterative``: `solver` and the fixed `lambda`, or
    /// 1 when cross-validated, decide as ``RidgeFit/iterativeTolerance(_:unknowns:lambda:)`` does)
    /// per worker the lane vectors of the unknowns and rows and the shared block, and once the
    /// structured design.
    public static func estimateExtended(log: TrainingLog, runs: [TrainingRun], configuration: ExtendedConfiguration,
                                        lambdas: Int, threads: Int, lambda: Double? = nil,
                                        solver: RidgeSolverChoice = .automatic) -> Estimate {
        let (m, rows) = activeExamplesAndRows(log: log, runs: runs)
        let lastStep = max(1, runs.map { $0.firstLossStep + $0.losses.rows - 1 }.max() ?? 1)
        let knots = configuration.stepKnots <= 0 ? 0 : min(configuration.stepKnots, lastStep)
        let shared = Double(m + (configuration.pooled ? 1 : 0) + knots)
        let n = 2 * shared
        func packed(_ k: Double) -> Double { k * (k + 1) / 2 }
        let tests = Double(log.testIDs.count)
        let points = Double(max(1, lambdas))
        let output: Double = 16 * tests * Double(log.trainIDs.count) + 16 * tests * Double(knots > 0 ? lastStep : 0)
        let workers = Double(max(1, min(threads, log.testIDs.count)))
        if (try? RidgeFit.iterativeTolerance(solver, unknowns: Int(n), lambda: lambda ?? 1)) != nil {
            let entries = Double(runs.reduce(0) { total, run in total + run.batches.reduce(0) { $0 + $1.count } })
            // ExtendedIterative.Workspace: x, r, z, p, ap, b (n lanes each), pre and two example
            // blocks (5 per example), lp, y, u, carried (4 per row) and ul (2 per row), the shared
            // Gram matrix and factor; rollout fitting's state per step.
            let lane = Double(8 * ExtendedIterative.width), q2 = 2 * (shared - Double(m))
            let perThread: Double = lane * (6 * n + 5 * Double(m) + 6 * Double(rows) + 2 * q2 * q2)
                + 16 * Double(rows) + 8 * 3 * Double(lastStep) + 8 * 4 * n
            // ExtendedStructure and the design: per entry the row and column patterns (local
            // index, row, count, decayed count); per row its terms; per example its sums.
            let structure: Double = 48 * entries + 64 * Double(rows) + 24 * Double(m)
            let total = perThread * workers + structure + output
            let detail = "\(Int(n)) unknowns per test example from \(m) training examples (conjugate gradients on the structured design): \(describe(perThread)) per thread on \(Int(workers)) thread\(workers == 1 ? "" : "s"), \(describe(structure)) of design, \(describe(output)) of results"
            return Estimate(bytes: total < 9e18 ? Int(total) : Int.max, detail: detail)
        }
        let perThread: Double = 8 * (2 * packed(n) + 2 * Double(rows) + 3 * n + 3 * Double(lastStep))
        let sharedBytes: Double = 8 * (points + 1) * packed(shared)
        let total = perThread * workers + sharedBytes + output
        let detail = "\(Int(n)) unknowns per test example from \(m) training examples (dense normal equations): \(describe(perThread)) per thread on \(Int(workers)) thread\(workers == 1 ? "" : "s"), \(describe(sharedBytes)) of shared factors, \(describe(output)) of results"
        return Estimate(bytes: total < 9e18 ? Int(total) : Int.max, detail: detail)
    }

    /// Bytes needed by a classic method's simulator (``ClassicScores``) beyond the gradient
    /// features already in memory: the raw scores (tests x pool), the fitted A and B (tests x
    /// training examples) and, for influence functions, one square matrix of the smaller of the
    /// pool size and the gradient dimension.
    public static func estimateClassic(log: TrainingLog, features: GradientFeatures?) -> Estimate {
        let tests = Double(log.testIDs.count), train = Double(log.trainIDs.count)
        let pool = Double(features?.trainIDs.count ?? log.trainIDs.count)
        let square = min(pool, Double(features?.dimension ?? 0))
        let total: Double = 8 * (tests * pool + 2 * tests * train + square * square)
        return Estimate(bytes: total < 9e18 ? Int(total) : Int.max,
                        detail: "\(describe(8 * tests * pool)) of scores, \(describe(16 * tests * train)) of results, \(describe(8 * square * square)) for the influence system")
    }

    /// The training examples that appear in a design row of `runs`, and the number of rows.
    static func activeExamplesAndRows(log: TrainingLog, runs: [TrainingRun]) -> (active: Int, rows: Int) {
        var active = [Bool](repeating: false, count: log.trainIDs.count)
        var rows = 0
        for run in runs {
            let first = run.firstLossStep
            for r in 1..<max(1, run.losses.rows) where first + r - 1 < run.batches.count {
                rows += 1
                for i in run.batches[first + r - 1] where i >= 0 && i < active.count { active[i] = true }
            }
        }
        return (active.reduce(0) { $0 + ($1 ? 1 : 0) }, rows)
    }

    static func describe(_ bytes: Double) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var v = bytes
        var u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(Int(v)) bytes" }
        let rounded = (v * 10).rounded() / 10
        return "\(rounded) \(units[u])"
    }
}
