/// A simulator fitted by one method, with how its lambda was chosen and how long it took.
public struct MethodFit: Sendable {
    /// The fitted simulator.
    public var simulator: FittedSimulator
    /// The cross-validation behind the lambda, when it was chosen automatically.
    public var selection: LambdaSelection?
    /// Wall time of lambda selection plus the final fit, in seconds.
    public var seconds: Double
}

/// Fits a method end to end: chooses lambda (fixed or cross-validated) and fits on all given
/// runs, or builds a classic method's simulator from gradient features.
public enum MethodFitting {
    /// Fits any method on `runs` of `log`. Classic methods need `inputs.gradients` and fit only
    /// their `-scaled` scale on `runs`; they do not take a `tests` subset.
    public static func fit(_ method: MethodName, log: TrainingLog, runs: [TrainingRun], inputs: MethodInputs,
                           tests: [Int]? = nil, threads: Int = Parallel.defaultThreads) throws -> MethodFit {
        switch method {
        case .simfluence(let m):
            return try fit(m, log: log, runs: runs, lambda: inputs.lambda, tests: tests, threads: threads,
                           solver: inputs.solver)
        case .extended(let e):
            return try ExtendedFit.fit(e, log: log, runs: runs, lambda: inputs.lambda, every: inputs.every,
                                       tests: tests, threads: threads)
        case .classic(let c):
            guard let gradients = inputs.gradients else {
                throw SimfluenceError.invalidArgument(
                    "\(c.rawValue) needs gradient features (pass --gradients DIR; 'simfluence train' writes them to <log>/gradients)")
            }
            guard tests == nil else {
                throw SimfluenceError.invalidArgument("\(c.rawValue) does not fit a subset of test examples")
            }
            return try ClassicScores.fit(c, features: gradients, log: log, trainingRuns: runs,
                                         damping: inputs.damping, threads: threads)
        }
    }

    /// Fits `method` on `runs` of `log`.
    ///
    /// The returned simulator records in its metadata the chosen lambda and, with
    /// ``LambdaChoice/auto(grid:folds:)``, the grid and the cross-validation scores.
    public static func fit(_ method: SimulatorMethod, log: TrainingLog, runs: [TrainingRun], lambda: LambdaChoice,
                           tests: [Int]? = nil, threads: Int = Parallel.defaultThreads,
                           solver: RidgeSolverChoice = .automatic) throws -> MethodFit {
        let clock = ContinuousClock()
        let start = clock.now
        var selection: LambdaSelection?
        let chosen: Double
        switch lambda {
        case .fixed(let value):
            chosen = value
        case .auto(let grid, let folds):
            let s = try LambdaSearch.select(log: log, runs: runs, form: method.form, grid: grid, folds: folds, threads: threads)
            selection = s
            chosen = s.chosen
        }
        var simulator = try RidgeFit.fit(log: log, runs: runs, form: method.form, lambda: chosen,
                                         method: method.rawValue, tests: tests, threads: threads, solver: solver)
        simulator.startingStep = runs.map(\.firstLossStep).min() ?? 0
        simulator.startingLosses = meanStartingLosses(runs, tests: tests ?? Array(0..<log.testIDs.count))
        simulator.metadata["lambda_choice"] = selection == nil ? "fixed" : "cross-validated"
        if let s = selection {
            simulator.metadata["cv_folds"] = String(s.folds)
            simulator.metadata["cv_grid"] = s.grid.map { String($0) }.joined(separator: ",")
            simulator.metadata["cv_scores"] = s.scores.map { String($0) }.joined(separator: ",")
        }
        let seconds = (clock.now - start).inSeconds
        return MethodFit(simulator: simulator, selection: selection, seconds: seconds)
    }
}

/// Per test example, the mean over `runs` of the first recorded loss (summed in run order).
func meanStartingLosses(_ runs: [TrainingRun], tests: [Int]) -> [Double] {
    tests.map { z in
        var sum = 0.0
        for run in runs { sum += run.losses[0, z] }
        return runs.isEmpty ? 0 : sum / Double(runs.count)
    }
}
