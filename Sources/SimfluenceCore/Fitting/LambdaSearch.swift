/// The outcome of choosing the ridge penalty by cross-validation.
public struct LambdaSelection: Sendable, Equatable {
    /// Candidate lambdas, ascending.
    public var grid: [Double]
    /// Cross-validated all-steps MSE per grid point (+infinity where a fold's system was singular
    /// or a rollout diverged).
    public var scores: [Double]
    /// The grid point with the lowest score (ties: the larger lambda).
    public var chosen: Double
    /// Number of folds actually used: min(requested folds, number of runs).
    public var folds: Int
    /// How many of the smallest grid points the search's screen left unscored (their `scores`
    /// are NaN): on large systems with many test examples (``LambdaSearch``, ``LambdaScreen``),
    /// the points below the lowest one every test example was scored at. 0: every point scored.
    public var screened: Int

    public init(grid: [Double], scores: [Double], chosen: Double, folds: Int, screened: Int = 0) {
        self.grid = grid
        self.scores = scores
        self.chosen = chosen
        self.folds = folds
        self.screened = screened
    }
}

/// Chooses the ridge penalty of ``RidgeFit`` by K-fold cross-validation over whole training runs.
///
/// Fold k holds the runs at positions i with i % K == k (in the given order), K = min(folds,
/// runs.count). For every fold and grid lambda the form is fitted on the other folds' runs, each
/// validation run is simulated autoregressively from its first recorded loss (ids unseen in that
/// fit have no effect) and scored by all-steps MSE per (validation run, test example) trajectory.
/// A lambda's score is the mean over all trajectories of all folds.
///
/// On large systems with many test examples the grid is screened first (``LambdaScreen``): the
/// other test examples are scored only down to a grid point below the choice of a sample of
/// them, lower while the best point is the lowest one scored; the points left out are NaN in
/// ``LambdaSelection/scores`` and counted by ``LambdaSelection/screened``.
///
/// This computes exactly what `RidgeFit.fit` + `FittedSimulator.simulate` +
/// `TrajectoryError.allStepsMSE` would, but assembles each fold's normal equations once per test
/// example and re-factors only the lambda-dependent part, without materialising simulators.
public enum LambdaSearch {
    /// 10^-2 ... 10^3 in half-decades (11 points).
    ///
    /// The objective is an unnormalised sum over rows, so lambda is measured against the diagonal
    /// of X^T X: an example seen k times contributes k to its B diagonal and about k * L^2 to its A
    /// diagonal. With tens of appearances per example and losses O(0.01..10) those diagonals are
    /// O(0.1..10^4); lambda = 10^-2 is effectively unregularised for every identifiable direction
    /// yet keeps near-collinear A/B pairs solvable, and 10^3 shrinks nearly everything to zero (the
    /// "no effect" simulator, a natural upper end). Below 10^-2 the CV curve is flat in practice,
    /// and every grid point costs a solve per (fold, test example): at paper scale (27 runs,
    /// pool 200, 200 test examples, linear: CG walked down the grid, ``IterativeRidge/SolutionPath``) all 11 points x 5 folds
    /// take about 0.35 s on the project's 2-core machine (Benchmarks/run.sh, Docs/Performance.md).
    public static let defaultGrid: [Double] = [
        1e-2, 3.1622776601683794e-2, 1e-1, 3.1622776601683794e-1, 1,
        3.1622776601683795, 10, 31.622776601683793, 100, 316.22776601683796, 1000,
    ]

    /// Cross-validates every lambda of `grid` and picks the best.
    ///
    /// - Throws: ``SimfluenceError/invalidArgument(_:)`` with fewer than 2 runs (pass a fixed
    ///   lambda instead), folds < 2, an empty grid or a negative/non-finite lambda, or when no
    ///   grid point gives a finite score; input errors as ``RidgeFit/fit(log:runs:form:lambda:method:tests:threads:)``.
    public static func select(log: TrainingLog, runs: [TrainingRun], form: RecurrenceForm,
                              grid: [Double] = defaultGrid, folds: Int = 5,
                              threads: Int = Parallel.defaultThreads) throws -> LambdaSelection {
        try select(log: log, runs: runs, form: form, grid: grid, folds: folds, threads: threads, iterative: true)
    }

