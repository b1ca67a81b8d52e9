import ArgumentParser

/// The `simfluence` command: fit, simulate and evaluate training-run simulators.
public struct SimfluenceCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "simfluence",
        abstract: "Training data attribution by simulating training runs (Simfluence).",
        subcommands: []
    )
    public init() {}
}
