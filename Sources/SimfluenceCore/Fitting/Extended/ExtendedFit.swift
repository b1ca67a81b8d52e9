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
    public static func fit(_ method: ExtendedMethod, log: TrainingLog, runs: [TrainingRun], lambda: LambdaChoice,
                           configuration: ExtendedConfiguration? = nil, every: Int? = nil,
                           tests: [Int]? = nil, threads: Int = Parallel.defaultThreads) throws -> MethodFit {
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
                _ = try RidgeFit.checkedArguments(lambda: value, tests: tests, log: log)
                chosen = try select(config: config, log: log, runs: runs, lambdas: [value], mus: mus, carries: carries,
                                    folds: 5, every: every, threads: threads).chosen
            }
        case .auto(var grid, let folds):
            // linear-rollout repeats linear-time's teacher-forced search, and linear-carry searches
            // several decays: every other grid point (of the sorted grid) keeps their fit time down.
            if (config.rollout || carries.count > 1) && grid.count > 2 {
                grid = Array(Set(grid)).sorted().enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            }
            let result = try select(config: config, log: log, runs: runs, lambdas: grid, mus: mus, carries: carries,
                                    folds: folds, every: every, threads: threads)
            selection = result.selection
            chosen = result.chosen
            muScores = result.scores
        }
        var simulator = try fitFixed(config: config, method: method.rawValue, log: log, runs: runs,
                                     lambda: chosen.lambda, smoothing: chosen.mu, carry: chosen.carry, every: every,
                                     tests: tests, threads: threads)
        simulator.metadata["lambda_choice"] = selection == nil ? "fixed" : "cross-validated"
        if let s = selection {
            simulator.metadata["cv_folds"] = String(s.folds)
            simulator.metadata["cv_grid"] = s.grid.map { String($0) }.joined(separator: ",")
            simulator.metadata["cv_scores"] = s.scores.map { String($0) }.joined(separator: ",")
            if config.stepKnots > 0 {
                simulator.metadata["cv_smoothing_grid"] = mus.map { String($0) }.joined(separator: ",")
                simulator.metadata["cv_scores_by_point"] = muScores.map { String($0) }.joined(separator: ",")
            }
            if carries.count > 1 { simulator.metadata["cv_carry_grid"] = carries.map { String($0) }.joined(separator: ",") }
        }
        let seconds = (clock.now - start).inSeconds
        return MethodFit(simulator: simulator, selection: selection, seconds: seconds)
    }

    /// Fits at a fixed lambda, smoothing strength and carry-over decay on all `runs`
    /// (`config.carryGrid` is not used).
    public static func fitFixed(config: ExtendedConfiguration, method: String, log: TrainingLog, runs: [TrainingRun],
                                lambda: Double, smoothing: Double, carry: Double = 0, every: Int? = nil, tests: [Int]? = nil,
                                threads: Int = Parallel.defaultThreads) throws -> FittedSimulator {
        let tests = try RidgeFit.checkedArguments(lambda: lambda, tests: tests, log: log)
        guard smoothing.isFinite && smoothing >= 0 else {
            throw SimfluenceError.invalidArgument("the smoothing strength must be a finite number >= 0 (got \(smoothing))")
        }
        guard carry >= 0 && carry < 1 else {
            throw SimfluenceError.invalidArgument("the carry-over decay must be a number in [0, 1) (got \(carry))")
        }
        let design = try RidgeDesign(log: log, runs: runs)
        let basis = StepBasis(knots: config.stepKnots, lastStep: lastStep(runs))
        let solver = ExtendedSolver(design, runs: runs, pooled: config.pooled, basis: basis, points: [(lambda, smoothing)],
                                    carry: carry)
        let layout = solver.layout
        let trainCount = design.trainCount
        let bounds = config.clampMultiple.map { ExtendedFit.bounds(runs, tests: tests, multiple: $0) }
        let localRuns = config.rollout ? runs.filter { $0.losses.rows >= 2 }.map {
            LocalRun(run: $0, local: design.local, basis: basis, every: every)
        } : []
        let maxSteps = (localRuns.map(\.steps).max() ?? 0) + 1
        let knotsOut = basis.knots > 0 ? basis.lastStep : 0
        var aStore = [Double](repeating: 0, count: tests.count * trainCount)
        var bStore = [Double](repeating: 0, count: tests.count * trainCount)
        var uStore = [Double](repeating: 0, count: max(1, tests.count * knotsOut))
        var vStore = [Double](repeating: 0, count: max(1, tests.count * knotsOut))
        var iterations = [Int](repeating: 0, count: tests.count)
        if !tests.isEmpty && trainCount > 0 && design.activeCount > 0 {
            if solver.sharedFailed[0] {
                throw SimfluenceError.singularSystem(testID: log.testIDs[tests[0]], lambda: lambda)
            }
            let testIDs = log.testIDs
            let sharedDiag = solver.sharedDiagonal(0)
            try aStore.withUnsafeMutableBufferPointer { ab in
            try bStore.withUnsafeMutableBufferPointer { bb in
            try uStore.withUnsafeMutableBufferPointer { ub in
            try vStore.withUnsafeMutableBufferPointer { vb in
            try iterations.withUnsafeMutableBufferPointer { ib in
                let aOut = RidgeSharedPointer(base: ab.baseAddress!), bOut = RidgeSharedPointer(base: bb.baseAddress!)
                let uOut = RidgeSharedPointer(base: ub.baseAddress!)
                let vOut = RidgeSharedPointer(base: vb.baseAddress!)
                let iOut = ib.baseAddress!
                let iterationsOut = IntPointer(base: iOut)
                try ridgeParallel(tests.count, threads: threads) { items in
                    let ws = ExtendedSolver.Workspace(solver: solver)
                    let states = UnsafeMutablePointer<Double>.allocate(capacity: max(1, maxSteps))
                    let alphas = UnsafeMutablePointer<Double>.allocate(capacity: max(1, maxSteps))
                    let flags = UnsafeMutablePointer<Bool>.allocate(capacity: max(1, maxSteps))
                    defer { states.deallocate(); alphas.deallocate(); flags.deallocate() }
                    for row in items {
                        let z = tests[row]
                        try solver.assemble(z: z, runs: runs, testIDs: testIDs, ws)
                        guard solver.solve(0, ws) else {
                            throw SimfluenceError.singularSystem(testID: testIDs[z], lambda: lambda)
                        }
                        var theta = Array(UnsafeBufferPointer(start: ws.theta, count: layout.n))
                        if config.rollout {
                            let pen = solver.penalty(0, ws)
                            var scale = solver.fullDiagonal(sharedDiag: sharedDiag, ws, penalty: pen)
                            for i in 0..<scale.count where !(scale[i] > 0) { scale[i] = 1 }
                            let rollout = ExtendedRollout(layout: layout, basisKnots: basis.knots, carry: carry)
                            let lo = bounds?.lower[row] ?? -.infinity, hi = bounds?.upper[row] ?? .infinity
                            let gram = solver.gram
                            let sharedOnly = config.rolloutSharedOnly
                            let result = LBFGS.minimise(&theta, scale: scale, iterations: config.rolloutIterations) { x, g in
                                let data = rollout.sumOfSquares(localRuns, z: z, theta: x, lo: lo, hi: hi, grad: g,
                                                                states: states, alphas: alphas, clampedFlags: flags)
                                let total = data + pen.value(x, layout: layout, gram: gram, grad: g)
                                if sharedOnly {
                                    for i in 0..<layout.m { g[i] = 0; g[layout.aDev + i] = 0 }
                                }
                                return total
                            }
                            iterationsOut.base[row] = result.iterations
                        }
                        let aRow = aOut.base + row * trainCount, bRow = bOut.base + row * trainCount
                        let aPool = layout.pooled ? theta[layout.aPool] : 0
                        let bPool = layout.pooled ? theta[layout.bPool] : 0
                        for (l, g) in design.active.enumerated() {
                            aRow[g] = aPool + theta[layout.aDev + l]
                            bRow[g] = bPool + theta[l]
                        }
                        if knotsOut > 0 {
                            theta.withUnsafeBufferPointer { tb in
                                for t in 1...knotsOut {
                                    uOut.base[row * knotsOut + t - 1] = basis.value(tb.baseAddress! + layout.uStart, at: t)
                                    vOut.base[row * knotsOut + t - 1] = basis.value(tb.baseAddress! + layout.vStart, at: t)
                                }
                            }
                        }
                    }
                }
            }}}}}
        }
        var seen = [Bool](repeating: false, count: trainCount)
        for g in design.active { seen[g] = true }
        var metadata = [
            "rows": String(design.rowCount),
            "active_examples": String(design.activeCount),
            "unknowns_per_test": String(layout.n),
            "solver": "extended ridge normal equations, dense Cholesky" + (config.rollout ? ", then L-BFGS on rollout error" : ""),
            "pooled": String(config.pooled),
            "step_knots": String(basis.knots),
            "smoothing": String(smoothing),
        ]
        if carry != 0 || config.carryGrid.count > 1 { metadata["carry"] = String(carry) }
        if let c = config.clampMultiple { metadata["clamp_multiple"] = String(c) }
        if let every, every > 1 { metadata["observed_every"] = String(every) }
        if config.rollout {
            metadata["rollout_iterations_max"] = String(config.rolloutIterations)
            metadata["rollout_iterations_mean"] = String(Double(iterations.reduce(0, +)) / Double(max(1, iterations.count)))
        }
        var sim = FittedSimulator(method: method, form: .linear, lambda: lambda,
                                  trainIDs: log.trainIDs, testIDs: tests.map { log.testIDs[$0] },
                                  a: Matrix(rows: tests.count, columns: trainCount, storage: aStore),
                                  b: Matrix(rows: tests.count, columns: trainCount, storage: bStore),
                                  seen: seen, fittedOn: runs.map(\.name),
                                  startingStep: runs.map(\.firstLossStep).min() ?? 0,
                                  startingLosses: meanStartingLosses(runs, tests: tests), metadata: metadata)
        if knotsOut > 0 {
            sim.stepAlpha = Matrix(rows: tests.count, columns: knotsOut, storage: Array(uStore.prefix(tests.count * knotsOut)))
            sim.stepBeta = Matrix(rows: tests.count, columns: knotsOut, storage: Array(vStore.prefix(tests.count * knotsOut)))
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
    static func select(config: ExtendedConfiguration, log: TrainingLog, runs: [TrainingRun], lambdas: [Double], mus: [Double],
                       carries: [Double] = [0], folds: Int, every: Int?, threads: Int) throws
        -> (selection: LambdaSelection, chosen: (lambda: Double, mu: Double, carry: Double), scores: [Double]) {
        guard runs.count >= 2 else {
            throw SimfluenceError.invalidArgument(
                "choosing lambda by cross-validation needs at least 2 training runs (got \(runs.count)); pass a fixed lambda instead")
        }
        guard folds >= 2 else { throw SimfluenceError.invalidArgument("cross-validation needs at least 2 folds (got \(folds))") }
        guard !lambdas.isEmpty else { throw SimfluenceError.invalidArgument("the lambda grid is empty") }
        for l in lambdas where !(l.isFinite && l >= 0) {
            throw SimfluenceError.invalidArgument("every lambda in the grid must be a finite number >= 0 (got \(l))")
        }
        var grid: [Double] = []
        for l in lambdas.sorted() where grid.last != l { grid.append(l) }
        let points = grid.flatMap { l in mus.map { (lambda: l, mu: $0) } }
        let perCarry = points.count
        let k = min(folds, runs.count)
        let testCount = log.testIDs.count, testIDs = log.testIDs
        let allTests = Array(0..<testCount)
        var sums = [Double](repeating: 0, count: carries.count * perCarry)
        var singular = [Bool](repeating: false, count: carries.count * perCarry)
        var trajectories = 0
        for fold in 0..<k {
            let trainRuns = runs.enumerated().filter { $0.offset % k != fold }.map(\.element)
            let validation = runs.enumerated().filter { $0.offset % k == fold && $0.element.losses.rows >= 2 }.map(\.element)
            if validation.isEmpty || testCount == 0 { continue }
            let design = try RidgeDesign(log: log, runs: trainRuns)
            if design.activeCount == 0 { continue }
            trajectories += validation.count * testCount
            let basis = StepBasis(knots: config.stepKnots, lastStep: lastStep(trainRuns))
            let local = validation.map { LocalRun(run: $0, local: design.local, basis: basis, every: every) }
            let bounds = config.clampMultiple.map { ExtendedFit.bounds(trainRuns, tests: allTests, multiple: $0) }
            for (ci, carry) in carries.enumerated() {
            let solver = ExtendedSolver(design, runs: trainRuns, pooled: config.pooled, basis: basis, points: points, carry: carry)
            let rollout = ExtendedRollout(layout: solver.layout, basisKnots: basis.knots, carry: carry)
            let g = points.count
            var results = [Double](repeating: 0, count: testCount * g)
            try results.withUnsafeMutableBufferPointer { rb in
                let out = RidgeSharedPointer(base: rb.baseAddress!)
                try ridgeParallel(testCount, threads: threads) { items in
                    let ws = ExtendedSolver.Workspace(solver: solver)
                    for z in items {
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
            for p in 0..<g {
                for z in 0..<testCount {
                    let v = results[z * g + p]
                    if v.isNaN { singular[ci * g + p] = true } else { sums[ci * g + p] += v }
                }
            }
            }
        }
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

/// A raw pointer to Ints handed to parallel workers writing disjoint elements.
struct IntPointer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Int>
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
