/// Fits the extended methods (``ExtendedMethod``): teacher-forced ridge with pooled means and/or
/// smooth per-step terms, optionally refined by rollout fitting, with clamped simulations.
/// Objectives: Docs/Methods.md.
public enum ExtendedFit {
    /// Per test example (in `tests` order) the clamp range [min(0, smallest observed loss),
    /// multiple x largest observed loss] over every recorded loss of `runs`.
    public static func bounds(_ runs: [TrainingRun], tests: [Int], multiple: Double) -> (lower: [Double], upper: [Double]) {
        var lower: [Double] = [], upper: [Double] = []
        for z in tests {
            var lo = 0.0, hi = -Double.infinity
            for run in runs {
                for r in 0..<run.losses.rows {
                    let v = run.losses[r, z]
                    guard v.isFinite else { continue }
                    lo = min(lo, v)
                    hi = max(hi, v)
                }
            }
            if !hi.isFinite || hi <= 0 { hi = max(abs(lo), 1) }
            lower.append(lo)
            upper.append(multiple * hi)
        }
        return (lower, upper)
    }

    /// The last step any of `runs` records a loss at.
    static func lastStep(_ runs: [TrainingRun]) -> Int {
        max(1, runs.map { $0.firstLossStep + $0.losses.rows - 1 }.max() ?? 1)
    }

    /// Fits `method` on `runs`: chooses lambda (and the carry-over decay, when the configuration
    /// has several) by cross-validation over whole runs (rolled-out, clamped all-steps MSE of the
    /// teacher-forced fit) unless fixed. With a fixed lambda and several carry-over decays, the
    /// decay alone is cross-validated (5 folds; with fewer than 2 runs the first decay is used).
    /// Several decays on large systems are scored on a sample of the test examples
    /// (``decaySampling(_:log:runs:tests:solver:lambda:)``).
    public static func fit(_ method: ExtendedRidgeMethod, log: TrainingLog, runs: [TrainingRun], lambda: LambdaChoice,
                           configuration: ExtendedConfiguration? = nil, every: Int? = nil,
                           tests: [Int]? = nil, threads: Int = Parallel.defaultThreads,
                           solver: RidgeSolverChoice = .automatic) throws -> MethodFit {
        let clock = ContinuousClock()
        let start = clock.now
        let config = configuration ?? method.configuration
        let mus = config.stepKnots > 0 ? [config.smoothing] : [0]
        let carries = config.carryGrid.isEmpty ? [0] : config.carryGrid
        for c in carries where !(c >= 0 && c < 1) {
            throw SimfluenceError.invalidArgument("every carry-over decay must be a number in [0, 1) (got \(c))")
        }
        var selection: LambdaSelection?
        var chosen: (lambda: Double, mu: Double, carry: Double)
        var muScores: [Double] = []
        switch lambda {
        case .fixed(let value):
            chosen = (value, config.stepKnots > 0 ? config.smoothing : 0, carries[0])
            if carries.count > 1 && runs.count >= 2 {
                let scored = try RidgeFit.checkedArguments(lambda: value, tests: tests, log: log)
                let sampling = try decaySampling(config, log: log, runs: runs, tests: scored, solver: solver, lambda: value)
                chosen = try select(config: config, log: log, runs: runs, lambdas: [value], mus: mus, carries: carries,
                                    folds: 5, every: every, threads: threads, solver: solver,
                                    foldTolerance: sampling?.tolerance, scored: sampling?.tests ?? scored).chosen
            }
        case .auto(var grid, let folds):
            // linear-rollout repeats linear-time's teacher-forced search, and linear-carry searches
            // several decays: every other grid point (of the sorted grid) keeps their fit time down.
            if (config.rollout || carries.count > 1) && grid.count > 2 {
                grid = Array(Set(grid)).sorted().enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            }
            let sampling = carries.count > 1
                ? try decaySampling(config, log: log, runs: runs, tests: Array(log.testIDs.indices), solver: solver,
                                    lambda: grid.max() ?? 0)
                : nil
            let result = try select(config: config, log: log, runs: runs, lambdas: grid, mus: mus, carries: carries,
                                    folds: folds, every: every, threads: threads, solver: solver,
                                    foldTolerance: sampling?.tolerance, scored: sampling?.tests)
            selection = result.selection
            chosen = result.chosen
            muScores = result.scores
        }
        var simulator = try fitFixed(config: config, method: MethodName(method), log: log, runs: runs,
                                     lambda: chosen.lambda, smoothing: chosen.mu, carry: chosen.carry, every: every,
                                     tests: tests, threads: threads, solver: solver)
        simulator.provenance.record(selection)
        if selection != nil {
            if config.stepKnots > 0 {
                simulator.provenance.crossValidation?.smoothingGrid = mus
                simulator.provenance.crossValidation?.scoresByPoint = muScores
            }
            if carries.count > 1 { simulator.provenance.crossValidation?.carryGrid = carries }
        }
        let seconds = (clock.now - start).inSeconds
        return MethodFit(simulator: simulator, selection: selection, seconds: seconds)
    }

