/// The lag-kernel simulator (Docs/Methods.md, "lag-kernel"): additive per-example effects that
/// act on the step a batch is trained on and, weighted by a lag kernel learned from the runs, on
/// the steps after it (momentum keeps pushing an update; later updates partly forget it), plus
/// per-step terms. The kernel is shared by every example, so it costs a dozen numbers; B and the
/// step terms are fitted by teacher-forced ridge (``LagKernelFit``), lambda cross-validated over
/// whole training runs with the kernel refitted in every fold.
public struct LagKernelMethod: RecurrenceSimulated {
    public static let lagKernel = LagKernelMethod()

    public var name: String { "lag-kernel" }
    public var family: MethodFamily { .extended }
    public var summary: String {
        "additive effects spread over later steps by a learned lag kernel (momentum, forgetting), with per-step terms"
    }
    public var needs: MethodNeeds { MethodNeeds(gradients: false, gappedLogs: .interpolated) }
    /// One dense system shared by every test example.
    public var solvers: Set<SolverKind> { [.auto, .dense] }
    public var sharding: ShardSupport {
        .unsupported("the lag kernel is fitted on all test examples at once, so a slice of them would learn another kernel")
    }

    public func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        let design = LagKernelDesign(log: request.log, runs: request.runs)
        let n = design.n, width = request.tests?.count ?? request.log.testIDs.count
        let longest = design.batches.map(\.count).max() ?? 0
        let doubles = PackedCholesky.packedCount(n) + 2 * n * width + design.rowCount * width
            + design.groupSizes.count * (n + width) + (longest + 1) * n
        return FitMemory.Estimate(bytes: 8 * doubles,
                                  detail: "\(n) x \(n) shared normal matrix, \(design.rowCount) rows x \(width) test examples")
    }

    public func fit(_ request: FitRequest) throws -> MethodFit {
        let clock = ContinuousClock(), start = clock.now
        let tests = try RidgeFit.checkedArguments(lambda: 0, tests: request.tests, log: request.log)
        var selection: LambdaSelection?
        let lambda: Double
        var pilot: LagKernel?
        switch request.inputs.lambda {
        case .fixed(let value):
            lambda = value
        case .auto(let grid, let folds):
            let s = try LagKernelFit.crossValidate(log: request.log, runs: request.runs, tests: tests, grid: grid, folds: folds,
                                                   threads: request.threads)
            selection = s.selection
            pilot = s.pilot
            lambda = s.selection.chosen
        }
        var simulator = try LagKernelFit.fit(method: MethodName(self), log: request.log, runs: request.runs, tests: tests,
                                             lambda: lambda, start: pilot, threads: request.threads)
        simulator.provenance.record(selection)
        return MethodFit(simulator: simulator, selection: selection, seconds: (clock.now - start).inSeconds)
    }

    public func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        let tests = try RidgeFit.checkedArguments(lambda: fitted.lambda ?? 0, tests: request.tests, log: request.log)
        return try LagKernelFit.fit(method: MethodName(self), log: request.log, runs: request.runs, tests: tests,
                                    lambda: fitted.lambda ?? 0, threads: request.threads)
    }

}
