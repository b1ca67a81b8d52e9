import ArgumentParser
import Simfluence

/// `simfluence merge`: join the parts of a sharded fit.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the model files of a sharded fit (fit --shard K/N) into one model.",
        discussion: """
            The parts may be given in any order; the merged model lists the test examples in the \
            log's order and its parameters are bit-identical to an unsharded fit. Parts that do \
            not belong together are refused: different logs (fingerprints), methods, lambdas, \
            shard counts, or duplicated or missing slices. \
            Example: simfluence merge part*.simfluence -o model.simfluence
            """)

    @Argument(help: "The part files, one per shard.")
    var parts: [String]

    @Option(name: [.short, .customLong("output")], help: "Where to write the merged model (written atomically).")
    var output: String

    func run() throws {
        guard !parts.isEmpty else { throw ValidationError("give the part files to merge") }
        let models = try parts.map { try ModelFile.read($0) }
        let merged: FittedSimulator
        do {
            merged = try ShardMerge.merge(models)
        } catch SimfluenceError.invalidArgument(let message) {
            throw SimfluenceError.invalidArgument(message + " (parts: \(parts.joined(separator: " ")))")
        }
        try ModelFile.write(merged, to: output)
        print("merged \(models.count) shards: \(merged.testIDs.count) test examples x \(merged.trainIDs.count) training examples")
        print("wrote \(output)")
    }
}
