/// One row of an evaluation: a method (or baseline), its scores and everything behind them.
public struct MethodEvaluation: Sendable {
    /// Scores on the held-out runs.
    public var scores: MethodScores
    /// Simulated losses of every held-out run (same shapes as the runs' loss matrices).
    public var predictions: [Matrix]
    /// The fitted method; nil for baselines.
    public var fit: MethodFit?
    /// Simulated held-out losses the simulator clamped to its stored range, over every run and
    /// test example; nil for baselines and for simulators without extended terms.
    public var clamped: Int? = nil
}

/// The result of scoring methods and baselines on held-out runs.
public struct EvaluationResult: Sendable {
    /// Names of the held-out runs, in log order.
    public var heldOutRuns: [String]
    /// Names of the training runs the methods were fitted on.
    public var trainingRuns: [String]
    /// One entry per method, in the order asked for, then "persistence" and "mean-run".
    public var results: [MethodEvaluation]
}

/// The evaluation protocol: fit each method on the training runs, simulate every held-out run
/// from its first recorded loss, and score it beside the persistence and mean-run baselines.
public enum Evaluator {
    /// Evaluates `methods` on `split` (classic methods need `inputs.gradients`). `unseen` decides what happens when a held-out curriculum
    /// uses a training example no training run contains.
    public static func evaluate(_ methods: [MethodName], log: TrainingLog, split: HoldoutSplit,
                                inputs: MethodInputs, unseen: UnseenPolicy = .error,
                                threads: Int = Parallel.defaultThreads) throws -> EvaluationResult {
        var results: [MethodEvaluation] = []
        for (m, method) in methods.enumerated() {
            FitProgress.report("fitting and scoring methods", "\(method)", done: m, total: methods.count)
            let fit = try MethodFitting.fit(method, log: log, runs: split.training, inputs: inputs, threads: threads)
            let rollouts = try HeldOutSimulation.simulate(fit.simulator, heldOut: split.heldOut, unseen: unseen)
            let predictions = rollouts.map(\.losses)
            let scores = Scoring.score(method: method.name, lambda: fit.simulator.lambda,
                                       predictions: predictions, heldOut: split.heldOut)
            let clamped = fit.simulator.clamps ? rollouts.reduce(0) { $0 + $1.clamped } : nil
            results.append(MethodEvaluation(scores: scores, predictions: predictions, fit: fit, clamped: clamped))
        }
        FitProgress.report("fitting and scoring methods", "baselines", done: methods.count, total: methods.count)
        for (name, predictions) in Baselines.all(training: split.training, heldOut: split.heldOut) {
            let scores = Scoring.score(method: name, lambda: nil, predictions: predictions, heldOut: split.heldOut)
            results.append(MethodEvaluation(scores: scores, predictions: predictions, fit: nil))
        }
        return EvaluationResult(heldOutRuns: split.heldOut.map(\.name), trainingRuns: split.training.map(\.name),
                                results: results)
    }
}