    /// How several carry-over decays are cross-validated on large systems (more than
    /// ``LambdaSearch/exactCrossValidationLimit`` unknowns per test example): on a sample of
    /// `tests` (``ScoringSample``), folds solved to the fit's own tolerance at `lambda` (the
    /// looser ``crossValidationTolerance(_:unknowns:)`` distorts the high decays' scores, which
    /// carry-over makes worse conditioned). Nil on small systems: every test example, the default
    /// fold tolerances.
    private static func decaySampling(_ config: ExtendedConfiguration, log: TrainingLog, runs: [TrainingRun], tests: [Int],
                                      solver: RidgeSolverChoice, lambda: Double) throws -> (tolerance: Double?, tests: [Int])? {
        let design = try RidgeDesign(log: log, runs: runs)
        let unknowns = ExtendedLayout(m: design.activeCount, pooled: config.pooled, knots: config.stepKnots).n
        guard unknowns > LambdaSearch.exactCrossValidationLimit else { return nil }
        return (try RidgeFit.iterativeTolerance(solver, unknowns: unknowns, lambda: lambda), ScoringSample.tests(tests, runs: runs))
    }

    /// Fits at a fixed lambda, smoothing strength and carry-over decay on all `runs`
    /// (`config.carryGrid` is not used): per test example, solve the teacher-forced normal
    /// equations, refine by rollout fitting when the configuration asks, and write the
    /// per-example effects and step terms (``FixedFitOutputs``).
    ///
    /// `solver` as for ``RidgeFit``: ``RidgeSolverChoice/automatic`` factors the normal equations
    /// densely up to ``RidgeFit/denseUnknownLimit`` unknowns per test example (2 x (active examples
    /// + pooled means + knots)) and otherwise runs conjugate gradients on the structured design
    /// (``ExtendedIterative``) to the same tolerances as Simfluence-Linear's.
    public static func fitFixed(config: ExtendedConfiguration, method: MethodName, log: TrainingLog, runs: [TrainingRun],
                                lambda: Double, smoothing: Double, carry: Double = 0, every: Int? = nil, tests: [Int]? = nil,
                                threads: Int = Parallel.defaultThreads,
                                solver choice: RidgeSolverChoice = .automatic) throws -> FittedSimulator {
        let tests = try RidgeFit.checkedArguments(lambda: lambda, tests: tests, log: log)
        guard smoothing.isFinite && smoothing >= 0 else {
            throw SimfluenceError.invalidArgument("the smoothing strength must be a finite number >= 0 (got \(smoothing))")
        }
        guard carry >= 0 && carry < 1 else {
            throw SimfluenceError.invalidArgument("the carry-over decay must be a number in [0, 1) (got \(carry))")
        }
        let design = try RidgeDesign(log: log, runs: runs)
        let basis = StepBasis(knots: config.stepKnots, lastStep: lastStep(runs))
        let layout = ExtendedLayout(m: design.activeCount, pooled: config.pooled, knots: basis.knots)
        let bounds = config.clampMultiple.map { ExtendedFit.bounds(runs, tests: tests, multiple: $0) }
        let outputs = FixedFitOutputs(tests: tests.count, trainCount: design.trainCount,
                                      stepColumns: basis.knots > 0 ? basis.lastStep : 0)
        if let tolerance = try RidgeFit.iterativeTolerance(choice, unknowns: layout.n, lambda: lambda) {
            let structure = ExtendedStructure(design: design, runs: runs, pooled: config.pooled, basis: basis, carry: carry)
            let cg = ExtendedIterative(structure: structure, smoothing: smoothing, tolerance: tolerance)
            var record = IterativeSolveRecord(tolerance: tolerance, maxIterations: 0, maxRelativeResidual: 0)
            if !tests.isEmpty && design.trainCount > 0 && design.activeCount > 0 {
                let problem = FixedFitProblem(config: config, design: design, basis: basis, layout: layout, solver: nil, runs: runs,
                                              testIDs: log.testIDs, lambda: lambda, carry: carry, bounds: bounds, every: every)
                record = try fitIterative(cg, problem: problem, tests: tests, method: method, into: outputs, threads: threads)
            }
            var sim = packageFixedFit(outputs, config: config, method: method, design: design, basis: basis,
                                      unknowns: layout.n, log: log, runs: runs, tests: tests, lambda: lambda,
                                      smoothing: smoothing, carry: carry, bounds: bounds, every: every,
                                      solverName: "extended ridge normal equations, " + (cg.preconditioned ? "block-Jacobi" : "shared-block")
                                        + " preconditioned conjugate gradients on the structured design")
            sim.provenance.iterative = record
            return sim
        }
        let solver = ExtendedSolver(design, runs: runs, pooled: config.pooled, basis: basis, points: [(lambda, smoothing)],
                                    carry: carry)
        if !tests.isEmpty && design.trainCount > 0 && design.activeCount > 0 {
            if solver.sharedFailed[0] {
                throw SimfluenceError.singularSystem(testID: log.testIDs[tests[0]], lambda: lambda)
            }
            let problem = FixedFitProblem(config: config, design: design, basis: basis, layout: layout, solver: solver, runs: runs,
                                          testIDs: log.testIDs, lambda: lambda, carry: carry, bounds: bounds, every: every)
            try ridgeParallel(tests.count, threads: threads) { items in
                let scratch = problem.makeScratch()
                for row in items {
                    try problem.solve(row: row, z: tests[row], scratch, into: outputs)
                }
            }
        }
        return packageFixedFit(outputs, config: config, method: method, design: design, basis: basis,
                               unknowns: solver.layout.n, log: log, runs: runs,
                               tests: tests, lambda: lambda, smoothing: smoothing, carry: carry, bounds: bounds, every: every,
                               solverName: "extended ridge normal equations, dense Cholesky")
    }

