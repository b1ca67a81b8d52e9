/// The simulators beyond the paper (Docs/Methods.md): the linear recurrence with pooled means,
/// smooth per-step terms, carry-over of additive effects and clamped losses, fitted by
/// teacher-forced ridge (``ExtendedFit``: dense normal equations for small problems, conjugate
/// gradients on the structured design above ``RidgeFit/denseUnknownLimit``), optionally refined by
/// rollout fitting. Each method is one ``ExtendedConfiguration``; lambda (and the carry-over
/// decay, where the configuration has several) are cross-validated over whole training runs.
public struct ExtendedRidgeMethod: RecurrenceSimulated {
    public let name: String
    /// The model structure and fitting recipe.
    public let configuration: ExtendedConfiguration
    public let summary: String

    public init(name: String, configuration: ExtendedConfiguration, summary: String) {
        self.name = name
        self.configuration = configuration
        self.summary = summary
    }

    public var family: MethodFamily { .extended }
    public var needs: MethodNeeds {
        MethodNeeds(gradients: false, gappedLogs: configuration.rollout ? .observedRowsOnly : .interpolated)
    }
    /// Dense Cholesky for small problems; conjugate gradients on the structured design (step
    /// terms and carry-over as structured columns, ``ExtendedIterative``) for large ones.
    public var solvers: Set<SolverKind> { Set(SolverKind.allCases) }
    public var sharding: ShardSupport { .byTestRows }

    public func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        let lambdas = request.lambdaCount
        return FitMemory.estimateExtended(log: request.log, runs: request.runs, configuration: configuration,
                                          lambdas: lambdas.count, threads: request.threads, lambda: lambdas.fixed,
                                          solver: request.inputs.solver)
    }

    public func fit(_ request: FitRequest) throws -> MethodFit {
        try ExtendedFit.fit(self, log: request.log, runs: request.runs, lambda: request.inputs.lambda,
                            every: request.inputs.every, tests: request.tests, threads: request.threads,
                            solver: request.inputs.solver)
    }

    public func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        var config = configuration
        if let s = fitted.provenance.smoothing { config.smoothing = s }
        config.carryGrid = [fitted.carry]
        return try ExtendedFit.fit(self, log: request.log, runs: request.runs, lambda: .fixed(fitted.lambda ?? 0),
                                   configuration: config, every: request.inputs.every, tests: request.tests,
                                   threads: request.threads, solver: request.inputs.solver).simulator
    }
}
