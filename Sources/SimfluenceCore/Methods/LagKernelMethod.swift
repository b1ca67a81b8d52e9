/// The lag-kernel simulator (Docs/Methods.md, "lag-kernel"): additive per-example effects that
/// act on the step a batch is trained on and, weighted by a lag kernel learned from the runs, on
/// the steps after it (momentum keeps pushing an update; later updates partly forget it), plus
/// per-step terms. The kernel is shared by every example, so it costs a dozen numbers; B and the
/// step terms are fitted by teacher-forced ridge (``LagKernelFit``), lambda cross-validated over
/// whole training runs under a pilot kernel, and so is the kernel's loss scale (``LagKernel/lossScale``:
/// whether effects shrink as the test loss falls), and so is the saturation exponent
/// (``LagKernel/saturation``: whether a training example's effects shrink as the test examples it
/// helps are learnt). `lag-kernel-tracin` shrinks each test example's
/// B towards a fitted combination of its TracIn-CP scores at each saved checkpoint (gradient
/// features) instead of towards 0.
public struct LagKernelMethod: RecurrenceSimulated {
    /// Effects shrunk towards 0.
    public static let lagKernel = LagKernelMethod(gradientPrior: false)
    /// Effects shrunk towards a fitted combination of per-checkpoint TracIn-CP scores (needs gradient features).
    public static let lagKernelTracin = LagKernelMethod(gradientPrior: true)

    /// Whether B is shrunk towards sum_k gamma_zk x TracIn-CP_k(z) (TracIn-CP at checkpoint k alone,
    /// gamma_zk fitted) rather than 0.
    public let gradientPrior: Bool
    /// Above this many active training examples the loss scale is not cross-validated (tau = 0
    /// is used, and the fit says so in its notes): ``LagKernelFit/lossScaleExampleLimit``.
    public var lossScaleExampleLimit = LagKernelFit.lossScaleExampleLimit

    public var name: String { gradientPrior ? "lag-kernel-tracin" : "lag-kernel" }
    public var family: MethodFamily { .extended }
    public var summary: String {
        gradientPrior
            ? "lag-kernel whose effects are shrunk towards a fitted combination of TracIn-CP's per-checkpoint scores (needs gradients)"
            : "additive effects spread over later steps by a learned lag kernel (momentum, forgetting), with per-step terms and cross-validated saturation"
    }
    public var needs: MethodNeeds { MethodNeeds(gradients: gradientPrior, gappedLogs: .interpolated) }
    /// Without the gradient prior: dense factorisations up to ``LagKernelFit/iterativeExampleLimit``
    /// active examples and conjugate gradients above (`auto`), or either always. With it: dense
    /// only (the prior's solves are not iterative).
    public var solvers: Set<SolverKind> { gradientPrior ? [.auto, .dense] : Set(SolverKind.allCases) }
    public var sharding: ShardSupport {
        .unsupported("the lag kernel is fitted on all test examples at once, so a slice of them would learn another kernel")
    }