    /// The conjugate-gradient fixed fit: blocks of 8 test examples (in ``IterativeRidge/convergenceOrder(tests:runs:)``)
    /// from a shared counter, each lane's solution refined by rollout fitting when asked and
    /// written to `outputs`; progress per block. Returns the largest iteration count and residual.
    private static func fitIterative(_ cg: ExtendedIterative, problem: FixedFitProblem, tests: [Int], method: MethodName,
                                     into outputs: FixedFitOutputs, threads: Int) throws -> IterativeSolveRecord {
        let w = ExtendedIterative.width
        let blocks = (tests.count + w - 1) / w
        let order = IterativeRidge.convergenceOrder(tests: tests, runs: problem.runs)
        let stats = UnsafeMutableBufferPointer<Double>.allocate(capacity: 2 * blocks)
        defer { stats.deallocate() }
        let sOut = RidgeSharedPointer(base: stats.baseAddress!)
        let progress = ProgressCounter(task: "fitting \(method) (conjugate gradients, \(tests.count) test examples)",
                                       unit: "blocks of \(w)", total: blocks)
        try ridgeParallel(blocks, threads: threads) { items in
            let ws = ExtendedIterative.Workspace(cg)
            let scratch = problem.makeScratch()
            for block in items {
                let rows = Array(order[(block * w)..<min(tests.count, (block + 1) * w)])
                try cg.prepare(tests: rows.map { tests[$0] }, runs: problem.runs, testIDs: problem.testIDs, ws)
                let result = try cg.solve(lambda: problem.lambda, ws)
                for (k, row) in rows.enumerated() {
                    try problem.finish(cg.theta(lane: k, ws), row: row, z: tests[row], scratch, into: outputs,
                                       penalty: { ws.penalty.scalar(k, lambda: problem.lambda) },
                                       scale: { cg.diagonal(lane: k, lambda: problem.lambda, ws) })
                }
                sOut.base[2 * block] = Double(result.iterations.max() ?? 0)
                sOut.base[2 * block + 1] = result.residuals.max() ?? 0
                progress.advance()
            }
        }
        var iterations = 0.0, residual = 0.0
        for k in 0..<blocks {
            iterations = max(iterations, stats[2 * k])
            residual = max(residual, stats[2 * k + 1])
        }
        if residual > cg.tolerance * 10 {
            throw SimfluenceError.invalidArgument(
                "the iterative ridge solver stopped at relative residual \(residual) (asked for \(cg.tolerance)) after \(Int(iterations)) iterations; use a larger lambda or the dense solver")
        }
        return IterativeSolveRecord(tolerance: cg.tolerance, maxIterations: Int(iterations), maxRelativeResidual: residual)
    }

    /// The simulator of a fixed fit: parameters from `outputs`, the fit's provenance.
    private static func packageFixedFit(_ outputs: FixedFitOutputs, config: ExtendedConfiguration, method: MethodName,
                                        design: RidgeDesign, basis: StepBasis, unknowns: Int, log: TrainingLog, runs: [TrainingRun],
                                        tests: [Int], lambda: Double, smoothing: Double, carry: Double,
                                        bounds: (lower: [Double], upper: [Double])?, every: Int?, solverName: String) -> FittedSimulator {
        let trainCount = design.trainCount, knotsOut = outputs.stepColumns
        var seen = [Bool](repeating: false, count: trainCount)
        for g in design.active { seen[g] = true }
        var provenance = FitProvenance(
            smoothing: smoothing, clampMultiple: config.clampMultiple,
            solver: solverName + (config.rollout ? ", then L-BFGS on rollout error" : ""),
            observedEvery: (every ?? 1) > 1 ? every : nil,
            details: [
                "rows": String(design.rowCount),
                "active_examples": String(design.activeCount),
                "unknowns_per_test": String(unknowns),
                "pooled": String(config.pooled),
                "step_knots": String(basis.knots),
            ])
        if carry != 0 || config.carryGrid.count > 1 { provenance.carry = carry }
        if config.rollout {
            let iterations = outputs.iterations
            provenance.details["rollout_iterations_max"] = String(config.rolloutIterations)
            provenance.details["rollout_iterations_mean"] = String(Double(iterations.reduce(0, +)) / Double(max(1, iterations.count)))
        }
        var sim = FittedSimulator(method: method, form: .linear, lambda: lambda,
                                  trainIDs: log.trainIDs, testIDs: tests.map { log.testIDs[$0] },
                                  a: Matrix(rows: tests.count, columns: trainCount, storage: outputs.takeA()),
                                  b: Matrix(rows: tests.count, columns: trainCount, storage: outputs.takeB()),
                                  seen: seen, fittedOn: runs.map(\.name),
                                  startingStep: runs.map(\.firstLossStep).min() ?? 0,
                                  startingLosses: meanStartingLosses(runs, tests: tests), provenance: provenance)
        if knotsOut > 0 {
            sim.stepAlpha = Matrix(rows: tests.count, columns: knotsOut, storage: outputs.u)
            sim.stepBeta = Matrix(rows: tests.count, columns: knotsOut, storage: outputs.v)
        }
        if let bounds {
            sim.lossLower = bounds.lower
            sim.lossUpper = bounds.upper
        }
        sim.carry = carry
        return sim
    }

