/// Classic training-data-attribution methods run as simulators of the additive form
/// (Docs/SIMFLUENCE.md, "Existing TDA methods are special cases"): alpha = 1 and
/// `L_t = L_{t-1} + sum_{i in c_t} B_i(z)`, with B the method's score.
public enum ClassicMethod: String, Sendable, CaseIterable, Codable {
    /// TracIn-CP: `B_i = -sum_k eta_k g_i(k) . g_z(k)` over the saved checkpoints.
    case tracinCP = "tracin-cp"
    /// TracIn-CP times one global scale fitted on the training runs.
    case tracinCPScaled = "tracin-cp-scaled"
    /// Grad-Dot: `B_i = -(lr / batchSize) g_i . g_z` at the final checkpoint only.
    case gradDot = "grad-dot"
    /// Grad-Dot times one global scale fitted on the training runs.
    case gradDotScaled = "grad-dot-scaled"
    /// Influence functions: `B_i = -(1 / N) g_z^T (H + damping I)^{-1} g_i` at the final checkpoint.
    case influence
    /// Influence functions times one global scale fitted on the training runs.
    case influenceScaled = "influence-scaled"

    /// The score the method is built on.
    public var score: ClassicScore {
        switch self {
        case .tracinCP, .tracinCPScaled: .tracinCP
        case .gradDot, .gradDotScaled: .gradDot
        case .influence, .influenceScaled: .influence
        }
    }

    /// Whether the scores are multiplied by a least-squares scale fitted on the training runs.
    public var isScaled: Bool {
        switch self {
        case .tracinCPScaled, .gradDotScaled, .influenceScaled: true
        case .tracinCP, .gradDot, .influence: false
        }
    }
}

/// The three raw scores behind ``ClassicMethod``.
public enum ClassicScore: String, Sendable, CaseIterable, Codable {
    case tracinCP = "tracin-cp"
    case gradDot = "grad-dot"
    case influence
}

/// How influence functions apply `(H + damping I)^{-1}`.
public enum InfluenceSolver: String, Sendable, CaseIterable, Codable {
    /// Woodbury when the pool has fewer examples than the gradients have dimensions, else direct.
    case automatic
    /// Factor the n x n matrix `G G^T + n damping I` (n = pool size): `g_z^T (H + damping I)^{-1} G^T
    /// = n (G G^T + n damping I)^{-1} G g_z` (the push-through form of the Woodbury identity).
    case woodbury
    /// Factor the d x d matrix `H + damping I` and solve with every test gradient.
    case direct
}

/// Scores of the classic TDA methods from ``GradientFeatures``, and simulators built from them.
///
/// Notation: g_i(k) is training example i's loss gradient at checkpoint k, g_z(k) the test
/// example's; eta_k = ``GradientFeatures/stepWeight(_:)`` = lr_k * (stepsCovered_k / T) / batchSize
/// with T = ``GradientFeatures/totalStepsCovered``; "final" is
/// ``GradientFeatures/finalCheckpointIndex``. Scores are in loss units per appearance of i in a
/// batch (an example twice in a batch counts twice), and negative means "helps z".
///
/// - **tracin-cp**: `B_i = -sum_k eta_k g_i(k) . g_z(k)`: the first-order change of L(z) from one
///   plain-SGD step with i in a mean-reduced batch, averaged over the run by step fraction.
/// - **grad-dot**: `B_i = -(lr_final / batchSize) g_i(final) . g_z(final)` (one checkpoint of weight 1).
/// - **influence**: `B_i = -(1 / N) g_z^T (H + damping I)^{-1} g_i` at the final checkpoint, with
///   `H = (1/n) sum_j g_j g_j^T` the *empirical Fisher* over the n pool examples of the features
///   (not the Gauss-Newton matrix, which would need per-example output Jacobians), and
///   `N = T * batchSize` the number of example appearances in the reference run: the first-order
///   change of L(z) at the optimum of the mean loss over N appearances when one appearance is
///   added (weight 1/N). Default damping: `0.1 * trace(H) / min(n, d)` (``defaultDamping(_:)``).
/// - **-scaled** forms: `s * B` with the single `s = sum(x y) / sum(x^2)` minimising
///   `sum (L_t - L_{t-1} - s x)^2`, `x = sum_{i in c_t} B_i(z)`, over every training run, every
///   step whose L_{t-1} and L_t are both recorded, and every test example (``fitScale(_:runs:threads:)``).
///   The raw forms assume plain SGD; the scale absorbs momentum (about 1/(1 - momentum)) and
///   any other mismatch.
public enum ClassicScores {
    /// The default influence damping: `0.1 * trace(H) / min(n, d)` at the final checkpoint (that
    /// is `0.1 * sum_i |g_i|^2 / (n min(n, d))`), 0.1 times the mean of H's at most min(n, d)
    /// non-zero eigenvalues. Scale-free (proportional to H), and unlike a multiple of the mean
    /// diagonal (`trace(H) / d`) it does not shrink when n < d leaves most of H's spectrum at 0.
    public static func defaultDamping(_ features: GradientFeatures) -> Double {
        let g = features.checkpoints[features.finalCheckpointIndex].train
        var sum = 0.0
        for v in g.storage { sum += v * v }
        return 0.1 * sum / (Double(g.rows) * Double(min(g.rows, g.columns)))
    }

