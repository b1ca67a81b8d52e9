/// Cross-validation of one fold by conjugate gradients (see ``LambdaSearch``).
///
/// For the linear and multiplicative forms (and the additive one on large designs) with lambda > 0, every (test example, lambda) system
/// of a fold is solved by ``IterativeRidge``, eight test examples per vector, from the largest
/// lambda down, each solve started from the best combination of the solutions at the previous
/// grid points (``IterativeRidge/projectStart(lambda:_:_:)``), to a
/// relative residual of 1e-10 on systems of at most ``exactCrossValidationLimit`` unknowns
/// (scores then agree with the dense Cholesky path to about 1e-9 relative, far below the
/// differences between grid points, percents) and of 1e-5 on larger ones
/// (``ExtendedFit/crossValidationTolerance(_:unknowns:)``: the choice is checked against exact
/// K-fold in the tests). On the small systems any
/// solve whose final true residual is above ``acceptedResidual`` (or whose block preconditioner is
/// singular, or lambda = 0) is re-solved by the exact dense path, so the scores never rest on an
/// unconverged solve; on large ones, where a dense solve per test example is out of reach, CG
/// gets the iteration budget of a fit and an unconverged solve is an error.
///
/// On those large systems the additive and multiplicative forms solve the whole grid at once by
/// multi-shift CG (``IterativeRidge/solveShifted(lambdas:_:_:deliver:)``): one unpreconditioned
/// CG run at the smallest lambda advances every lambda, each stopped at the same tolerance and
/// checked by its true residual. On the medium benchmark workload that is ~45 iterations per
/// block and fold against ~170 for the warm-started path (whose neighbouring grid points, a
/// half-decade apart, are poor starting points), with the same choices and scores within
/// 0.3%. The linear form keeps the path: without its 2 x 2 block preconditioner its CG needs
/// twice the iterations.
///
/// Cost: a CG iteration is two passes over the design (O(rows x batch) per 16 test examples),
/// and the paper-scale systems converge in 10-20 iterations with warm starts, against one
/// O(m^3) factorisation per (test example, lambda) for the dense path.
extension LambdaSearch {
    /// The residual the CG solves aim for on systems of at most ``exactCrossValidationLimit`` unknowns.
    static let cgTolerance = 1e-10
    /// Largest system (unknowns per test example) cross-validated to ``cgTolerance`` with the
    /// dense fallback, so its scores match the dense path's to ~1e-8 (the paper workload: 400);
    /// larger ones use the looser ``ExtendedFit/crossValidationTolerance(_:unknowns:)``.
    static let exactCrossValidationLimit = 1024
    /// Solves whose true relative residual stays above this go to the dense path.
    static let acceptedResidual = 1e-9

    /// Whether a fold of `form` on `design` is cross-validated by CG (otherwise by the dense
    /// solver): always for the linear and multiplicative forms; for the additive form, whose
    /// normal matrix is the same for every test example (one factorisation per lambda serves all),
    /// only above ``RidgeFit/denseUnknownLimit`` active examples, where that factorisation
    /// costs more than CG (5,000 examples: minutes per fold and lambda).
    static func usesIterativeCV(_ form: RecurrenceForm, design: RidgeDesign) -> Bool {
        form != .additive || design.activeCount > RidgeFit.denseUnknownLimit
    }