    public func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        let design = LagKernelDesign(log: request.log, runs: request.runs, solver: request.inputs.solver)
        let n = design.n, width = request.tests?.count ?? request.log.testIDs.count
        let longest = design.batches.map(\.count).max() ?? 0
        let scores = gradientPrior ? FitMemory.estimateClassic(log: request.log, features: request.inputs.gradients).bytes : 0
        if !gradientPrior && design.iterative {
            // Conjugate gradients: no n x n matrix. The targets (losses and their changes, rows x
            // test examples), B and its start and result (n x test examples), the design's entries
            // both ways, per worker thread a block's vectors (8 lanes), and for the lambda search
            // (its folds run one after the other) a fold's targets and three B's, and the blocks'
            // setups the walk keeps within their budget.
            let entries = design.batches.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
            let threads = max(1, request.threads)
            var doubles = 2 * design.rowCount * width + 4 * n * width + 3 * entries + 2 * design.groupSizes.count * width
                + threads * 8 * (6 * n + 2 * design.rowCount + longest + design.groupSizes.count)
            if case .auto = request.inputs.lambda {
                let setups = LagKernelIterative.setupBytes(width: width, rows: design.rowCount, n: n)
                doubles += 2 * design.rowCount * width + 3 * n * width + (setups <= LagKernelIterative.setupBudget ? setups / 8 : 0)
            }
            return FitMemory.Estimate(bytes: 8 * doubles,
                                      detail: "conjugate gradients on \(n) training examples, \(design.rowCount) rows x \(width) test examples")
        }
        // The shared normal matrix, and per worker thread a fold's matrix and the factor copied
        // from it (the folds of the lambda search run in parallel), or with a loss scale a test
        // example's matrix and its factor; one more per thread for what a fold keeps beside them
        // (measured on the medium log, 5,000 examples, 2 threads: 0.71 GB, 7 matrices of 0.1 GB).
        let doubles = PackedCholesky.packedCount(n) * (1 + 3 * max(1, request.threads)) + 2 * n * width + 2 * design.rowCount * width
            + design.groupSizes.count * (n + width) + (longest + 1) * n
        // The saturation search's kept fits (LagKernelFit.keptFitsBudget), as crossValidate counts them.
        var kept = 0
        if case .auto(let grid, let folds) = request.inputs.lambda, n <= lossScaleExampleLimit {
            let bytes = LagKernelFit.keptFitsBytes(folds: min(folds, request.runs.count), lambdas: grid.count, examples: n, tests: width)
            kept = bytes <= LagKernelFit.keptFitsBudget ? bytes : 0
        }
        return FitMemory.Estimate(bytes: 8 * doubles + scores + kept,
                                  detail: "\(n) x \(n) shared normal matrix, \(design.rowCount) rows x \(width) test examples")
    }

    public func fit(_ request: FitRequest) throws -> MethodFit {
        let clock = ContinuousClock(), start = clock.now
        let tests = try RidgeFit.checkedArguments(lambda: 0, tests: request.tests, log: request.log)
        let prior = try self.prior(request, tests: tests)
        var selection: LambdaSelection?
        let lambda: Double
        var pilot: LagKernel?
        var skipped: [Double] = [], skippedSaturations: [Double] = []
        var saturationLambda: Double?
        switch request.inputs.lambda {
        case .fixed(let value):
            lambda = value
        case .auto(let grid, let folds):
            let s = try LagKernelFit.crossValidate(log: request.log, runs: request.runs, tests: tests, grid: grid, folds: folds,
                                                   prior: prior, lossScaleExampleLimit: lossScaleExampleLimit,
                                                   solver: request.inputs.solver, threads: request.threads)
            selection = s.selection
            pilot = s.pilot
            lambda = s.selection.chosen
            skipped = s.skippedLossScales
            skippedSaturations = s.skippedSaturations
            saturationLambda = s.saturationLambda
        }
        var simulator = try LagKernelFit.fit(method: MethodName(self), log: request.log, runs: request.runs, tests: tests,
                                             lambda: lambda, start: pilot, fixedKernel: pilot != nil,
                                             kernelLambda: pilot == nil ? LagKernelFit.kernelLambda : nil, prior: prior,
                                             saturationLambda: saturationLambda, solver: request.inputs.solver,
                                             threads: request.threads)
        var notes: [String] = []
        let n = simulator.seen.lazy.filter { $0 }.count   // the active training examples
        func listed(_ values: [Double]) -> String {
            values.map { $0 == $0.rounded() ? String(Int($0)) : String($0) }.joined(separator: ", ")
        }
        if !skipped.isEmpty {
            notes.append("loss scale \(listed(skipped)) not cross-validated: "
                         + "with \(n) training examples (over \(lossScaleExampleLimit)) each test example would need "
                         + "its own \(n) x \(n) factorisation per fold and lambda; tau = 0 is used")
        }
        if !skippedSaturations.isEmpty {
            notes.append("saturation exponent \(listed(skippedSaturations)) not cross-validated: "
                         + "with \(n) training examples (over \(lossScaleExampleLimit)) its weights would cost \(n) x "
                         + "(test examples) at every step of every fold's fit and rollouts; exponent 0 is used")
        }
        simulator.provenance.record(selection)
        if prior != nil { simulator.provenance.details["gradient_prior"] = "tracin-cp" }
        simulator.provenance.details["loss_scale"] = String(simulator.lagKernel?.lossScale ?? 0)
        simulator.provenance.details["saturation"] = String(simulator.lagKernel?.saturation ?? 0)
        if !skipped.isEmpty { simulator.provenance.details["loss_scale_note"] = notes[0] }
        if !skippedSaturations.isEmpty { simulator.provenance.details["saturation_note"] = notes[notes.count - 1] }
        return MethodFit(simulator: simulator, selection: selection, seconds: (clock.now - start).inSeconds, notes: notes)
    }

    public func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        let tests = try RidgeFit.checkedArguments(lambda: fitted.lambda ?? 0, tests: request.tests, log: request.log)
        // The kernel is held at the fitted one: the fit's last step solved for B under it (and
        // with saturation, w from a fit without psi at the lambda the model records).
        var simulator = try LagKernelFit.fit(method: MethodName(self), log: request.log, runs: request.runs, tests: tests,
                                             lambda: fitted.lambda ?? 0, start: fitted.lagKernel, fixedKernel: fitted.lagKernel != nil,
                                             prior: try prior(request, tests: tests),
                                             saturationLambda: fitted.provenance.details["saturation_lambda"].flatMap(Double.init),
                                             solver: request.inputs.solver, threads: request.threads)
        simulator.provenance.details = fitted.provenance.details.merging(simulator.provenance.details) { $1 }
        return simulator
    }

    /// The prior's components, rows in `tests` order: TracIn-CP's scores restricted to each saved
    /// checkpoint that covers training steps (one fitted weight each), when the method uses them.
    func prior(_ request: FitRequest, tests: [Int]) throws -> [Matrix]? {
        guard gradientPrior else { return nil }
        guard let features = request.inputs.gradients else {
            throw SimfluenceError.missingGradients(method: name)
        }
        let parts = features.checkpoints.filter { $0.stepsCovered > 0 }.map { checkpoint in
            var one = features
            one.checkpoints = [checkpoint]
            return one
        }
        return try parts.map { part in
            let scores = try ClassicScores.simulator(.tracinCP, features: part, log: request.log, trainingRuns: request.runs,
                                                     threads: request.threads).b
            var rows = Matrix(rows: tests.count, columns: scores.columns)
            for (c, z) in tests.enumerated() { for i in 0..<scores.columns { rows[c, i] = scores[z, i] } }
            return rows
        }
    }
}
