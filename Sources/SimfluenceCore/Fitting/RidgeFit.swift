/// The exact ridge fit of Simfluence (Guu et al. 2023): per test example z, independently,
///
///     minimise  sum over rows ( L_t - alpha(c_t) L_{t-1} - beta(c_t) )^2 + lambda (|A|^2 + |B|^2)
///
/// over every step t of every run with both L_{t-1} and L_t recorded (teacher forcing), with
/// alpha and beta restricted by the ``RecurrenceForm``. The normal equations
/// (X^T X + lambda I) theta = X^T y are solved exactly by a dense Cholesky factorisation.
///
/// Only training examples that occur in some row are unknowns ("seen"); the others get A = B = 0,
/// which is the ridge solution for lambda > 0 and the minimum-norm one for lambda = 0.
public enum RidgeFit {
    /// Checks a fit's lambda (finite, >= 0) and test-example columns (inside the log) and returns
    /// the columns to fit (default: all).
    static func checkedArguments(lambda: Double, tests: [Int]?, log: TrainingLog) throws -> [Int] {
        guard lambda.isFinite && lambda >= 0 else {
            throw SimfluenceError.invalidArgument("lambda must be a finite number >= 0 (got \(lambda))")
        }
        let tests = tests ?? Array(0..<log.testIDs.count)
        for z in tests where z < 0 || z >= log.testIDs.count {
            throw SimfluenceError.invalidArgument("test example index \(z) is outside the log's \(log.testIDs.count) test examples")
        }
        return tests
    }

    /// The CG tolerance `choice` resolves to for `unknowns` unknowns per test example at `lambda`,
    /// or nil for the dense path (see ``RidgeSolverChoice``).
    static func iterativeTolerance(_ choice: RidgeSolverChoice, unknowns: Int, lambda: Double) throws -> Double? {
        switch choice {
        case .dense:
            return nil
        case .iterative(let t):
            guard t.isFinite && t > 0 else {
                throw SimfluenceError.invalidArgument("the iterative solver's tolerance must be a finite number > 0 (got \(t))")
            }
            return t
        case .automatic:
            guard unknowns > denseUnknownLimit && lambda > 0 else { return nil }
            return unknowns <= smallIterativeLimit ? smallIterativeTolerance : defaultIterativeTolerance
        }
    }