    /// Cross-validates every (carry-over decay, lambda, smoothing) triple over whole-run folds (as
    /// ``LambdaSearch``: fold k holds the runs at positions i % K == k) by the clamped rollout
    /// all-steps MSE of the teacher-forced fit. `scores` is carry-major, then lambda, then
    /// smoothing; the selection's per-lambda scores are the best over the other two.
    ///
    /// Folds whose normal equations exceed ``RidgeFit/denseUnknownLimit`` unknowns (with `solver`
    /// automatic or CG, a positive grid and one smoothing strength) are solved by conjugate
    /// gradients (``iterativeFoldScores(_:lambdas:tests:trainRuns:testIDs:local:bounds:rollout:threads:)``).
    /// `scored`: the test examples whose trajectories are scored (default: every one).
    static func select(config: ExtendedConfiguration, log: TrainingLog, runs: [TrainingRun], lambdas: [Double], mus: [Double],
                       carries: [Double] = [0], folds: Int, every: Int?, threads: Int,
                       solver choice: RidgeSolverChoice = .automatic, foldTolerance: Double? = nil,
                       scored: [Int]? = nil) throws
        -> (selection: LambdaSelection, chosen: (lambda: Double, mu: Double, carry: Double), scores: [Double]) {
        let split = try CrossValidationFolds(runs: runs, folds: folds, grid: lambdas)
        let grid = split.grid
        let points = grid.flatMap { l in mus.map { (lambda: l, mu: $0) } }
        let perCarry = points.count
        let k = split.count
        let testCount = log.testIDs.count, testIDs = log.testIDs
        let allTests = Array(0..<testCount), scoredTests = scored ?? allTests
        var sums = [Double](repeating: 0, count: carries.count * perCarry)
        var singular = [Bool](repeating: false, count: carries.count * perCarry)
        var trajectories = 0
        let task = "cross-validating \(grid.count) lambdas x \(carries.count) carry-over decays x \(mus.count) smoothings"
        // Progress in units of work: conjugate gradients take about 1 / (1 - rho) times decay 0's
        // iterations (medium benchmark log, per block: 115, 358, 537, 777 and 1,176 at 0, 0.5, 0.7,
        // 0.8 and 0.9), so counting decays alike would make the estimate of what is left grow
        // with every decay.
        let work = carries.map { max(1, Int((1 / (1 - min($0, 0.99))).rounded())) }
        let perFold = work.reduce(0, +)
        for fold in 0..<k {
            FitProgress.report(task, "fold \(fold + 1) of \(k)", done: fold * perFold, total: k * perFold)
            let trainRuns = split.training(fold)
            let validation = split.validation(fold)
            if validation.isEmpty || testCount == 0 { continue }
            let design = try RidgeDesign(log: log, runs: trainRuns)
            if design.activeCount == 0 { continue }
            trajectories += validation.count * scoredTests.count
            let basis = StepBasis(knots: config.stepKnots, lastStep: lastStep(trainRuns))
            let local = validation.map { LocalRun(run: $0, local: design.local, basis: basis, every: every) }
            let bounds = config.clampMultiple.map { ExtendedFit.bounds(trainRuns, tests: allTests, multiple: $0) }
            for (ci, carry) in carries.enumerated() {
            if ci > 0 {
                FitProgress.report(task, "fold \(fold + 1) of \(k), carry-over \(carry)",
                                   done: fold * perFold + work[..<ci].reduce(0, +), total: k * perFold)
            }
            let g = points.count
            let foldLayout = ExtendedLayout(m: design.activeCount, pooled: config.pooled, knots: basis.knots)
            let rollout = ExtendedRollout(layout: foldLayout, basisKnots: basis.knots, carry: carry)
            var results = [Double](repeating: 0, count: testCount * g)
            if mus.count == 1, grid.allSatisfy({ $0 > 0 }),
               let tolerance = try RidgeFit.iterativeTolerance(choice, unknowns: foldLayout.n, lambda: grid[0]) {
                let structure = ExtendedStructure(design: design, runs: trainRuns, pooled: config.pooled, basis: basis, carry: carry)
                // Deflated only for cold solves (one lambda: the carry-over decay search at a
                // fixed lambda): on a warm-started walk down a grid the neighbouring solution
                // already holds the deflated directions, and deflation's per-solve setup and
                // per-iteration projection cost more than they save (medium, linear-pooled
                // `--lambda auto`: 11.0 -> 14.4 s of CPU with it).
                let cg = ExtendedIterative(structure: structure, smoothing: mus[0],
                                           tolerance: foldTolerance ?? crossValidationTolerance(tolerance, unknowns: foldLayout.n),
                                           deflated: grid.count == 1)
                results = try iterativeFoldScores(cg, lambdas: grid, tests: scoredTests, trainRuns: trainRuns, testIDs: testIDs,
                                                  local: local, bounds: bounds, rollout: rollout, threads: threads)
            } else {
            let solver = ExtendedSolver(design, runs: trainRuns, pooled: config.pooled, basis: basis, points: points, carry: carry)
            try results.withUnsafeMutableBufferPointer { rb in
                let out = RidgeSharedPointer(base: rb.baseAddress!)
                try ridgeParallel(scoredTests.count, threads: threads) { items in
                    let ws = ExtendedSolver.Workspace(solver: solver)
                    for item in items {
                        let z = scoredTests[item]
                        try solver.assemble(z: z, runs: trainRuns, testIDs: testIDs, ws)
                        let lo = bounds?.lower[z] ?? -.infinity, hi = bounds?.upper[z] ?? .infinity
                        for p in 0..<g {
                            guard solver.solve(p, ws) else { out.base[z * g + p] = .nan; continue }
                            var total = 0.0
                            for r in local { total += rollout.mse(r, z: z, theta: ws.theta, lo: lo, hi: hi) }
                            out.base[z * g + p] = total
                        }
                    }
                }
            }
            }
            for p in 0..<g {
                for z in scoredTests {
                    let v = results[z * g + p]
                    if v.isNaN { singular[ci * g + p] = true } else { sums[ci * g + p] += v }
                }
            }
            }
        }
        FitProgress.report(task, "done", done: k * perFold, total: k * perFold)
        let (scores, best) = try CrossValidationScores.finish(sums: sums, singular: singular, trajectories: trajectories, grid: grid)
        // Per lambda: the best score over carry-over decays and smoothing strengths.
        let perLambda = grid.indices.map { li in
            carries.indices.flatMap { ci in (0..<mus.count).map { scores[ci * perCarry + li * mus.count + $0] } }.min() ?? .infinity
        }
        let point = points[best % perCarry]
        let selection = LambdaSelection(grid: grid, scores: perLambda, chosen: point.lambda, folds: k)
        return (selection, (point.lambda, point.mu, carries[best / perCarry]), scores)
    }
}