    /// ``select(log:runs:form:grid:folds:threads:)`` with the fold solver chosen: `iterative`
    /// false forces the dense exact path everywhere (the reference the CG path is tested against).
    /// `foldTolerance` forces CG folds (for the additive form too) and their relative residual
    /// (default: by size, see
    /// ``iterativeFoldResults(design:trainRuns:testIDs:form:grid:plan:threads:foldTolerance:)``);
    /// the tests use it to check the loose tolerance of large systems on small ones.
    public static func select(log: TrainingLog, runs: [TrainingRun], form: RecurrenceForm,
                              grid: [Double], folds: Int, threads: Int,
                              iterative useIterative: Bool, foldTolerance: Double? = nil) throws -> LambdaSelection {
        try select(log: log, runs: runs, form: form, grid: grid, folds: folds, threads: threads,
                   iterative: useIterative, foldTolerance: foldTolerance, screen: .automatic)
    }

    /// The search with its grid screen chosen (``LambdaScreen``): the tests force it on small
    /// planted logs, or turn it off, to check it against the whole search.
    static func select(log: TrainingLog, runs: [TrainingRun], form: RecurrenceForm,
                       grid: [Double], folds: Int, threads: Int,
                       iterative useIterative: Bool, foldTolerance: Double?, screen: LambdaScreen.Policy) throws -> LambdaSelection {
        let split = try CrossValidationFolds(runs: runs, folds: folds, grid: grid)
        let grid = split.grid
        let k = split.count
        let testCount = log.testIDs.count
        let g = grid.count
        let all = Array(0..<testCount)

        // Per fold, per (test example, grid point): the fold's sum of validation MSEs. Kept per
        // fold and summed at the end in one fixed order, so whatever the phases solved, a score is
        // the same sum, in the same order, as the whole search's.
        var results = [[Double]](repeating: [Double](repeating: 0, count: testCount * g), count: k)
        // Validation runs over all folds: each contributes one trajectory per test example scored.
        let validationRuns = (0..<k).reduce(0) { $0 + split.validation($1).count }
        /// One fold's training runs, design and validation plan (its runs checked against the log).
        struct Fold {
            let trainRuns: [TrainingRun], validation: [TrainingRun], design: RidgeDesign, plan: ValidationPlan
        }
        // Folds built once and kept while the screen's phases reuse them (else built per use).
        var kept = [Fold?](repeating: nil, count: k)
        var keep = true
        func fold(_ f: Int) throws -> Fold {
            if let built = kept[f] { return built }
            let trainRuns = split.training(f), validation = split.validation(f)
            let design = try RidgeDesign(log: log, runs: trainRuns)
            try checkValidation(validation, design: design, testCount: testCount)
            let built = Fold(trainRuns: trainRuns, validation: validation, design: design,
                             plan: ValidationPlan(design: design, runs: validation))
            if keep { kept[f] = built }
            return built
        }
        var screening: LambdaScreen? = nil
        switch screen {
        case .off: break
        case .always(let s): screening = s
        case .automatic:
            if useIterative && foldTolerance == nil && testCount >= LambdaScreen.standard.minimumTests,
               LambdaScreen.isLarge(form: form, design: try fold(0).design) {
                screening = .standard
            }
        }
        keep = screening != nil
        /// Solves `tests` on every fold at the grid points `points` (walked from the top), into `results`.
        func solveFolds(tests: [Int], points: ClosedRange<Int>, task: String) throws {
            let blocks = (tests.count + IterativeRidge.width - 1) / IterativeRidge.width
            // One unit per block of test examples and fold, reported as the fold it is in.
            let progress = ProgressCounter(task: task, total: k * blocks) { done in
                "fold \(min(k, done / max(blocks, 1) + 1)) of \(k)"
            }
            for f in 0..<k {
                let data = try fold(f)
                if data.validation.isEmpty || tests.isEmpty {
                    for _ in 0..<blocks { progress.advance() }
                    continue
                }
                if useIterative && (usesIterativeCV(form, design: data.design) || foldTolerance != nil) {
                    let fresh = try iterativeFoldResults(design: data.design, trainRuns: data.trainRuns, testIDs: log.testIDs,
                                                         form: form, grid: grid, plan: data.plan, threads: threads,
                                                         foldTolerance: foldTolerance, tests: tests, points: points, progress: progress)
                    for z in tests { for l in points { results[f][z * g + l] = fresh[z * g + l] } }
                } else {
                    try denseFoldResults(design: data.design, trainRuns: data.trainRuns, testIDs: log.testIDs, form: form,
                                         grid: grid, plan: data.plan, threads: threads, tests: tests, into: &results[f],
                                         wanted: { _, l in points.contains(l) })
                    for _ in 0..<blocks { progress.advance() }
                }
            }
        }
        /// Scores at the grid points `points` over the test examples `tests` from `results` (NaN
        /// at other points) and the best of them.
        func finish(_ points: ClosedRange<Int>, over tests: [Int]) throws -> (scores: [Double], best: Int) {
            var sums = [Double](repeating: 0, count: g)
            var singular = [Bool](repeating: false, count: g)
            for f in 0..<k {
                for l in points {
                    for z in tests {
                        let v = results[f][z * g + l]
                        if v.isNaN { singular[l] = true } else { sums[l] += v }
                    }
                }
            }
            let part = try CrossValidationScores.finish(sums: Array(sums[points]), singular: Array(singular[points]),
                                                        trajectories: validationRuns * tests.count, grid: Array(grid[points]))
            var scores = [Double](repeating: .nan, count: g)
            scores.replaceSubrange(points, with: part.scores)
            return (scores, points.lowerBound + part.best)
        }

        let task = "cross-validating \(g) lambdas (\(form.rawValue) form)"
        guard let screening, g > 1 else {
            try solveFolds(tests: all, points: 0...(g - 1), task: task)
            let (scores, best) = try finish(0...(g - 1), over: all)
            return LambdaSelection(grid: grid, scores: scores, chosen: grid[best], folds: k)
        }
        // The screen: the whole grid on a sample of test examples, then the rest of them from the
        // top of the grid down to `margin` points below the sample's choice, and further down,
        // `margin` points at a time, while the best point is the lowest one scored.
        let sample = ScoringSample.tests(all, runs: runs, size: screening.sampleSize)
        let inSample = Set(sample)
        let rest = all.filter { !inSample.contains($0) }
        try solveFolds(tests: sample, points: 0...(g - 1),
                       task: "screening \(g) lambdas on \(sample.count) test examples (\(form.rawValue) form)")
        let sampleBest = try finish(0...(g - 1), over: sample).best
        let margin = max(1, screening.margin)
        var lowest = max(0, sampleBest - margin)
        while true {
            let points = lowest...(g - 1)
            try solveFolds(tests: rest, points: points,
                           task: lowest > 0 ? "cross-validating lambdas >= \(grid[lowest]) (\(form.rawValue) form)" : task)
            let (scores, best) = try finish(points, over: all)
            if best > lowest || lowest == 0 {
                return LambdaSelection(grid: grid, scores: scores, chosen: grid[best], folds: k, screened: lowest)
            }
            // The best point is the lowest scored: the minimum may lie below.
            lowest = max(0, lowest - margin)
        }
    }

