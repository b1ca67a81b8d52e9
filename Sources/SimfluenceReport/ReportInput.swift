import SimfluenceCore

/// What the report's header says about the log.
public struct LogSummary: Sendable, Equatable {
    /// Where the log was read from (shown as is).
    public var path: String
    /// Number of runs in the log.
    public var runs: Int
    /// Fewest and most training steps of any run.
    public var minSteps: Int
    public var maxSteps: Int
    /// The most common batch size over all steps of all runs.
    public var batchSize: Int
    /// Number of distinct training examples (the pool the runs draw from).
    public var poolSize: Int
    /// Number of test examples every run records.
    public var testExamples: Int

    public init(path: String, runs: Int, minSteps: Int, maxSteps: Int, batchSize: Int, poolSize: Int, testExamples: Int) {
        self.path = path
        self.runs = runs
        self.minSteps = minSteps
        self.maxSteps = maxSteps
        self.batchSize = batchSize
        self.poolSize = poolSize
        self.testExamples = testExamples
    }

    /// Summarises `log`, read from `path`.
    public init(path: String, log: TrainingLog) {
        let steps = log.runs.map(\.steps)
        self.init(path: path, runs: log.runs.count, minSteps: steps.min() ?? 0, maxSteps: steps.max() ?? 0,
                  batchSize: CurriculumEdits.typicalBatchSize(log.runs.flatMap(\.batches)),
                  poolSize: log.trainIDs.count, testExamples: log.testIDs.count)
    }
}

/// How to show a training example in the attribution panel.
public enum ExampleView: Sendable, Equatable {
    /// Its text (shown escaped, shortened to 300 characters).
    case text(String)
    /// An 8x8 image: 64 intensities in 0...1, row-major (as `DigitsDataset.pixels(ofRow:)`
    /// returns them), and its class label.
    case digit(pixels: [Double], label: Int)
}

/// A counterfactual check from the demo: a reference run, an edited version of its curriculum
/// (for example without the examples the simulator says help most), what the simulator predicts
/// for the edit and what really happened when the edit was trained.
///
/// All trajectories are losses of one test example, one value per step, element 0 at
/// ``firstStep``; the edited ones may be shorter than the reference (dropping examples removes
/// steps).
public struct CounterfactualPanel: Sendable {
    /// The test example whose loss is shown.
    public var testID: String
    /// What the edit was, in a sentence, e.g. "drop the 10 training examples the linear
    /// simulator says help test 17 most".
    public var description: String
    /// The name of the reference run.
    public var referenceRun: String
    /// The step of element 0 of every trajectory.
    public var firstStep: Int
    /// The reference run's recorded loss.
    public var referenceTrue: [Double]
    /// The simulator's rollout of the unedited reference curriculum (optional).
    public var referenceSimulated: [Double]?
    /// The simulator's rollout of the edited curriculum.
    public var editedSimulated: [Double]
    /// The recorded loss of a real run trained on the edited curriculum.
    public var editedReal: [Double]

    public init(testID: String, description: String, referenceRun: String, firstStep: Int,
                referenceTrue: [Double], referenceSimulated: [Double]? = nil,
                editedSimulated: [Double], editedReal: [Double]) {
        self.testID = testID
        self.description = description
        self.referenceRun = referenceRun
        self.firstStep = firstStep
        self.referenceTrue = referenceTrue
        self.referenceSimulated = referenceSimulated
        self.editedSimulated = editedSimulated
        self.editedReal = editedReal
    }
}