    /// Fits `form` on `runs` (runs of `log`), one independent ridge problem per test example.
    ///
    /// - Parameters:
    ///   - lambda: the ridge penalty, finite and >= 0 (the objective is an unnormalised sum over
    ///     rows, so its scale grows with the number of rows).
    ///   - method: the simulator's method name; defaults to `form.rawValue`.
    ///   - tests: the test-example columns to fit (default all); the returned simulator's
    ///     `testIDs` and rows are those, in order.
    ///   - threads: worker threads; the result is bit-identical for every thread count.
    ///   - solver: dense exact Cholesky or conjugate gradients (see ``RidgeSolverChoice``); the
    ///     default chooses by the number of unknowns (``denseUnknownLimit``).
    /// - Throws: ``SimfluenceError/invalidArgument(_:)`` for a bad lambda, test index or run shape,
    ///   or a non-finite loss; ``SimfluenceError/singularSystem(testID:lambda:)`` when the
    ///   regularised normal equations of a test example are not safely positive definite (for
    ///   example lambda = 0 with examples that always appear together).
    public static func fit(log: TrainingLog, runs: [TrainingRun], form: RecurrenceForm, lambda: Double,
                           method: MethodName? = nil, tests: [Int]? = nil,
                           threads: Int = Parallel.defaultThreads,
                           solver choice: RidgeSolverChoice = .automatic) throws -> FittedSimulator {
        let tests = try checkedArguments(lambda: lambda, tests: tests, log: log)
        let design = try RidgeDesign(log: log, runs: runs)
        let unknowns = form.unknowns(examples: design.activeCount)
        let tolerance = try iterativeTolerance(choice, unknowns: unknowns, lambda: lambda)
        if let tolerance {
            let preconditioned = IterativeRidge.preconditions(design: design, form: form)
            let mixed = IterativeRidge.usesMixedPrecision(design: design, tolerance: tolerance)
            let r = try fitIterative(design: design, runs: runs, testIDs: log.testIDs, form: form, lambda: lambda,
                                     tests: tests, tolerance: tolerance, threads: threads)
            return simulator(design: design, log: log, runs: runs, form: form, lambda: lambda, method: method, tests: tests,
                             a: r.a, b: r.b, unknowns: unknowns, provenance: FitProvenance(
                                solver: "ridge normal equations, " + (preconditioned ? "block-Jacobi preconditioned " : "") + "conjugate gradients"
                                    + (mixed ? " (single-precision gathers, double-precision residuals)" : ""),
                                iterative: IterativeSolveRecord(tolerance: tolerance, maxIterations: r.iterations,
                                                                maxRelativeResidual: r.residual)))
        }
        let solver = RidgeSolver(design, form: form, lambdas: [lambda])
        let trainCount = design.trainCount
        var aStore = [Double](repeating: 0, count: tests.count * trainCount)
        var bStore = [Double](repeating: 0, count: tests.count * trainCount)
        if !tests.isEmpty && trainCount > 0 && design.activeCount > 0 {
            if solver.sharedFailed[0] {
                throw SimfluenceError.singularSystem(testID: log.testIDs[tests[0]], lambda: lambda)
            }
            let testIDs = log.testIDs
            try aStore.withUnsafeMutableBufferPointer { ab in
                try bStore.withUnsafeMutableBufferPointer { bb in
                    let aOut = RidgeSharedPointer(base: ab.baseAddress!)
                    let bOut = RidgeSharedPointer(base: bb.baseAddress!)
                    try ridgeParallel(tests.count, threads: threads) { items in
                        let ws = RidgeSolver.Workspace(solver: solver)
                        for row in items {
                            let z = tests[row]
                            try solver.assemble(z: z, runs: runs, testIDs: testIDs, ws)
                            guard solver.solve(lambda: 0, ws) else {
                                throw SimfluenceError.singularSystem(testID: testIDs[z], lambda: lambda)
                            }
                            let aRow = aOut.base + row * trainCount, bRow = bOut.base + row * trainCount
                            for (l, g) in design.active.enumerated() {
                                if let o = solver.aOffset { aRow[g] = ws.theta[o + l] }
                                if let o = solver.bOffset { bRow[g] = ws.theta[o + l] }
                            }
                        }
                    }
                }
            }
        }
        return simulator(design: design, log: log, runs: runs, form: form, lambda: lambda, method: method, tests: tests,
                         a: aStore, b: bStore, unknowns: unknowns,
                         provenance: FitProvenance(solver: "ridge normal equations, dense Cholesky"))
    }

    /// Packs fitted parameters into a simulator with the fit's provenance.
    static func simulator(design: RidgeDesign, log: TrainingLog, runs: [TrainingRun], form: RecurrenceForm, lambda: Double,
                          method: MethodName?, tests: [Int], a: [Double], b: [Double], unknowns: Int,
                          provenance: FitProvenance) -> FittedSimulator {
        let trainCount = design.trainCount
        var seen = [Bool](repeating: false, count: trainCount)
        for g in design.active { seen[g] = true }
        var provenance = provenance
        provenance.details["rows"] = String(design.rowCount)
        provenance.details["active_examples"] = String(design.activeCount)
        provenance.details["unknowns_per_test"] = String(unknowns)
        return FittedSimulator(method: method ?? RidgeFit.method(of: form), form: form, lambda: lambda,
                               trainIDs: log.trainIDs, testIDs: tests.map { log.testIDs[$0] },
                               a: Matrix(rows: tests.count, columns: trainCount, storage: a),
                               b: Matrix(rows: tests.count, columns: trainCount, storage: b),
                               seen: seen, fittedOn: runs.map(\.name), provenance: provenance)
    }

    /// The Simfluence method of `form` (linear, additive or multiplicative).
    static func method(of form: RecurrenceForm) -> MethodName {
        switch form {
        case .linear: .linear
        case .additive: .additive
        case .multiplicative: .multiplicative
        }
    }
}