    /// The raw scores B[z, i] of `score`: a `features.testIDs.count` x `features.trainIDs.count`
    /// matrix (rows and columns in the features' id order). Deterministic for any thread count.
    ///
    /// - Parameters:
    ///   - damping: influence only; nil = ``defaultDamping(_:)``. Must be >= 0.
    ///   - solver: influence only.
    /// - Throws: ``SimfluenceError/invalidArgument(_:)`` for invalid features, a negative damping,
    ///   or `H + damping I` not positive definite.
    public static func scores(_ score: ClassicScore, features: GradientFeatures, damping: Double? = nil,
                              solver: InfluenceSolver = .automatic, threads: Int = Parallel.defaultThreads) throws -> Matrix {
        try features.validate()
        return try rawScores(score, features: features, testRows: Array(features.testIDs.indices), damping: damping,
                             solver: solver, threads: threads).scores
    }

    /// The least-squares scale of scores `b` (log tests x log training examples, columns indexed by
    /// the runs' batch indices) on `runs`: `s = sum(x y) / sum(x^2)` over every run, every recorded
    /// step r >= 1 (y = losses[r] - losses[r-1], x = sum of b over the batch of step
    /// `firstLossStep + r`) and every test example. `s = 0` when every x is 0. Sums run per test
    /// example in run and step order, then over test examples in order, so the result does not
    /// depend on `threads`. `pairs` counts the (run, step, test) terms.
    public static func fitScale(_ b: Matrix, runs: [TrainingRun], threads: Int = Parallel.defaultThreads) throws -> (scale: Double, pairs: Int) {
        for run in runs {
            guard run.losses.columns == b.rows else {
                throw SimfluenceError.invalidArgument("run \(run.name) records \(run.losses.columns) test examples, the scores have \(b.rows)")
            }
            for (t, batch) in run.batches.enumerated() {
                for i in batch where i < 0 || i >= b.columns {
                    throw SimfluenceError.invalidArgument("run \(run.name): step \(t + 1): training example index \(i) is outside the \(b.columns) scored examples")
                }
            }
        }
        let partial = try Parallel.map(b.rows, threads: threads) { z -> (Double, Double, Int) in
            var sxy = 0.0, sxx = 0.0, count = 0
            let row = z * b.columns
            for run in runs where run.losses.rows >= 2 {
                for r in 1..<run.losses.rows {
                    var x = 0.0
                    for i in run.batches[run.firstLossStep + r - 1] { x += b.storage[row + i] }
                    let y = run.losses[r, z] - run.losses[r - 1, z]
                    sxy += x * y
                    sxx += x * x
                    count += 1
                }
            }
            return (sxy, sxx, count)
        }
        var sxy = 0.0, sxx = 0.0, pairs = 0
        for (a, c, n) in partial { sxy += a; sxx += c; pairs += n }
        return (sxx > 0 ? sxy / sxx : 0, pairs)
    }

