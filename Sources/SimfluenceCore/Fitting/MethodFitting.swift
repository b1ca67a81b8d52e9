/// A simulator fitted by one method, with how its lambda was chosen and how long it took.
public struct MethodFit: Sendable {
    /// The fitted simulator.
    public var simulator: FittedSimulator
    /// The cross-validation behind the lambda, when it was chosen automatically.
    public var selection: LambdaSelection?
    /// Wall time of lambda selection plus the final fit, in seconds.
    public var seconds: Double
    /// What a user should know about how the fit was made beyond its numbers, one sentence each
    /// (e.g. a candidate hyperparameter the search left out, and why); the command line prints
    /// them as notes. Combinations (`auto`, `stack`) pass on their candidates' notes, prefixed
    /// with the candidate's name.
    public var notes: [String]

    public init(simulator: FittedSimulator, selection: LambdaSelection?, seconds: Double, notes: [String] = []) {
        self.simulator = simulator
        self.selection = selection
        self.seconds = seconds
        self.notes = notes
    }
}

/// Fits a method end to end through its ``MethodDescriptor``, after checking that the request
/// is one the method can honour (solver, slice of the test set, gradient features).
public enum MethodFitting {
    /// Fits `method` on `runs` of `log`.
    ///
    /// - Throws: ``SimfluenceError/invalidArgument(_:)`` when the method does not take the
    ///   requested solver, cannot fit a slice of the test set (`tests`), or needs gradient
    ///   features that `inputs` lacks; whatever the method's fit throws.
    public static func fit(_ method: MethodName, log: TrainingLog, runs: [TrainingRun], inputs: MethodInputs,
                           tests: [Int]? = nil, threads: Int = Parallel.defaultThreads) throws -> MethodFit {
        try check(method, inputs: inputs, sliced: tests != nil)
        return try method.descriptor.fit(FitRequest(log: log, runs: runs, inputs: inputs, tests: tests, threads: threads))
    }

    /// Fits `method` at a lambda choice with a solver (the other inputs at their defaults).
    public static func fit(_ method: MethodName, log: TrainingLog, runs: [TrainingRun], lambda: LambdaChoice,
                           tests: [Int]? = nil, threads: Int = Parallel.defaultThreads,
                           solver: RidgeSolverChoice = .automatic) throws -> MethodFit {
        var inputs = MethodInputs(lambda: lambda)
        inputs.solver = solver
        return try fit(method, log: log, runs: runs, inputs: inputs, tests: tests, threads: threads)
    }

    /// Refuses, before any work, a request `method` cannot honour: a solver it does not use, a
    /// slice of the test set it cannot fit, or missing gradient features.
    public static func check(_ method: MethodName, inputs: MethodInputs, sliced: Bool) throws {
        let d = method.descriptor
        let kind = inputs.solver.kind
        guard d.solvers.contains(kind) else {
            let takes = MethodRegistry.builtIn.methods.filter { $0.descriptor.solvers.contains(kind) }.map(\.name)
            throw SimfluenceError.invalidArgument(
                "\(d.name) does not take --solver \(kind.rawValue) (it takes \(d.solvers.sorted().map(\.rawValue).joined(separator: ", "))); --solver \(kind.rawValue) applies to \(takes.joined(separator: ", "))")
        }
        if sliced, case .unsupported(let why) = d.sharding {
            throw SimfluenceError.invalidArgument("\(d.name) cannot fit a slice of the test set (--shard): \(why)")
        }
        if d.needs.gradients && inputs.gradients == nil {
            throw SimfluenceError.missingGradients(method: d.name)
        }
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