/// Everything ``HTMLReport/render(_:)`` shows.
///
/// The held-out runs, their predictions in ``result`` and the ids must come from the same log:
/// `result.results[m].predictions[r]` is the prediction of `heldOutRuns[r]`, with one column per
/// entry of ``testIDs``; batch indices index ``trainIDs``.
public struct ReportInput: Sendable {
    /// The page title.
    public var title: String
    /// What the header says about the log.
    public var log: LogSummary
    /// The evaluation: methods then baselines, each with its predictions of every held-out run.
    public var result: EvaluationResult
    /// The held-out runs, in the order of `result.heldOutRuns`.
    public var heldOutRuns: [TrainingRun]
    /// Training example ids (the log's vocabulary).
    public var trainIDs: [String]
    /// Test example ids, in loss-column order.
    public var testIDs: [String]
    /// Test examples (column indices) to plot and attribute; nil picks them with
    /// ``TestSelection/default(result:heldOut:)``. Out-of-range indices are ignored.
    public var chosenTests: [Int]?
    /// The simulator whose removal effects fill the helpful/harmful panel (usually the linear
    /// fit; nil leaves the panel out). It must be fitted on the same vocabulary (``trainIDs``).
    public var attributionSimulator: FittedSimulator?
    /// How to show each training example, by id (missing ids show no content).
    public var examples: [String: ExampleView]
    /// Counterfactual checks to plot at the end (empty: no such section).
    public var counterfactuals: [CounterfactualPanel]
    /// Use a log10 loss axis (decade ticks) instead of a linear one.
    public var logY: Bool
    /// The loss axis title, e.g. "loss" or "loss (nats)".
    public var lossLabel: String
    /// Methods drawn in the trajectory and final-loss figures (names); nil: the two baselines
    /// and the ``defaultPlottedMethods`` best methods by all-steps MSE. The metrics table always
    /// lists every method.
    public var plotMethods: [String]? = nil
    /// How many of the best methods the figures draw by default.
    public static let defaultPlottedMethods = 3

    /// Indices into `result.results` of the methods the figures draw, in table order.
    public var plotted: [Int] {
        let results = result.results
        if let plotMethods {
            return results.indices.filter { plotMethods.contains(results[$0].scores.method) }
        }
        let fitted = results.indices.filter { results[$0].fit != nil && results[$0].scores.allStepsMSE.mean.isFinite }
        let best = Set(fitted.sorted { results[$0].scores.allStepsMSE.mean < results[$1].scores.allStepsMSE.mean }
            .prefix(Self.defaultPlottedMethods))
        return results.indices.filter { best.contains($0) || results[$0].fit == nil }
    }

    /// An input with every field given.
    public init(title: String, log: LogSummary, result: EvaluationResult, heldOutRuns: [TrainingRun],
                trainIDs: [String], testIDs: [String], chosenTests: [Int]? = nil,
                attributionSimulator: FittedSimulator? = nil, examples: [String: ExampleView] = [:],
                counterfactuals: [CounterfactualPanel] = [], logY: Bool = false, lossLabel: String = "loss") {
        self.title = title
        self.log = log
        self.result = result
        self.heldOutRuns = heldOutRuns
        self.trainIDs = trainIDs
        self.testIDs = testIDs
        self.chosenTests = chosenTests
        self.attributionSimulator = attributionSimulator
        self.examples = examples
        self.counterfactuals = counterfactuals
        self.logY = logY
        self.lossLabel = lossLabel
    }

    /// The usual input after ``Evaluator/evaluate(_:log:split:lambda:unseen:threads:)``: ids and
    /// held-out runs from `log` and `split`, and the attribution panel from the "linear" fit (or
    /// the first fitted method when there is no linear one).
    public init(title: String = "Simfluence evaluation report", logPath: String, log: TrainingLog, split: HoldoutSplit,
                result: EvaluationResult, examples: [String: ExampleView] = [:],
                counterfactuals: [CounterfactualPanel] = [], logY: Bool = false, lossLabel: String = "loss") {
        let fits = result.results.compactMap { $0.fit?.simulator }
        self.init(title: title, log: LogSummary(path: logPath, log: log), result: result, heldOutRuns: split.heldOut,
                  trainIDs: log.trainIDs, testIDs: log.testIDs, chosenTests: nil,
                  attributionSimulator: fits.first { $0.method == .linear } ?? fits.first,
                  examples: examples, counterfactuals: counterfactuals, logY: logY, lossLabel: lossLabel)
    }
}