    /// Refuses validation runs that do not fit the fold's log: wrong test columns, or a training
    /// index outside the pool.
    private static func checkValidation(_ validation: [TrainingRun], design: RidgeDesign, testCount: Int) throws {
        for run in validation {
            guard run.losses.columns == testCount else {
                throw SimfluenceError.invalidArgument(
                    "run '\(run.name)' records \(run.losses.columns) test examples but the log has \(testCount)")
            }
            for batch in run.batches { for i in batch where i < 0 || i >= design.trainCount {
                throw SimfluenceError.invalidArgument(
                    "run '\(run.name)': training index \(i) is outside the log's \(design.trainCount) training examples")
            } }
        }
    }

    /// Scores one fold by the exact dense path: for every test example z of `tests` and every grid
    /// index l that `wanted(z, l)` selects, results[z * grid.count + l] = the sum over the fold's
    /// validation runs of the all-steps MSE (NaN when the regularised system is singular).
    static func denseFoldResults(design: RidgeDesign, trainRuns: [TrainingRun], testIDs: [String],
                                 form: RecurrenceForm, grid: [Double], plan: ValidationPlan, threads: Int,
                                 tests: [Int], into results: inout [Double],
                                 wanted: @escaping @Sendable (Int, Int) -> Bool = { _, _ in true }) throws {
        let solver = RidgeSolver(design, form: form, lambdas: grid)
        let g = grid.count
        try results.withUnsafeMutableBufferPointer { rb in
            let out = RidgeSharedPointer(base: rb.baseAddress!)
            try ridgeParallel(tests.count, threads: threads) { items in
                let ws = RidgeSolver.Workspace(solver: solver)
                for p in items {
                    let z = tests[p]
                    if design.activeCount > 0 {
                        try solver.assemble(z: z, runs: trainRuns, testIDs: testIDs, ws)
                    }
                    for l in 0..<g where wanted(z, l) {
                        var a: UnsafeMutablePointer<Double>? = nil, b: UnsafeMutablePointer<Double>? = nil
                        if design.activeCount > 0 {
                            guard solver.solve(lambda: l, ws) else {
                                out.base[z * g + l] = .nan
                                continue
                            }
                            a = solver.aOffset.map { ws.theta + $0 }
                            b = solver.bOffset.map { ws.theta + $0 }
                        }
                        out.base[z * g + l] = plan.sumOfMSE(z: z, form: form, a: a, b: b)
                    }
                }
            }
        }
    }
}