extension ExtendedFit {
    /// The CG tolerance of cross-validation folds: 1e-10 up to ``LambdaSearch/exactCrossValidationLimit``
    /// unknowns (scores then match the dense path to ~1e-8, far below the differences between
    /// grid points), and 1e-5 on larger systems, whose fixed fit asks 1e-12 or 1e-7: the cheaper
    /// criterion of `--lambda auto` at scale (fewer iterations per fold and lambda). A fold's
    /// score is an all-steps MSE of rollouts, continuous in the parameters; forced on small
    /// planted logs, the loose solves move linear's scores by up to 0.2% and the extended ones'
    /// by up to ~10% (near-noiseless logs), and the chosen lambda (and carry-over) equalled exact
    /// K-fold's in every test (`CrossValidationToleranceTests`); on the medium benchmark
    /// workload linear chose 0.01 both ways.
    static func crossValidationTolerance(_ fitTolerance: Double, unknowns: Int) -> Double {
        unknowns <= LambdaSearch.exactCrossValidationLimit ? LambdaSearch.cgTolerance : max(fitTolerance, 1e-5)
    }

    /// One fold's scores by conjugate gradients: results[z * lambdas.count + l] = the sum over
    /// the validation runs `local` of test example z's clamped rollout all-steps MSE at
    /// lambdas[l] (ascending), for z in `tests` (0 for the log's other test examples). Per block of 8 test examples the lambda-free setup (losses, X^T y,
    /// penalty weights, the shared block's factor) is done once and the grid is walked from the
    /// largest lambda down, each solve warm-started at the previous solution.
    static func iterativeFoldScores(_ cg: ExtendedIterative, lambdas: [Double], tests: [Int], trainRuns: [TrainingRun],
                                    testIDs: [String], local: [LocalRun], bounds: (lower: [Double], upper: [Double])?,
                                    rollout: ExtendedRollout, threads: Int) throws -> [Double] {
        let g = lambdas.count, w = ExtendedIterative.width
        let blocks = (tests.count + w - 1) / w
        var results = [Double](repeating: 0, count: testIDs.count * g)
        let order = IterativeRidge.convergenceOrder(tests: tests, runs: trainRuns)
        try results.withUnsafeMutableBufferPointer { rb in
            let out = RidgeSharedPointer(base: rb.baseAddress!)
            try ridgeParallel(blocks, threads: threads) { items in
                let ws = ExtendedIterative.Workspace(cg)
                for block in items {
                    let zs = Array(order[(block * w)..<min(tests.count, (block + 1) * w)].map { tests[$0] })
                    try cg.prepare(tests: zs, runs: trainRuns, testIDs: testIDs, ws)
                    var warm = false
                    for l in (0..<g).reversed() {
                        let result = try cg.solve(lambda: lambdas[l], ws, warmStart: warm)
                        warm = true
                        if (result.residuals.max() ?? 0) > cg.tolerance * 10 {
                            throw SimfluenceError.invalidArgument(
                                "cross-validation: the iterative ridge solver stopped at relative residual \(result.residuals.max() ?? 0) (asked for \(cg.tolerance)) at lambda \(lambdas[l]); use a larger lambda grid")
                        }
                        for (k, z) in zs.enumerated() {
                            let theta = cg.theta(lane: k, ws)
                            guard theta.allSatisfy({ $0.isFinite }) else { out.base[z * g + l] = .nan; continue }
                            let lo = bounds?.lower[z] ?? -.infinity, hi = bounds?.upper[z] ?? .infinity
                            var total = 0.0
                            theta.withUnsafeBufferPointer { tb in
                                for r in local { total += rollout.mse(r, z: z, theta: tb.baseAddress!, lo: lo, hi: hi) }
                            }
                            out.base[z * g + l] = total
                        }
                    }
                }
            }
        }
        return results
    }
}