    /// Builds `method`'s simulator for `log`: form ``RecurrenceForm/additive``, `lambda` nil,
    /// `a` zero, `b` the (scaled) scores; `trainIDs`/`testIDs` are the log's. A log training example
    /// without gradients gets B = 0 and `seen = false`. Starting losses and step are those of
    /// `trainingRuns` (as for the fitted methods); `fittedOn` names them; the scale of a -scaled
    /// method is fitted on `trainingRuns` only (never pass held-out runs).
    ///
    /// - Throws: ``SimfluenceError/invalidArgument(_:)`` if a log test example has no gradients,
    ///   the features are invalid, a -scaled method gets no training runs, or influence cannot
    ///   solve (see ``scores(_:features:damping:solver:threads:)``).
    public static func simulator(_ method: ClassicMethod, features: GradientFeatures, log: TrainingLog,
                                 trainingRuns: [TrainingRun], damping: Double? = nil,
                                 solver: InfluenceSolver = .automatic,
                                 threads: Int = Parallel.defaultThreads) throws -> FittedSimulator {
        try features.validate()
        let featureTest = Dictionary(uniqueKeysWithValues: features.testIDs.enumerated().map { ($1, $0) })
        var testRows: [Int] = []
        testRows.reserveCapacity(log.testIDs.count)
        for id in log.testIDs {
            guard let r = featureTest[id] else {
                throw SimfluenceError.invalidArgument(
                    "test example '\(id)' of the log has no gradients in the gradient features (they hold \(features.testIDs.count) test examples); every test example of the log needs gradients")
            }
            testRows.append(r)
        }
        if method.isScaled && trainingRuns.isEmpty {
            throw SimfluenceError.invalidArgument("\(method.rawValue) fits its scale on training runs, but none were given")
        }
        let raw = try rawScores(method.score, features: features, testRows: testRows, damping: damping,
                                solver: solver, threads: threads)

        // Columns from the features' pool order to the log's training ids.
        let featureTrain = Dictionary(uniqueKeysWithValues: features.trainIDs.enumerated().map { ($1, $0) })
        let columns = log.trainIDs.map { featureTrain[$0] }
        // Examples the runs train on need gradients, or simulating those runs would fail later
        // with a misleading "never seen" error: name the missing ones now.
        var used = [Bool](repeating: false, count: log.trainIDs.count)
        for run in log.runs { for batch in run.batches { for i in batch where i >= 0 && i < used.count { used[i] = true } } }
        let missing = log.trainIDs.indices.filter { used[$0] && columns[$0] == nil }.map { log.trainIDs[$0] }
        if !missing.isEmpty {
            throw SimfluenceError.invalidArgument(
                "\(missing.count) training example(s) the log's runs train on have no gradients in the gradient features (for example \(missing.prefix(5).map { "'\($0)'" }.joined(separator: ", "))); the features (<log>/gradients or --gradients DIR) hold gradients for \(features.trainIDs.count) training examples: record gradients for the whole pool")
        }
        let tests = log.testIDs.count, n = log.trainIDs.count
        var b = Matrix(rows: tests, columns: n)
        for z in 0..<tests {
            for (i, c) in columns.enumerated() {
                if let c { b[z, i] = raw.scores[z, c] }
            }
        }

        var details: [String: String] = [
            "classic_score": method.score.rawValue,
            "formula": formula(method.score),
            "gradient_dimension": String(features.dimension),
            "batch_size": String(features.batchSize),
            "checkpoint_steps": features.checkpoints.map { String($0.step) }.joined(separator: ","),
        ]
        switch method.score {
        case .tracinCP:
            details["step_weights"] = features.checkpoints.indices.map { String(features.stepWeight($0)) }.joined(separator: ",")
        case .gradDot:
            details["final_checkpoint_step"] = String(features.checkpoints[features.finalCheckpointIndex].step)
        case .influence:
            details["final_checkpoint_step"] = String(features.checkpoints[features.finalCheckpointIndex].step)
            details["damping"] = raw.damping.map { String($0) }
            details["influence_solver"] = raw.solver?.rawValue
            let (appearances, overflow) = features.totalStepsCovered.multipliedReportingOverflow(by: features.batchSize)
            details["appearances"] = overflow ? String(Double(features.totalStepsCovered) * Double(features.batchSize)) : String(appearances)
        }
        for (key, value) in features.metadata { details["gradients_" + key] = value }
        var provenance = FitProvenance(details: details)
        if method.isScaled {
            let fit = try fitScale(b, runs: trainingRuns, threads: threads)
            for k in b.storage.indices { b.storage[k] *= fit.scale }
            provenance.scale = ScaleRecord(scale: fit.scale, pairs: fit.pairs)
        }
        return FittedSimulator(method: ClassicMethodDescriptor.of(method), form: .additive, lambda: nil, trainIDs: log.trainIDs,
                               testIDs: log.testIDs, a: Matrix(rows: tests, columns: n), b: b,
                               seen: columns.map { $0 != nil }, fittedOn: trainingRuns.map(\.name),
                               startingStep: trainingRuns.map(\.firstLossStep).min() ?? 0,
                               startingLosses: meanStartingLosses(trainingRuns, tests: Array(0..<tests)),
                               provenance: provenance)
    }

