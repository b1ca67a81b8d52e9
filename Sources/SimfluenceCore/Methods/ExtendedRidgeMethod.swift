/// The simulators beyond the paper (Docs/Methods.md): the linear recurrence with pooled means,
/// smooth per-step terms, carry-over of additive effects and clamped losses, fitted by
/// teacher-forced ridge on dense normal equations (``ExtendedFit``), optionally refined by
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
    /// The shared step terms couple every unknown, so the normal equations are factored densely.
    public var solvers: Set<SolverKind> { [.auto, .dense] }
    public var sharding: ShardSupport { .byTestRows }

    public func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        FitMemory.estimateExtended(log: request.log, runs: request.runs, configuration: configuration,
                                   lambdas: request.lambdaCount.count, threads: request.threads)
    }

    public func fit(_ request: FitRequest) throws -> MethodFit {
        try ExtendedFit.fit(self, log: request.log, runs: request.runs, lambda: request.inputs.lambda,
                            every: request.inputs.every, tests: request.tests, threads: request.threads)
    }

    public func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        var config = configuration
        if let s = fitted.provenance.smoothing { config.smoothing = s }
        config.carryGrid = [fitted.carry]
        return try ExtendedFit.fit(self, log: request.log, runs: request.runs, lambda: .fixed(fitted.lambda ?? 0),
                                   configuration: config, every: request.inputs.every, tests: request.tests,
                                   threads: request.threads).simulator
    }
}
