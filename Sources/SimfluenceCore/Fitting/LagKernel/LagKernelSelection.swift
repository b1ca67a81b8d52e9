extension LagKernelFit {
    /// Fits at a fixed `lambda` on `runs` for the test examples `tests` (indices into the log's
    /// test ids), the kernel started from `start` (default ``LagKernel/immediate(starts:)`` on the
    /// default bins) and held there when `fixedKernel`.
    /// With a `prior` (components, each tests x train in `tests` order: gradient scores) B is
    /// shrunk towards a fitted combination of them per test example instead of towards 0. With a
    /// saturation exponent in `start`, w comes from a fit without psi at `saturationLambda`
    /// (default `lambda`; the model's provenance records it as `saturation_lambda`). With a
    /// `kernelLambda` other than `lambda` (and the kernel not held), the kernel is learnt by the
    /// alternating fit at `kernelLambda` and then held while B and the step terms are fitted at
    /// `lambda` (the provenance records it as `kernel_lambda`).
    public static func fit(method: MethodName, log: TrainingLog, runs: [TrainingRun], tests: [Int], lambda: Double,
                           start: LagKernel? = nil, fixedKernel: Bool = false, kernelLambda: Double? = nil,
                           prior: [Matrix]? = nil, saturationLambda: Double? = nil, solver: RidgeSolverChoice = .automatic,
                           threads: Int = Parallel.defaultThreads) throws -> FittedSimulator {
        _ = try RidgeFit.checkedArguments(lambda: lambda, tests: tests, log: log)
        if let kernelLambda { _ = try RidgeFit.checkedArguments(lambda: kernelLambda, tests: tests, log: log) }
        let design = LagKernelDesign(log: log, runs: runs, solver: solver)
        let separateKernel = !fixedKernel && kernelLambda != nil && kernelLambda != lambda
        FitProgress.report("lag-kernel: fitting the kernel and the effects", "lambda \(lambda)", done: 0, total: 1)
        // The targets (rows x test examples, twice) are released before the model is built.
        let solution = try { () throws -> Solution in
            let targets = try Targets(runs: runs, tests: tests, design: design)
            let sample = kernelSample(design, tests: tests, runs: runs, prior: prior)
            var first = start ?? .immediate(starts: LagKernel.defaultStarts(lastStep: design.lastStep))
            if separateKernel, let kernelLambda {
                // The kernel alone (on the kernel sample, if any), then held.
                first = try learntKernel(design, targets, sample: sample, lambda: kernelLambda, start: first, prior: prior,
                                         threads: threads)
            }
            return try solve(design, targets, lambda: lambda, start: first, prior: prior, fixedKernel: fixedKernel || separateKernel,
                             saturationLambda: saturationLambda, kernelSample: sample, threads: threads)
        }()
        var provenance = FitProvenance(
            solver: prior == nil && design.iterative
                ? "lag-kernel alternating least squares, conjugate gradients on the step-demeaned design"
                : "lag-kernel alternating least squares, dense Cholesky of the shared normal equations",
            iterative: solution.solve,
            details: ["rows": String(design.rowCount), "active_examples": String(design.n),
                      "kernel_iterations": String(solution.iterations)])
        if solution.kernel.saturation > 0 { provenance.details["saturation_lambda"] = String(saturationLambda ?? lambda) }
        if separateKernel, let kernelLambda { provenance.details["kernel_lambda"] = String(kernelLambda) }
        return simulator(solution, method: method, design: design, log: log, runs: runs, tests: tests, lambda: lambda,
                         provenance: provenance)
    }

    /// Chooses lambda from `grid` by K-fold cross-validation over whole runs (fold k = runs at
    /// positions i % K == k, K = min(folds, runs.count)), scoring the clamped rollouts of the
    /// validation runs by all-steps MSE per (run, test example) trajectory, as ``LambdaSearch``
    /// does for the other ridge methods, and returns the selection with the pilot kernel.
    ///
    /// The kernel is fitted once, on all `runs` at the grid's smallest positive lambda (the pilot,
    /// ``pilotLambda(grid:)``), and held
    /// fixed in the folds: every fold then assembles its normal equations once and solves them
    /// for every lambda, so the search costs about one kernel fit plus a factorisation per (fold,
    /// lambda) instead of a kernel fit per (fold, lambda). The kernel is a dozen numbers fitted on
    /// thousands of rows and every test example, so seeing the validation folds moves the score
    /// of every lambda alike. The fit at the chosen lambda keeps the pilot kernel, so the model is
    /// the one that was validated (refitting the kernel at a large lambda lets it grow to offset
    /// the shrinkage of B: on the language-model runs that took LDS from 0.31 to 0.02).
    ///
    /// The loss scale is chosen the same way: the pilot kernel's shape (fitted without a loss
    /// scale) is held, and every tau of `lossScales` gets its own lambda search; the tau and lambda
    /// with the lowest score win (ties to the earlier tau). A tau > 0 gives every test example its
    /// own normal equations, so on the dense path it costs about one assembly and one factorisation
    /// per (fold, test example, lambda) more than tau = 0, and with more than
    /// `lossScaleExampleLimit` active training examples only tau = 0 is scored there (the scales
    /// left out are returned in `skippedLossScales`; see ``lossScaleExampleLimit``). Conjugate
    /// gradients (``LagKernelDesign/iterative``, without a prior) solve a tau > 0 as cheaply as
    /// tau = 0 and score every tau at any size.
    ///
    /// Then the saturation exponent (``LagKernel/saturation``), the same way under the chosen tau:
    /// each exponent > 0 of `saturations` gets its own lambda search and replaces the choice only
    /// when its score is lower. In each fold w comes from the fold's fit without psi at the lambda
    /// chosen so far (returned as `saturationLambda`, which the final fit uses for its w too), so
    /// every lambda of the search shares one weighted assembly per fold (per test example with
    /// tau > 0). Above `lossScaleExampleLimit` active examples it is not scored either (psi reads
    /// every example's loss estimate at every step, and the weighted system is one more assembly
    /// per fold); the exponents left out are returned in `skippedSaturations`.
    public static func crossValidate(log: TrainingLog, runs: [TrainingRun], tests: [Int], grid: [Double], folds: Int,
                                     prior: [Matrix]? = nil, lossScales: [Double] = defaultLossScales,
                                     saturations: [Double] = defaultSaturations,
                                     lossScaleExampleLimit: Int = lossScaleExampleLimit,
                                     keptFitsBudget: Int = keptFitsBudget, solver: RidgeSolverChoice = .automatic,
                                     threads: Int = Parallel.defaultThreads) throws
        -> (selection: LambdaSelection, pilot: LagKernel, skippedLossScales: [Double], skippedSaturations: [Double],
            saturationLambda: Double) {
        let split = try CrossValidationFolds(runs: runs, folds: folds, grid: grid)
        let all = LagKernelDesign(log: log, runs: runs, solver: solver)
        let pilotLambda = pilotLambda(grid: split.grid)
        // Only the pilot's kernel is kept: with a kernel sample, its alternation alone (not B for
        // every test example after it).
        let allTargets = try Targets(runs: runs, tests: tests, design: all)
        let shape = try learntKernel(all, allTargets, sample: kernelSample(all, tests: tests, runs: runs, prior: prior),
                                     lambda: pilotLambda, start: .immediate(starts: LagKernel.defaultStarts(lastStep: all.lastStep)),
                                     prior: prior, threads: threads)
        var best: (selection: LambdaSelection, pilot: LagKernel, score: Double, fits: [[Double: [Double]]])?
        let requested = lossScales.isEmpty ? [0] : lossScales
        // Conjugate gradients solve a loss scale's systems as cheaply as tau = 0's (the gains are
        // per test example, as the lanes are), so only the dense path skips it on large logs.
        let affordable = all.n <= lossScaleExampleLimit
        let scalesAffordable = affordable || (prior == nil && all.iterative)
        let scales = scalesAffordable ? requested : [0]
        let exponents = saturations.filter { $0 > 0 }
        // The folds' fits without psi are kept for the saturation search (its w), not refitted,
        // when two searches' worth of them (the best so far and the current) fit the budget.
        let keptBytes = keptFitsBytes(folds: split.count, lambdas: split.grid.count, examples: all.n, tests: tests.count)
        let keepFits = affordable && !exponents.isEmpty && keptBytes <= keptFitsBudget
        for (k, scale) in scales.enumerated() {
            FitProgress.report("lag-kernel: cross-validating the loss scale", "tau \(scale)", done: k, total: scales.count)
            let pilot = LagKernel(starts: shape.starts, weights: shape.weights, lossScale: scale)
            let (selection, fits) = try searchLambda(log: log, split: split, tests: tests, pilot: pilot, prior: prior,
                                                     iterative: (all.iterative, all.tolerance),
                                                     keepFits: keepFits, threads: threads)
            let score = selection.scores.filter(\.isFinite).min() ?? .infinity
            if best == nil || score < best!.score { best = (selection, pilot, score, fits) }
        }
        let saturationLambda = best!.selection.chosen
        let firstFits = best!.fits.compactMap { $0[saturationLambda] }
        for (k, exponent) in (affordable ? exponents : []).enumerated() {
            FitProgress.report("lag-kernel: cross-validating the saturation", "exponent \(exponent)", done: k, total: exponents.count)
            var pilot = best!.pilot
            pilot.saturation = exponent
            let selection = try searchLambda(log: log, split: split, tests: tests, pilot: pilot, prior: prior,
                                             iterative: (all.iterative, all.tolerance),
                                             saturationLambda: saturationLambda,
                                             firstFits: firstFits.count == split.count ? firstFits : nil, threads: threads).selection
            let score = selection.scores.filter(\.isFinite).min() ?? .infinity
            if score < best!.score { best = (selection, pilot, score, []) }
        }
        return (best!.selection, best!.pilot, scalesAffordable ? [] : requested.filter { $0 != 0 }, affordable ? [] : exponents,
                saturationLambda)
    }

    /// The lambda at which the cross-validation's pilot kernel is learnt: the smallest positive
    /// lambda of `grid` (its smallest when none is positive).
    ///
    /// The kernel describes how an effect spreads over later steps; learnt where B is barely
    /// shrunk, it describes the runs rather than compensating for the shrinkage. At a large lambda
    /// the alternation grows the kernel's later bins while B shrinks (the product is what fits
    /// the rows), which slows conjugate gradients and degrades the model. Chosen by the folds:
    /// the pilot at the default grid's smallest lambda (0.01) against its middle (3.16) lowered
    /// the cross-validated all-steps MSE on every log tried (digits sgd-momentum 0.00870 to 0.00857,
    /// digits adam 0.00987 to 0.00979, the language model 0.00211 to 0.00209, the medium benchmark
    /// log 0.00358 to 0.00348; Docs/Methods.md).
    public static func pilotLambda(grid: [Double]) -> Double {
        grid.filter { $0 > 0 }.min() ?? grid.min() ?? 0
    }

    /// The lambda at which a fit at a fixed lambda learns its kernel: the pilot lambda of the
    /// default grid (``pilotLambda(grid:)`` of ``LambdaSearch/defaultGrid``, 0.01), so that a fixed
    /// fit at the lambda `--lambda auto` chooses has the cross-validated fit's kernel.
    public static let kernelLambda = pilotLambda(grid: LambdaSearch.defaultGrid)

    /// The most bytes the saturation search's kept fits may take (every fold's B at every lambda
    /// of two lambda searches, the grid with its possible extensions): 256 MB. Above it each fold
    /// refits its B at the chosen lambda instead (the same numbers, one more assembly per fold).
    public static let keptFitsBudget = 1 << 28

    /// The bytes of the saturation search's kept fits: B (`examples` x `tests` doubles) of every
    /// fold at every lambda of two lambda searches, each the grid of `lambdas` with room for its
    /// downward extensions (at most 6). Compared with ``keptFitsBudget``.
    static func keptFitsBytes(folds: Int, lambdas: Int, examples: Int, tests: Int) -> Int {
        2 * 8 * folds * (lambdas + 6) * examples * tests
    }

    /// The saturation exponents (``LagKernel/saturation``) the cross-validation chooses among:
    /// 0 (every batch entry counts 1) and 1 (psi itself). A NumPy study on the digits
    /// counterfactual runs (README, `scripts/saturation-probe.py`) also scored 0.5, 1.5 and 2:
    /// the folds chose 1 on both digits workloads.
    public static let defaultSaturations: [Double] = [0, 1]

    /// The loss scales tau (``LagKernel/lossScale``) the cross-validation chooses among: 0 (no
    /// gain, purely additive effects) and 1 (a cross-entropy gradient's size, in nats).
    public static let defaultLossScales: [Double] = [0, 1]

    /// The relative residual to which conjugate gradients solve the folds of the lambda search
    /// (the fit itself: ``iterativeTolerance``): a fold's score is an all-steps MSE of rollouts,
    /// which this moves by far less than the differences between lambdas (Docs/Performance.md).
    public static let foldTolerance = 1e-5

    /// The most active training examples n for which loss scales above 0 are cross-validated on
    /// the dense path, and saturation exponents above 0 on either path. Above it the dense path
    /// scores only tau = 0: a tau > 0 gives every test example its own n x n normal matrix,
    /// so its search costs a factorisation per (fold, test example, lambda) where tau = 0 shares
    /// one per (fold, lambda). On the medium benchmark log (n = 5,000, 200 test examples, 5 folds,
    /// 15 lambdas) that is 15,000 factorisations of 5,000 x 5,000 (2.7 s each on one core: with the
    /// assemblies, about 6 hours on 2 cores), against 75 for tau = 0. The limit is the lambda screen's notion of a
    /// large system (``LambdaScreen``: over 1,024 unknowns per test example); the built-in
    /// workloads (200 examples) are far below it. Conjugate gradients (above
    /// ``iterativeExampleLimit``) score every tau. The saturation weights cost n x (test
    /// examples) per step of every weighted assembly and rollout (each example's loss estimate
    /// reads every test example's loss), so above this limit exponent 0 is used on both paths.
    public static let lossScaleExampleLimit = 1024

    /// lambda's K-fold search under the fixed `pilot` kernel, the grid extended downwards while its
    /// smallest lambda wins clearly (`saturationLambda`, `firstFits`: see ``scores``). With
    /// `keepFits`, also every fold's B at every lambda scored (fits[fold][lambda], unknowns x
    /// tests as ``Solution/theta``; absent where singular); otherwise no fits.
    static func searchLambda(log: TrainingLog, split: CrossValidationFolds, tests: [Int], pilot: LagKernel, prior: [Matrix]?,
                             iterative: (Bool, Double) = (false, iterativeTolerance),
                             saturationLambda: Double? = nil, firstFits: [[Double]]? = nil, keepFits: Bool = false,
                             threads: Int) throws -> (selection: LambdaSelection, fits: [[Double: [Double]]]) {
        if prior == nil && iterative.0 && !keepFits && firstFits == nil && pilot.saturation == 0
            && tests.count >= LambdaScreen.standard.minimumTests {
            return (try screenedSearch(log: log, split: split, tests: tests, pilot: pilot, iterative: iterative, threads: threads), [])
        }
        var grid = split.grid
        var scored = try scores(log: log, split: split, tests: tests, grid: grid, pilot: pilot, prior: prior, iterative: iterative,
                                saturationLambda: saturationLambda, firstFits: firstFits, keepFits: keepFits, threads: threads)
        var fits = [[Double: [Double]]](repeating: [:], count: keepFits ? split.count : 0)
        func keep(_ thetas: [[[Double]?]], _ lambdas: [Double]) {
            for fold in fits.indices { for (p, lambda) in lambdas.enumerated() { fits[fold][lambda] = thetas[fold][p] } }
        }
        keep(scored.fits, grid)
        // The smallest lambda winning clearly (by more than 0.1% over the next) says the grid stops
        // too early: extend it downwards, half a decade at a time, by at most three decades (each
        // point costs one factorisation per fold). A flat end is left alone.
        var extensions = 0
        while scored.best == 0 && grid.count > 1 && grid[0] > 0 && extensions < 6
                && scored.values[0] < scored.values[1] * (1 - 1e-3) {
            let lower = grid[0] / 3.1622776601683795
            let more = try scores(log: log, split: split, tests: tests, grid: [lower], pilot: pilot, prior: prior, iterative: iterative,
                                  saturationLambda: saturationLambda, firstFits: firstFits, keepFits: keepFits, threads: threads)
            keep(more.fits, [lower])
            grid.insert(lower, at: 0)
            scored.values.insert(more.values[0], at: 0)
            if scored.values[0] <= scored.values[1] { scored.best = 0 } else { scored.best += 1 }
            extensions += 1
        }
        return (LambdaSelection(grid: grid, scores: scored.values, chosen: grid[scored.best], folds: split.count), fits)
    }

    /// The lambda search through conjugate gradients with many test examples, screened as
    /// linear's (``LambdaScreen``): a sample of test examples spread over their loss scales
    /// (``ScoringSample``, ``LambdaScreen/standard``'s size) walks the whole grid; the others walk
    /// it from the top down to one point below the sample's choice, and one point further while
    /// the best point over all test examples is the lowest they scored. Each test example's B
    /// and rollouts do not depend on the others (no saturation), so a point's score over all
    /// test examples is the sample's and the rest's, weighted by their counts; the points the
    /// rest did not reach are reported as not scored (NaN). The choice equals the whole search's
    /// unless the curve over all test examples has a second, lower minimum below the points
    /// scored. No downward extension of the grid (the sample's choice at the grid's smallest
    /// lambda sends the rest down to it, and the note on a choice at the grid's end applies).
    static func screenedSearch(log: TrainingLog, split: CrossValidationFolds, tests: [Int], pilot: LagKernel,
                               iterative: (Bool, Double), threads: Int) throws -> LambdaSelection {
        let grid = split.grid
        let sample = ScoringSample.tests(tests, runs: split.runs, size: LambdaScreen.standard.sampleSize)
        let chosen = Set(sample)
        let rest = tests.filter { !chosen.contains($0) }
        let sampled = try scores(log: log, split: split, tests: sample, grid: grid, pilot: pilot, prior: nil, iterative: iterative,
                                 threads: threads)
        var lowest = max(0, sampled.best - LambdaScreen.standard.margin)
        var values = [Double](repeating: .nan, count: grid.count), best = -1
        while true {
            let walked = Array(grid[lowest...])
            let others = try scores(log: log, split: split, tests: rest, grid: walked, pilot: pilot, prior: nil,
                                    iterative: iterative, threads: threads)
            let (a, b) = (Double(sample.count), Double(rest.count))
            best = -1
            for p in lowest..<grid.count {
                let total = (sampled.values[p] * a + others.values[p - lowest] * b) / (a + b)
                values[p] = total.isFinite ? total : .infinity
                if values[p].isFinite && (best < 0 || values[p] <= values[best]) { best = p }
            }
            guard best >= 0 else {
                throw SimfluenceError.invalidArgument(
                    "no lambda in the grid \(grid) gave a finite cross-validation score (singular systems or diverging simulations); pass a fixed lambda > 0 or a grid with larger values")
            }
            if best > lowest || lowest == 0 { break }
            lowest -= 1
        }
        return LambdaSelection(grid: grid, scores: values, chosen: grid[best], folds: split.count)
    }

    /// Cross-validated scores of `grid` (ascending) over `split`'s folds under the fixed `pilot` kernel.
    ///
    /// On the dense path without a loss scale the folds run in parallel, each on one thread (a
    /// fold's cost is its factorisations of the shared matrix, each sequential, and its
    /// rollouts); with one, or with conjugate gradients (`iterative`: whether they solve, and to
    /// what relative residual), the folds run one after the other and each spreads its test
    /// examples' systems over the threads (5 folds on 2 threads would leave one idle a sixth of
    /// the time; 25 blocks of 8 test examples split evenly). Every fold returns each (lambda, validation run, test example) trajectory's
    /// error, summed afterwards in fold order: the same sums, bit for bit, whatever the threads.
    ///
    /// With a saturation exponent in `pilot`, each fold's w comes from its fit without psi at
    /// `saturationLambda` (default: the grid's middle), given in `firstFits` (per fold, B as
    /// ``Solution/theta``) or fitted here, and every lambda is fitted with psi. With `keepFits`,
    /// `fits[fold][p]` is the fold's B at grid[p] (nil where singular); otherwise `fits` is empty.
    static func scores(log: TrainingLog, split: CrossValidationFolds, tests: [Int], grid: [Double], pilot: LagKernel,
                       prior: [Matrix]?, iterative: (Bool, Double) = (false, iterativeTolerance), saturationLambda: Double? = nil, firstFits: [[Double]]? = nil, keepFits: Bool = false,
                       threads: Int) throws -> (values: [Double], best: Int, fits: [[[Double]?]]) {
        let k = split.count
        let method = MethodName(LagKernelMethod.lagKernel)
        let progress = ProgressCounter(task: "lag-kernel: cross-validating \(grid.count) lambdas", unit: "folds", total: k)
        let foldThreads = pilot.lossScale == 0 && !(prior == nil && iterative.0) ? max(1, min(threads, k)) : 1
        let inner = max(1, threads / foldThreads)
        // perFold[fold].errors[p]: the fold's trajectory errors at grid[p] in (validation run, test) order; nil where singular.
        let perFold = try Parallel.map(k, threads: foldThreads) { fold -> (errors: [[Double]?], fits: [[Double]?]) in
            let trainRuns = split.training(fold)
            let validation = split.validation(fold)
            var design = LagKernelDesign(log: log, runs: trainRuns)
            (design.iterative, design.tolerance) = iterative
            let targets = try Targets(runs: trainRuns, tests: tests, design: design)
            var weighted = targets
            if pilot.saturation > 0 {
                var plain = pilot
                plain.saturation = 0
                let first = try firstFits?[fold] ?? effects(design, targets, kernel: plain, lambda: saturationLambda ?? grid[grid.count / 2],
                                                            prior: prior, threads: inner).theta
                weighted = try targets.saturated(design, theta: first, exponent: pilot.saturation, threads: inner)
            }
            // The dense path solves every lambda from one assembly; conjugate gradients walk the
            // grid down one lambda at a time with one solver (its design and preconditioner built
            // once), each lambda from the solution before it, so only two B's are held at once (a
            // large log's B is n x tests).
            let walker = prior == nil && design.iterative
                ? LagKernelIterative(design, entryWeights: weighted.entryWeights, kernel: pilot) : nil
            let path = walker != nil ? [] : try effectsPath(design, weighted, kernel: pilot, lambdas: grid, prior: prior, threads: inner)
            let setups = walker?.setups(width: tests.count)
            // What every lambda's simulator shares: the clamp range and starting losses of the fold's runs.
            let bounds = ExtendedFit.bounds(trainRuns, tests: tests, multiple: ExtendedConfiguration.defaultClampMultiple)
            let startingLosses = meanStartingLosses(trainRuns, tests: tests)
            var previous: [Double]?
            var kept = [[Double]?](repeating: nil, count: grid.count)
            var errors = [[Double]?](repeating: nil, count: grid.count)
            for p in grid.indices.sorted(by: { grid[$0] > grid[$1] }) {
                let found = try walker.map {
                    try $0.path(weighted, lambdas: [grid[p]], tolerance: max(foldTolerance, design.tolerance), start: previous,
                                setups: setups, threads: inner)[0]
                } ?? path[p]
                guard let fitted = found else {
                    previous = nil
                    continue
                }
                previous = fitted.theta
                if keepFits { kept[p] = fitted.theta }
                let solution = Solution(kernel: pilot, theta: fitted.theta, steps: fitted.steps, iterations: 0)
                let model = simulator(solution, method: method, design: design, log: log, runs: trainRuns, tests: tests,
                                      lambda: grid[p], provenance: FitProvenance(), bounds: bounds, startingLosses: startingLosses)
                // The validation runs' rollouts on the fold's threads, each run's errors in test
                // order and the runs in their order: the same list whatever the threads.
                let perRun = try Parallel.map(validation.count, threads: inner) { v -> [Double] in
                    let run = validation[v]
                    let initial = tests.map { run.losses[0, $0] }
                    let rollout = model.recurrenceRollout(run.simulatedBatches, initial: initial, firstStep: run.firstLossStep + 1)
                    return tests.indices.map { c in
                        TrajectoryError.allStepsMSE(predicted: rollout.losses, truth: run.losses, predictedColumn: c,
                                                    truthColumn: tests[c])
                    }
                }
                errors[p] = perRun.flatMap { $0 }
            }
            progress.advance()
            return (errors, keepFits ? kept : [])
        }
        var sums = [Double](repeating: 0, count: grid.count)
        var singular = [Bool](repeating: false, count: grid.count)
        var trajectories = 0
        for fold in 0..<k {
            trajectories += split.validation(fold).count * tests.count
            for p in grid.indices {
                guard let errors = perFold[fold].errors[p] else {
                    singular[p] = true
                    continue
                }
                for e in errors { sums[p] += e }
            }
        }
        let (values, best) = try CrossValidationScores.finish(sums: sums, singular: singular, trajectories: trajectories, grid: grid)
        return (values, best, perFold.map(\.fits))
    }
}
