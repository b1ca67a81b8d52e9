import ArgumentParser

/// The `simfluence` command: fit, simulate and evaluate training-run simulators.
public struct SimfluenceCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "simfluence",
        abstract: "Training data attribution by simulating training runs (Simfluence).",
        discussion: """
            Learns, from logged training runs, a simulator that predicts every test example's loss \
            after every step of any curriculum, and scores it on held-out runs. Start with \
            `simfluence demo`. Logs are read in the GPTDynamics layout or simfluence's native \
            layout (see the README).
            """,
        version: SimfluenceCommand.version,
        subcommands: [Demo.self, Train.self, Synth.self, Fit.self, Merge.self, Simulate.self, Evaluate.self, Attribute.self, Report.self, Counterfactuals.self, Export.self]
    )
    public init() {}

    /// The version `simfluence --version` prints.
    public static let version = "0.5.0"
}