/// The parameters of a fixed extended fit, written row by row by parallel workers (each row
/// by one worker): A and B (tests x train), the step terms u and v (tests x step columns) and
/// each test example's rollout-fitting iteration count.
final class FixedFitOutputs: @unchecked Sendable {
    let tests: Int, trainCount: Int, stepColumns: Int
    private let aBase: UnsafeMutablePointer<Double>, bBase: UnsafeMutablePointer<Double>
    private let uBase: UnsafeMutablePointer<Double>, vBase: UnsafeMutablePointer<Double>
    private let iterationsBase: UnsafeMutablePointer<Int>

    init(tests: Int, trainCount: Int, stepColumns: Int) {
        self.tests = tests
        self.trainCount = trainCount
        self.stepColumns = stepColumns
        func zeros<T: Numeric>(_ count: Int, _: T.Type) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, count))
            p.initialize(repeating: 0, count: max(1, count))
            return p
        }
        aBase = zeros(tests * trainCount, Double.self)
        bBase = zeros(tests * trainCount, Double.self)
        uBase = zeros(tests * stepColumns, Double.self)
        vBase = zeros(tests * stepColumns, Double.self)
        iterationsBase = zeros(tests, Int.self)
    }

    /// Whether A and B were handed over (``takeA()``, ``takeB()``) and their storage freed.
    private var aTaken = false, bTaken = false

    deinit {
        if !aTaken { aBase.deallocate() }
        if !bTaken { bBase.deallocate() }
        uBase.deallocate(); vBase.deallocate(); iterationsBase.deallocate()
    }

    /// A as an array, its storage freed at once: packaging a large fit then holds one extra
    /// copy of one matrix at a time (0.8 GB on the large workload), not of both. Once only.
    func takeA() -> [Double] {
        precondition(!aTaken)
        defer { aBase.deallocate(); aTaken = true }
        return Array(UnsafeBufferPointer(start: aBase, count: tests * trainCount))
    }

    /// B as an array, its storage freed at once (see ``takeA()``). Once only.
    func takeB() -> [Double] {
        precondition(!bTaken)
        defer { bBase.deallocate(); bTaken = true }
        return Array(UnsafeBufferPointer(start: bBase, count: tests * trainCount))
    }

    /// Row `row` of A, B, u and v.
    func aRow(_ row: Int) -> UnsafeMutablePointer<Double> { aBase + row * trainCount }
    func bRow(_ row: Int) -> UnsafeMutablePointer<Double> { bBase + row * trainCount }
    func uRow(_ row: Int) -> UnsafeMutablePointer<Double> { uBase + row * stepColumns }
    func vRow(_ row: Int) -> UnsafeMutablePointer<Double> { vBase + row * stepColumns }
    func setIterations(_ row: Int, _ n: Int) { iterationsBase[row] = n }

    var u: [Double] { Array(UnsafeBufferPointer(start: uBase, count: tests * stepColumns)) }
    var v: [Double] { Array(UnsafeBufferPointer(start: vBase, count: tests * stepColumns)) }
    var iterations: [Int] { Array(UnsafeBufferPointer(start: iterationsBase, count: tests)) }
}

/// Everything one test example's fixed extended fit needs, shared read-only by the workers.
struct FixedFitProblem: Sendable {
    let config: ExtendedConfiguration
    let design: RidgeDesign
    let basis: StepBasis
    let layout: ExtendedLayout
    /// D2^T D2 of the knot values.
    let gram: [Double]
    /// The dense solver (nil on the conjugate-gradient path, which solves outside).
    let solver: ExtendedSolver?
    let runs: [TrainingRun]
    let testIDs: [String]
    let lambda: Double
    let carry: Double
    let bounds: (lower: [Double], upper: [Double])?
    /// Runs in local indexing for rollout fitting (empty without it).
    let localRuns: [LocalRun]
    /// The diagonal of the shared block (rollout fitting's scaling).
    let sharedDiagonal: [Double]

