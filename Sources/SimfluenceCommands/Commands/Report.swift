import ArgumentParser
import Simfluence

/// `simfluence report`: `evaluate`, written as one self-contained HTML file.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate methods on held-out runs and write an HTML report of trajectories, fits and influence.",
        discussion: """
            Takes every flag of 'simfluence evaluate' and writes one self-contained HTML file \
            (inline SVG and CSS, no scripts, readable offline): the log, the metrics table with \
            the best value per column marked, true against simulated trajectories of chosen test \
            examples, predicted against true final losses, and the most helpful and most harmful \
            training examples of each chosen test example. \
            Example: simfluence report Examples/tiny-gptdynamics --method linear --method additive --holdout 3 -o report.html
            """)

    @OptionGroup var evaluation: Evaluate

    @Option(name: [.short, .customLong("output")], help: "Where to write the HTML report (atomically).")
    var output: String

    func validate() throws {
        if let other = evaluation.reportOptions.report, other != output {
            throw ValidationError("report writes its page to -o/--output; --report (evaluate's flag) is not taken here (got --report \(other))")
        }
    }

    func run() throws {
        var evaluate = evaluation
        evaluate.reportOptions.report = output
        try evaluate.run()
    }
}