    /// results[z * grid.count + l]: sum over the fold's validation runs of the all-steps MSE of
    /// test example z at grid[l] (NaN when the system is singular), as the dense path computes it,
    /// for z in `tests` (default: every test example) and l in `points` (default: the whole grid;
    /// the walk starts from zero at its top and goes down to its bottom; entries of other test
    /// examples and grid points are 0). A test example's results do not depend on which others
    /// are solved beside it, and on the warm-started path a walk from the top of the grid is the
    /// same whatever its end, so there each entry is bit for bit the one of the whole search (the
    /// multi-shift path solves `points` from their lowest lambda: equal to its tolerance).
    /// `progress` advances once per block of ``IterativeRidge/width`` test examples solved.
    static func iterativeFoldResults(design: RidgeDesign, trainRuns: [TrainingRun], testIDs: [String],
                                     form: RecurrenceForm, grid: [Double], plan: ValidationPlan,
                                     threads: Int, foldTolerance: Double? = nil,
                                     tests subset: [Int]? = nil, points: ClosedRange<Int>? = nil,
                                     progress: ProgressCounter? = nil) throws -> [Double] {
        let testCount = testIDs.count
        let g = grid.count
        let chosenTests = subset ?? Array(0..<testCount)
        let points = points ?? 0...(g - 1)
        let m = design.activeCount
        let n = form.unknowns(examples: m)
        var results = [Double](repeating: 0, count: testCount * g)
        // 1 where the dense path must decide.
        var dense = [Double](repeating: 0, count: testCount * g)
        if m == 0 {   // nothing to solve: the dense path scores the no-parameter simulator
            try denseFoldResults(design: design, trainRuns: trainRuns, testIDs: testIDs, form: form, grid: grid,
                                 plan: plan, threads: threads, tests: chosenTests, into: &results,
                                 wanted: { _, l in points.contains(l) })
            for _ in stride(from: 0, to: chosenTests.count, by: IterativeRidge.width) { progress?.advance() }
            return results
        }
        let small = n <= exactCrossValidationLimit
        let tolerance = foldTolerance
            ?? (small ? cgTolerance : ExtendedFit.crossValidationTolerance(RidgeFit.defaultIterativeTolerance, unknowns: n))
        let accepted = small && foldTolerance == nil ? acceptedResidual : 10 * tolerance
        let solver = IterativeRidge(design: design, form: form, tolerance: tolerance, acceptance: accepted,
                                    maxIterations: small && foldTolerance == nil ? max(50, min(n, 400)) : nil)
        let w = IterativeRidge.width
        let blocks = (chosenTests.count + w - 1) / w
        // Blocks of test examples that converge alike (every lane runs its own CG, so results do
        // not depend on the grouping; fewer lanes idle while the slowest finishes).
        let order = IterativeRidge.convergenceOrder(tests: chosenTests, runs: trainRuns).map { chosenTests[$0] }
        let walked = Array(grid[points])
        // Every lambda of the grid from one multi-shift run on the loose (large-system) path of
        // the one-half forms; the warm-started path otherwise.
        let shifted = !(small && foldTolerance == nil) && IterativeRidge.solvesShifted(form) && walked.allSatisfy { $0 > 0 }
        try results.withUnsafeMutableBufferPointer { rb in
        try dense.withUnsafeMutableBufferPointer { db in
            let out = RidgeSharedPointer(base: rb.baseAddress!)
            let fallback = RidgeSharedPointer(base: db.baseAddress!)
            try ridgeParallel(blocks, threads: threads) { items in
                let ws = IterativeRidge.Workspace(m: m, rows: design.rowCount, mixedPrecision: solver.mixedPrecision)
                let sw = shifted ? IterativeRidge.ShiftedWorkspace(m: m, lambdas: walked.count) : nil
                let path = IterativeRidge.SolutionPath(m: shifted ? 0 : m)
                // Parameters of one test example, as the rollout reads them (pointers rather than
                // arrays: `score` captures them, and captured arrays would be checked for exclusive
                // access on every element).
                let a = UnsafeMutablePointer<Double>.allocate(capacity: m), b = UnsafeMutablePointer<Double>.allocate(capacity: m)
                defer { a.deallocate(); b.deallocate() }
                for block in items {
                    let tests = Array(order[(block * w)..<min(order.count, (block + 1) * w)])
                    try solver.prepare(tests: tests, runs: trainRuns, testIDs: testIDs, ws)
                    /// Scores the solution in `ws.x` at grid[l], or marks it for the dense path.
                    func score(_ l: Int, _ result: IterativeRidge.BlockResult) {
                        for (k, z) in tests.enumerated() {
                            var finite = true
                            for i in 0..<m {
                                b[i] = ws.x[2 * i][k]
                                a[i] = ws.x[2 * i + 1][k]
                                if !(a[i].isFinite && b[i].isFinite) { finite = false }
                            }
                            guard finite, result.residuals[k] <= accepted else {
                                fallback.base[z * g + l] = 1
                                continue
                            }
                            out.base[z * g + l] = plan.sumOfMSE(z: z, form: form, a: form.usesA ? a : nil, b: form.usesB ? b : nil)
                        }
                    }
                    if let sw {
                        do {
                            try solver.solveShifted(lambdas: walked, ws, sw) { score(points.lowerBound + $0, $1) }
                        } catch SimfluenceError.singularSystem {
                            for z in tests { for l in points { fallback.base[z * g + l] = 1 } }
                        }
                        progress?.advance()
                        continue
                    }
                    // From the largest lambda down, each solve started from the best combination
                    // of the solutions before it on the walk (IterativeRidge.SolutionPath).
                    path.reset()
                    for l in points.reversed() {
                        guard grid[l] > 0 else {
                            for z in tests { fallback.base[z * g + l] = 1 }
                            continue
                        }
                        let result: IterativeRidge.BlockResult
                        do {
                            solver.projectStart(lambda: grid[l], path, ws)
                            result = try solver.solve(lambda: grid[l], ws, warmStart: true)
                            solver.record(lambda: grid[l], ws, on: path)
                        } catch SimfluenceError.singularSystem {
                            for z in tests { fallback.base[z * g + l] = 1 }
                            path.reset()
                            continue
                        }
                        score(l, result)
                    }
                    progress?.advance()
                }
            }
        }}
        // The exact path for whatever CG did not settle (small systems only).
        let pending = chosenTests.filter { z in points.contains { dense[z * g + $0] != 0 } }
        if !pending.isEmpty && !small {
            throw SimfluenceError.invalidArgument(
                "cross-validation: the iterative ridge solver did not reach a relative residual of \(accepted) for \(pending.count) test examples (\(n) unknowns each, too many for the dense solver); use a grid of larger lambdas (--lambda-grid)")
        }
        if !pending.isEmpty {
            let flags = dense
            try denseFoldResults(design: design, trainRuns: trainRuns, testIDs: testIDs, form: form, grid: grid,
                                 plan: plan, threads: threads, tests: pending, into: &results,
                                 wanted: { z, l in flags[z * g + l] != 0 })
        }
        return results
    }
}