    init(config: ExtendedConfiguration, design: RidgeDesign, basis: StepBasis, layout: ExtendedLayout, solver: ExtendedSolver?,
         runs: [TrainingRun], testIDs: [String], lambda: Double, carry: Double, bounds: (lower: [Double], upper: [Double])?,
         every: Int?) {
        self.config = config
        self.design = design
        self.basis = basis
        self.layout = layout
        self.gram = StepBasis.secondDifferenceGram(basis.knots)
        self.solver = solver
        self.runs = runs
        self.testIDs = testIDs
        self.lambda = lambda
        self.carry = carry
        self.bounds = bounds
        self.localRuns = config.rollout ? runs.filter { $0.losses.rows >= 2 }.map {
            LocalRun(run: $0, local: design.local, basis: basis, every: every)
        } : []
        self.sharedDiagonal = solver?.sharedDiagonal(0) ?? []
    }

    /// A worker's scratch space: the solver's workspace and the rollout buffers.
    final class Scratch {
        let workspace: ExtendedSolver.Workspace?
        let states: UnsafeMutablePointer<Double>, alphas: UnsafeMutablePointer<Double>
        let flags: UnsafeMutablePointer<Bool>

        init(solver: ExtendedSolver?, maxSteps: Int) {
            workspace = solver.map { ExtendedSolver.Workspace(solver: $0) }
            states = .allocate(capacity: max(1, maxSteps))
            alphas = .allocate(capacity: max(1, maxSteps))
            flags = .allocate(capacity: max(1, maxSteps))
        }

        deinit { states.deallocate(); alphas.deallocate(); flags.deallocate() }
    }

    func makeScratch() -> Scratch {
        Scratch(solver: solver, maxSteps: (localRuns.map(\.steps).max() ?? 0) + 1)
    }

    /// Fits test example `z` (output row `row`): the teacher-forced solve, the optional rollout
    /// refinement, then the parameters written to `outputs`.
    func solve(row: Int, z: Int, _ scratch: Scratch, into outputs: FixedFitOutputs) throws {
        guard let solver, let ws = scratch.workspace else { preconditionFailure("the dense path needs its solver") }
        try solver.assemble(z: z, runs: runs, testIDs: testIDs, ws)
        guard solver.solve(0, ws) else {
            throw SimfluenceError.singularSystem(testID: testIDs[z], lambda: lambda)
        }
        let theta = Array(UnsafeBufferPointer(start: ws.theta, count: solver.layout.n))
        try finish(theta, row: row, z: z, scratch, into: outputs, penalty: { solver.penalty(0, ws) },
                   scale: { solver.fullDiagonal(sharedDiag: sharedDiagonal, ws, penalty: solver.penalty(0, ws)) })
    }

    /// From the teacher-forced solution `theta` (``ExtendedLayout`` order): the optional rollout
    /// refinement (with the fit's `penalty` and the normal matrix's diagonal `scale`, asked for
    /// only then), then the parameters written to `outputs`.
    func finish(_ theta: [Double], row: Int, z: Int, _ scratch: Scratch, into outputs: FixedFitOutputs,
                penalty: () -> ExtendedPenalty, scale: () -> [Double]) throws {
        var theta = theta
        if config.rollout {
            outputs.setIterations(row, refineByRollout(&theta, row: row, z: z, scratch, penalty: penalty(), scale: scale()))
        }
        write(theta, row: row, into: outputs)
    }

