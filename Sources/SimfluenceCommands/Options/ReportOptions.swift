import ArgumentParser
import DigitsWorkload
import Foundation
import Simfluence
import SimfluenceReport

/// Options of the HTML report (`evaluate --report FILE`, `report -o FILE`).
struct ReportOptions: ParsableArguments {
    @Option(help: "Also write a self-contained HTML report (plots, table, influential examples) here.")
    var report: String?

    @Option(name: .customLong("test"), help: "Plot this test example in the report (repeatable). Default: the best, median and worst by all-steps error, and the two whose loss varies most across held-out runs.")
    var tests: [String] = []

    @Flag(help: "Plot losses on a log10 axis in the report.")
    var logY = false

    @Option(help: "Example texts to show beside influential training examples: JSON lines {\"id\": ..., \"input\": \"...\"} (a GPTDynamics example file).")
    var examples: String?

    @Option(help: ArgumentHelp("Methods the report's figures draw (default: the baselines and the 3 best by all-steps MSE; the table lists all).",
                               valueName: "a,b,..."))
    var plotMethods: String?

    /// Writes the report to ``report`` (atomically) when asked; returns the path written.
    @discardableResult
    func write(logPath: String, log: TrainingLog, split: HoldoutSplit, result: EvaluationResult) throws -> String? {
        guard let report else { return nil }
        try ReportWriter(path: report, tests: tests, logY: logY, examples: examples,
                         plotMethods: plotMethods.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
            .write(logPath: logPath, log: log, split: split, result: result)
        return report
    }
}

/// Renders an evaluation as an HTML report and writes it atomically.
struct ReportWriter {
    /// Where the report goes.
    var path: String
    /// Test examples to plot (ids); empty = the report's default selection.
    var tests: [String] = []
    /// Plot losses on a log10 axis.
    var logY = false
    /// A JSON-lines file of example texts, if any.
    var examples: String?
    /// Methods the figures draw (nil: the report's default).
    var plotMethods: [String]? = nil

    func write(logPath: String, log: TrainingLog, split: HoldoutSplit, result: EvaluationResult,
               counterfactuals: [CounterfactualPanel] = [], views: [String: ExampleView]? = nil) throws {
        var input = ReportInput(logPath: logPath, log: log, split: split, result: result,
                                examples: try views ?? exampleViews(log), counterfactuals: counterfactuals,
                                logY: logY, lossLabel: "loss")
        if let plotMethods {
            let known = Set(result.results.map(\.scores.method))
            if let unknown = plotMethods.first(where: { !known.contains($0) }) {
                throw ValidationError("--plot-methods: '\(unknown)' is not a method of this evaluation (it has \(result.results.map(\.scores.method).joined(separator: ", ")))")
            }
            input.plotMethods = plotMethods
        }
        if !tests.isEmpty {
            let index = Dictionary(uniqueKeysWithValues: log.testIDs.enumerated().map { ($1, $0) })
            input.chosenTests = try tests.map { id in
                guard let z = index[id] else { throw ValidationError("--test \(id): the log has no test example '\(id)'") }
                return z
            }
        }
        try AtomicFile.write(Data(HTMLReport.render(input).utf8), to: path)
    }

    /// How to show training examples: --examples texts, or the digit images of a log the
    /// built-in workload wrote, or nothing.
    private func exampleViews(_ log: TrainingLog) throws -> [String: ExampleView] {
        if let examples {
            return try ExampleTextsFile.read(examples).mapValues { ExampleView.text($0) }
        }
        guard log.metadata["dataset"] == DigitsDataset.name else { return [:] }
        return try DigitsViews.views(for: log.trainIDs + log.testIDs)
    }
}

/// Digit images of the built-in workload's examples, by id (the dataset row).
enum DigitsViews {
    static func views(for ids: [String]) throws -> [String: ExampleView] {
        let dataset = try DigitsDataset.bundled()
        var views: [String: ExampleView] = [:]
        for id in ids {
            guard let row = dataset.row(of: id) else { continue }
            views[id] = .digit(pixels: dataset.pixels(ofRow: row), label: dataset.labels[row])
        }
        return views
    }
}