    /// ``simulator(_:features:log:trainingRuns:damping:solver:threads:)`` wrapped as a
    /// ``MethodFit`` (no lambda selection; `seconds` is the wall time of building it), for code
    /// that evaluates fitted methods.
    public static func fit(_ method: ClassicMethod, features: GradientFeatures, log: TrainingLog,
                           trainingRuns: [TrainingRun], damping: Double? = nil,
                           threads: Int = Parallel.defaultThreads) throws -> MethodFit {
        let clock = ContinuousClock()
        let start = clock.now
        let simulator = try simulator(method, features: features, log: log, trainingRuns: trainingRuns,
                                      damping: damping, threads: threads)
        let seconds = (clock.now - start).inSeconds
        return MethodFit(simulator: simulator, selection: nil, seconds: seconds)
    }

    /// What to change when the damped system could not be factored: a zero damping needs one;
    /// a huge one overflows the factorisation.
    static func dampingAdvice(_ damping: Double) -> String {
        damping > 0 ? "the damping is so large that the factorisation overflows: use a smaller damping (the default is 0.1 x trace(H) / min(n, d))"
            : "use a damping > 0"
    }

    /// The formula a score computes, as recorded in a simulator's metadata.
    public static func formula(_ score: ClassicScore) -> String {
        switch score {
        case .tracinCP:
            "B_i = -sum_k eta_k g_i(k).g_z(k), eta_k = lr_k * (steps_covered_k / sum_j steps_covered_j) / batch_size"
        case .gradDot:
            "B_i = -(lr_final / batch_size) g_i(final).g_z(final)"
        case .influence:
            "B_i = -(1 / (T * batch_size)) g_z^T (H + damping I)^-1 g_i, H = (1/n) sum_j g_j g_j^T (empirical Fisher, final checkpoint), T = sum_k steps_covered_k"
        }
    }

    // MARK: - Kernels

    /// Raw scores for the features' test rows `testRows` (rows of the result in that order) and
    /// every pool example of the features (columns in the features' order).
    static func rawScores(_ score: ClassicScore, features: GradientFeatures, testRows: [Int], damping: Double?,
                          solver: InfluenceSolver, threads: Int) throws -> (scores: Matrix, damping: Double?, solver: InfluenceSolver?) {
        switch score {
        case .tracinCP:
            let weighted = features.checkpoints.indices.map { (k: $0, eta: features.stepWeight($0)) }.filter { $0.eta != 0 }
            return (dotScores(features: features, checkpoints: weighted, testRows: testRows, threads: threads), nil, nil)
        case .gradDot:
            let k = features.finalCheckpointIndex
            let eta = features.checkpoints[k].learningRate / Double(features.batchSize)
            return (dotScores(features: features, checkpoints: [(k, eta)], testRows: testRows, threads: threads), nil, nil)
        case .influence:
            let lambda = damping ?? defaultDamping(features)
            guard lambda.isFinite && lambda >= 0 else {
                throw SimfluenceError.invalidArgument("influence damping must be finite and >= 0, got \(lambda)")
            }
            let final = features.checkpoints[features.finalCheckpointIndex]
            let n = final.train.rows, d = final.train.columns
            let chosen: InfluenceSolver = solver == .automatic ? (n < d ? .woodbury : .direct) : solver
            let appearances = Double(features.totalStepsCovered) * Double(features.batchSize)
            let s = try chosen == .woodbury
                ? woodburyInfluence(train: final.train, test: final.test, testRows: testRows, damping: lambda, threads: threads)
                : directInfluence(train: final.train, test: final.test, testRows: testRows, damping: lambda, threads: threads)
            var out = s
            for k in out.storage.indices { out.storage[k] = -s.storage[k] / appearances }
            // A damping near the largest double overflows the damped system (n x damping): the
            // solve then returns NaN or 0 instead of failing, so check what came out.
            if (lambda * Double(max(n, d))).isInfinite || out.storage.contains(where: { !$0.isFinite }) {
                throw SimfluenceError.invalidArgument(
                    "influence: the damped Hessian overflows at damping = \(lambda); \(dampingAdvice(lambda))")
            }
            return (out, lambda, chosen)
        }
    }