    /// Rollout fitting: L-BFGS on the rolled-out squared error plus the penalty, from the
    /// teacher-forced `theta`; only the shared terms move when the configuration says so.
    /// Returns the iteration count.
    private func refineByRollout(_ theta: inout [Double], row: Int, z: Int, _ scratch: Scratch,
                                 penalty pen: ExtendedPenalty, scale: [Double]) -> Int {
        let layout = self.layout
        var scale = scale
        for i in 0..<scale.count where !(scale[i] > 0) { scale[i] = 1 }
        let rollout = ExtendedRollout(layout: layout, basisKnots: basis.knots, carry: carry)
        let lo = bounds?.lower[row] ?? -.infinity, hi = bounds?.upper[row] ?? .infinity
        let gram = self.gram
        let sharedOnly = config.rolloutSharedOnly
        let localRuns = self.localRuns
        let losses = rollout.losses(localRuns, z: z)
        if !sharedOnly {
            let result = LBFGS.minimise(&theta, scale: scale, iterations: config.rolloutIterations) { x, g in
                let data = rollout.sumOfSquares(localRuns, z: z, theta: x, lo: lo, hi: hi, grad: g,
                                                states: scratch.states, alphas: scratch.alphas, clampedFlags: scratch.flags,
                                                losses: losses)
                return data + pen.value(x, layout: layout, gram: gram, grad: g)
            }
            return result.iterations
        }
        // The shared terms alone: L-BFGS over those 2 x (pooled + knots) unknowns, A_dev and B_dev
        // held at theta's values, whose batch sums are computed once. (The same minimisation as
        // over the whole vector with the examples' gradient zeroed, which leaves them in place,
        // without carrying thousands of constant coordinates through every step.)
        let shared = (0..<layout.n).filter { i in !(i < layout.m || (i >= layout.aDev && i < layout.aDev + layout.m)) }
        if carry == 0 {
            // Without carry-over: the same minimisation, bit for bit, over what moves only
            // (SharedTermRollout), its gradient computed only at accepted points.
            let problem = SharedTermRollout(runs: localRuns, losses: losses, theta: theta, full: layout, basis: basis,
                                            penalty: pen, gram: gram, lo: lo, hi: hi)
            var sub = shared.map { theta[$0] }
            let result = LBFGS.minimise(&sub, scale: shared.map { scale[$0] }, iterations: config.rolloutIterations,
                                        value: { x, _ in problem.value(x) }, gradient: { x, g in problem.gradient(x, into: g) })
            for (k, i) in shared.enumerated() { theta[i] = sub[k] }
            return result.iterations
        }
        // With carry-over: the general rollout, the examples' sums fixed, on the whole vector.
        let sums = theta.withUnsafeBufferPointer { rollout.exampleSums(localRuns, theta: $0.baseAddress!) }
        var sub = shared.map { theta[$0] }
        var full = theta, fullGrad = [Double](repeating: 0, count: layout.n)
        let result = LBFGS.minimise(&sub, scale: shared.map { scale[$0] }, iterations: config.rolloutIterations) { x, g in
            for (k, i) in shared.enumerated() { full[i] = x[k] }
            // Only the shared entries are read back (the examples' gradient is never used here).
            for i in shared { fullGrad[i] = 0 }
            let total = full.withUnsafeBufferPointer { fb in
                fullGrad.withUnsafeMutableBufferPointer { gb in
                    rollout.sumOfSquares(localRuns, z: z, theta: fb.baseAddress!, lo: lo, hi: hi, grad: gb.baseAddress!,
                                         states: scratch.states, alphas: scratch.alphas, clampedFlags: scratch.flags,
                                         exampleSums: sums, losses: losses)
                        + pen.value(fb.baseAddress!, layout: layout, gram: gram, grad: gb.baseAddress!)
                }
            }
            for (k, i) in shared.enumerated() { g[k] = fullGrad[i] }
            return total
        }
        for (k, i) in shared.enumerated() { theta[i] = sub[k] }
        return result.iterations
    }

    /// Writes A_i = a + a_i and B_i = b + b_i for the active examples and the step terms at
    /// every step 1...lastStep.
    private func write(_ theta: [Double], row: Int, into outputs: FixedFitOutputs) {
        let layout = self.layout
        let aRow = outputs.aRow(row), bRow = outputs.bRow(row)
        let aPool = layout.pooled ? theta[layout.aPool] : 0
        let bPool = layout.pooled ? theta[layout.bPool] : 0
        for (l, g) in design.active.enumerated() {
            aRow[g] = aPool + theta[layout.aDev + l]
            bRow[g] = bPool + theta[l]
        }
        let knotsOut = outputs.stepColumns
        if knotsOut > 0 {
            let uRow = outputs.uRow(row), vRow = outputs.vRow(row)
            theta.withUnsafeBufferPointer { tb in
                for t in 1...knotsOut {
                    uRow[t - 1] = basis.value(tb.baseAddress! + layout.uStart, at: t)
                    vRow[t - 1] = basis.value(tb.baseAddress! + layout.vStart, at: t)
                }
            }
        }
    }
}

extension ExtendedSolver {
    /// Diagonal of the shared block of penalty point `pt` before factoring (data + penalty).
    func sharedDiagonal(_ pt: Int) -> [Double] {
        // Recompute from the design: sum over rows of squared shared entries.
        let l = layout
        var d = [Double](repeating: 0, count: l.s)
        var idx: [Int] = [], val: [Double] = []
        for row in 0..<design.rowCount {
            sharedEntries(row: row, idx: &idx, val: &val)
            for e in 0..<idx.count { d[idx[e]] += val[e] * val[e] }
        }
        return d
    }

    /// Diagonal of the whole normal matrix (data + penalty) of the test example in `ws`.
    func fullDiagonal(sharedDiag: [Double], _ ws: Workspace, penalty pen: ExtendedPenalty) -> [Double] {
        let l = layout, s = l.s
        let shift = PackedCholesky.rowStart(s)
        var d = sharedDiag + [Double](repeating: 0, count: s)
        for i in s..<l.n { d[i] = ws.base[PackedCholesky.rowStart(i) - shift + i] }
        for i in 0..<l.m { d[i] += pen.lambda; d[l.aDev + i] += pen.lambda }
        if l.pooled { d[l.bPool] += pen.bTiny; d[l.aPool] += pen.aTiny }
        for k in 0..<l.knots {
            d[l.vStart + k] += pen.vSmooth * gram[k * l.knots + k] + pen.vTiny
            d[l.uStart + k] += pen.uSmooth * gram[k * l.knots + k] + pen.uTiny
        }
        return d
    }
}