/// The validation runs of one fold, with batches mapped to the fold's local (active) indices and
/// ids unseen in the fold's training runs dropped.
struct ValidationPlan: Sendable {
    let runs: [TrainingRun]
    /// Per run: flattened local indices of steps firstLossStep + 1 ... T, and step boundaries.
    let indices: [[Int]]
    let stepStart: [[Int]]

    init(design: RidgeDesign, runs: [TrainingRun]) {
        self.runs = runs
        var indices: [[Int]] = [], stepStart: [[Int]] = []
        for run in runs {
            var flat: [Int] = [], starts: [Int] = [0]
            for batch in run.simulatedBatches {
                for g in batch where design.local[g] >= 0 { flat.append(design.local[g]) }
                starts.append(flat.count)
            }
            indices.append(flat)
            stepStart.append(starts)
        }
        self.indices = indices
        self.stepStart = stepStart
    }

    /// Sum over validation runs of the all-steps MSE of test column `z` under parameters `a`, `b`
    /// (local indexing; nil = not part of the form, or nothing active). Uses the same arithmetic,
    /// in the same order, as `FittedSimulator.recurrenceRollout` and `TrajectoryError.allStepsMSE`;
    /// a non-finite trajectory error counts as +infinity. A second rollout of the plain
    /// recurrence, kept because cross-validation scores every (fold, lambda, test example)
    /// straight from the solver's parameter vectors and accumulates the error on the fly,
    /// without building a simulator or a trajectory matrix for each (the CV of the paper
    /// workload runs 11 lambdas x 5 folds x 200 test examples this way).
    func sumOfMSE(z: Int, form: RecurrenceForm, a: UnsafeMutablePointer<Double>?, b: UnsafeMutablePointer<Double>?) -> Double {
        var total = 0.0
        let usesA = form.usesA, usesB = form.usesB
        for (v, run) in runs.enumerated() {
            let steps = stepStart[v].count - 1
            let width = run.losses.columns
            let mse: Double = run.losses.storage.withUnsafeBufferPointer { truth in
                indices[v].withUnsafeBufferPointer { idx in
                    stepStart[v].withUnsafeBufferPointer { st in
                        var loss = truth[z]
                        var sum = 0.0
                        for t in 0..<steps {
                            var alpha = usesA ? 0.0 : 1.0
                            var beta = 0.0
                            if usesA, let a { for e in st[t]..<st[t + 1] { alpha += a[idx[e]] } }
                            if usesB, let b { for e in st[t]..<st[t + 1] { beta += b[idx[e]] } }
                            loss = alpha * loss + beta
                            let d = loss - truth[(t + 1) * width + z]
                            sum += d * d
                        }
                        return sum / Double(steps)
                    }
                }
            }
            total += mse.isFinite ? mse : .infinity
        }
        return total
    }
}