    /// `B[z, i] = -sum over (k, eta) of eta * g_i(k) . g_z(k)`, checkpoints in the given order.
    private static func dotScores(features: GradientFeatures, checkpoints: [(k: Int, eta: Double)], testRows: [Int],
                                  threads: Int) -> Matrix {
        let n = features.trainIDs.count
        let rows = try! Parallel.map(testRows.count, threads: threads) { r -> [Double] in
            var out = [Double](repeating: 0, count: n)
            for (k, eta) in checkpoints {
                let c = features.checkpoints[k]
                for i in 0..<n { out[i] -= eta * DenseKernels.rowDot(c.train, i, c.test, testRows[r]) }
            }
            return out
        }
        return Matrix(rows: testRows.count, columns: n, storage: rows.flatMap { $0 })
    }

    /// `scale * M M^T + shift * I` over the rows of `m` (lower triangle filled; the upper is zero).
    static func shiftedGram(_ m: Matrix, scale: Double, shift: Double, threads: Int) throws -> Matrix {
        let n = m.rows
        let rows = try Parallel.map(n, threads: threads) { i -> [Double] in
            var row = [Double](repeating: 0, count: n)
            for j in 0...i { row[j] = DenseKernels.rowDot(m, i, m, j) * scale }
            row[i] += shift
            return row
        }
        return Matrix(rows: n, columns: n, storage: rows.flatMap { $0 })
    }

    /// `S[z, i] = g_z^T (H + damping I)^{-1} g_i` via `n (G G^T + n damping I)^{-1} G g_z`.
    static func woodburyInfluence(train g: Matrix, test: Matrix, testRows: [Int], damping: Double,
                                  threads: Int) throws -> Matrix {
        let n = g.rows
        let gram = try shiftedGram(g, scale: 1, shift: Double(n) * damping, threads: threads)
        guard let chol = DenseCholesky(gram) else {
            throw SimfluenceError.invalidArgument(
                "influence: G G^T + n * damping * I (n = \(n) pool examples, damping = \(damping)) is not positive definite; \(dampingAdvice(damping))")
        }
        let rows = try Parallel.map(testRows.count, threads: threads) { r -> [Double] in
            let u = (0..<n).map { DenseKernels.rowDot(g, $0, test, testRows[r]) }
            return chol.solve(u).map { Double(n) * $0 }
        }
        return Matrix(rows: testRows.count, columns: n, storage: rows.flatMap { $0 })
    }

    /// `S[z, i] = g_i . (H + damping I)^{-1} g_z` by factoring the d x d matrix directly.
    static func directInfluence(train g: Matrix, test: Matrix, testRows: [Int], damping: Double,
                                threads: Int) throws -> Matrix {
        let n = g.rows, d = g.columns
        var gt = Matrix(rows: d, columns: n)
        for i in 0..<n { for a in 0..<d { gt.storage[a * n + i] = g.storage[i * d + a] } }
        let h = try shiftedGram(gt, scale: 1 / Double(n), shift: damping, threads: threads)
        guard let chol = DenseCholesky(h) else {
            throw SimfluenceError.invalidArgument(
                "influence: H + damping * I (d = \(d), damping = \(damping)) is not positive definite; \(dampingAdvice(damping))")
        }
        let rows = try Parallel.map(testRows.count, threads: threads) { r -> [Double] in
            let w = Matrix(rows: 1, columns: d, storage: chol.solve(test.row(testRows[r])))
            return (0..<n).map { DenseKernels.rowDot(g, $0, w, 0) }
        }
        return Matrix(rows: testRows.count, columns: n, storage: rows.flatMap { $0 })
    }
}
