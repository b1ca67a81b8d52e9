import ArgumentParser
import Foundation
import Simfluence

/// `simfluence evaluate`: score methods on held-out runs beside the baselines.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score simulators on held-out runs against the persistence and mean-run baselines.",
        discussion: """
            Fits each --method on the runs not held out, simulates every held-out run from its \
            first recorded loss with its own curriculum, and reports all-steps MSE and MAE (mean \
            ± std over run x test-example trajectories), final-step MSE, Spearman across test \
            examples (per held-out run, mean ± std) and Spearman across runs (per test example, \
            mean; needs 3 or more held-out runs). \
            Example: simfluence evaluate Examples/tiny-gptdynamics --method linear --method additive --holdout 3
            """)

    @Argument(help: "The log: a folder in the GPTDynamics layout (or its runs/ folder) or the native layout.")
    var runs: String

    @Option(name: .customLong("method"), help: ArgumentHelp(
        "A simulator to score (repeatable), or 'all'.",
        discussion: MethodRegistry.builtIn.helpText + "; 'all' scores every method the inputs allow (Docs/Methods.md).",
        valueName: "name"))
    var methods: [String] = ["linear"]

    @OptionGroup var holdout: HoldoutOptions
    @OptionGroup var lambda: LambdaOptions
    @OptionGroup var gradientOptions: GradientOptions

    @Option(help: "What to do with held-out curriculum ids no training run contains: 'error', 'mean' (each acts as a typical example: the mean A and B of the seen ones) or 'zero' (dropped from its batch).")
    var unseen: UnseenPolicy = .error

    @Option(help: "Also write every simulated held-out trajectory here, as JSON lines.")
    var predictions: String?

    @OptionGroup var subsampling: SubsamplingOptions
    @OptionGroup var bootstrap: BootstrapOptions

    @Option(help: "With --bootstrap: write every held-out trajectory's per-step intervals here, as JSON lines.")
    var intervals: String?

    @OptionGroup var reportOptions: ReportOptions
    @OptionGroup var compute: ComputeOptions

    @Flag(help: "Print the lambda grid and cross-validation scores of each method (to standard error).")
    var verbose = false

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        try MethodSelection.checkNames(methods)
        if intervals != nil && bootstrap.bootstrap == nil {
            throw ValidationError("--intervals writes bootstrap intervals: it needs --bootstrap B")
        }
    }

    func run() throws {
        try compute.withProgress { try execute() }
    }

    private func execute() throws {
        let log = try Inputs.log(runs)
        let split = try holdout.split(log)
        let gradients = try gradientOptions.features(forLog: runs)
        let chosen = try MethodSelection.resolve(methods, gradientsAvailable: gradients != nil)
        var inputs = MethodInputs(lambda: try lambda.choice(), gradients: gradients, damping: gradientOptions.damping)
        inputs.every = try subsampling.every(for: log)
        let result = try FitPipeline.evaluate(chosen, log: log, split: split, inputs: inputs,
                                              unseen: unseen, threads: compute.threadCount)
        for entry in result.results {
            guard let fit = entry.fit else { continue }
            if verbose, let s = fit.selection {
                StandardStream.error.write("\(entry.scores.method):")
                printSelection(s, to: .error)
            }
            printNotes(fit, method: entry.scores.method)
        }
        let extras = try ExtendedEvaluationExtras.compute(result, log: log, split: split, inputs: inputs,
                                                          replicates: bootstrap.bootstrap,
                                                          seed: bootstrap.bootstrapSeed, threads: compute.threadCount)
        if let intervals { try extras.writeIntervals(to: intervals, split: split, testIDs: log.testIDs) }
        if let predictions {
            try writePredictions(result, split: split, log: log, to: predictions)
        }
        if let path = try reportOptions.write(logPath: runs, log: log, split: split, result: result) {
            StandardStream.error.write("wrote the report to \(path)")
        }
        if json {
            print(EvaluationJSON.make(result, extra: extras.json).rendered())
        } else {
            print("held-out runs (\(split.heldOut.count)): \(result.heldOutRuns.joined(separator: ", "))")
            print("fitted on \(split.training.count) runs; \(log.testIDs.count) test examples")
            print(EvaluationTable.render(result, extra: extras.columns))
        }
    }

    private func writePredictions(_ result: EvaluationResult, split: HoldoutSplit, log: TrainingLog, to path: String) throws {
        let runs = result.results.flatMap { entry in
            zip(split.heldOut, entry.predictions).map { run, predicted in
                RunPrediction(method: entry.scores.method, run: run.name, firstStep: run.firstLossStep,
                              predicted: predicted, truth: run.losses)
            }
        }
        try PredictionsFile.write(runs, testIDs: log.testIDs, to: path)
    }
}
