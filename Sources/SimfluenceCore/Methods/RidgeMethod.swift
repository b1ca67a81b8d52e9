/// Simfluence-Linear and its additive and multiplicative variants (Guu et al., 2023): one ridge
/// problem per test example over every step of the training runs, teacher-forced, solved by
/// dense Cholesky or conjugate gradients (``RidgeFit``); lambda fixed or cross-validated
/// (``LambdaSearch``).
public struct RidgeMethod: RecurrenceSimulated {
    public let name: String
    /// Which parameters the method fits: A and B, B only, or A only.
    public let form: RecurrenceForm
    public let summary: String

    public var family: MethodFamily { .simfluence }
    public var needs: MethodNeeds { MethodNeeds(gradients: false, gappedLogs: .interpolated) }
    public var solvers: Set<SolverKind> { Set(SolverKind.allCases) }
    public var sharding: ShardSupport { .byTestRows }

    public func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        let lambdas = request.lambdaCount
        return FitMemory.estimate(log: request.log, runs: request.runs, form: form, lambdas: lambdas.count,
                                  threads: request.threads, lambda: lambdas.fixed, solver: request.inputs.solver)
    }

    public func fit(_ request: FitRequest) throws -> MethodFit {
        let clock = ContinuousClock()
        let start = clock.now
        let (log, runs, threads) = (request.log, request.runs, request.threads)
        var selection: LambdaSelection?
        let chosen: Double
        switch request.inputs.lambda {
        case .fixed(let value):
            chosen = value
        case .auto(let grid, let folds):
            let s = try LambdaSearch.select(log: log, runs: runs, form: form, grid: grid, folds: folds, threads: threads)
            selection = s
            chosen = s.chosen
        }
        var simulator = try RidgeFit.fit(log: log, runs: runs, form: form, lambda: chosen, method: MethodName(self),
                                         tests: request.tests, threads: threads, solver: request.inputs.solver)
        simulator.startingStep = runs.map(\.firstLossStep).min() ?? 0
        simulator.startingLosses = meanStartingLosses(runs, tests: request.tests ?? Array(0..<log.testIDs.count))
        simulator.provenance.record(selection)
        return MethodFit(simulator: simulator, selection: selection, seconds: (clock.now - start).inSeconds)
    }

    public func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        var request = request
        request.inputs.lambda = .fixed(fitted.lambda ?? 0)
        return try fit(request).simulator
    }

    /// Simfluence-Linear: L_t = (sum A_i) L_{t-1} + sum B_i.
    public static let linear = RidgeMethod(
        name: "linear", form: .linear,
        summary: "Simfluence-Linear, L_t = (sum A_i) L_{t-1} + sum B_i, ridge-fitted with teacher forcing")
    /// Simfluence-Additive: L_t = L_{t-1} + sum B_i.
    public static let additive = RidgeMethod(
        name: "additive", form: .additive, summary: "Simfluence-Additive, L_t = L_{t-1} + sum B_i, ridge-fitted")
    /// Simfluence-Multiplicative: L_t = (sum A_i) L_{t-1}.
    public static let multiplicative = RidgeMethod(
        name: "multiplicative", form: .multiplicative,
        summary: "Simfluence-Multiplicative, L_t = (sum A_i) L_{t-1}, ridge-fitted")
}
