import ArgumentParser
import Simfluence

/// Which runs of a log are held out for scoring.
struct HoldoutOptions: ParsableArguments {
    @Option(help: "Hold out the last K runs in natural name order (run2 before run10).")
    var holdout: Int = 5

    @Option(help: ArgumentHelp("Hold out these runs instead of the last K.", valueName: "a,b,c"))
    var holdoutRuns: String?

    /// The split of `log` these options describe.
    func split(_ log: TrainingLog) throws -> HoldoutSplit {
        if let names = holdoutRuns {
            return try HoldoutSplit.named(names.split(separator: ",").map(String.init), of: log)
        }
        return try HoldoutSplit.last(holdout, of: log)
    }
}
