import Foundation
import Simfluence
import Testing

/// `--workload lm` through the CLI: a small log of the character transformer, its curriculum
/// retrained exactly, and the texts the report shows.
@Suite struct LanguageWorkloadCommandTests {
    static let small = ["--workload", "lm", "--pool", "20", "--sample", "8", "--batch", "4", "--epochs", "1", "--test", "5",
                        "--pretrain-size", "50", "--pretrain-steps", "5", "--width", "16", "--heads", "2", "--threads", "2"]

    @Test func trainAndRetrainTheLanguageModel() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let r = try CLIRunner.run(["train", "-o", dir + "/lm", "--runs", "2", "--no-gradients"] + Self.small, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let log = try LogReader.read(dir + "/lm")
        #expect(log.runs.count == 2 && log.testIDs.count == 5 && log.trainIDs.count == 20 && log.runs[0].steps == 2)
        #expect(log.metadata["workload"] != nil)
        let again = try CLIRunner.run(["train", "-o", dir + "/again", "--curriculum", dir + "/lm/runs/run2/curriculum.jsonl",
                                       "--name", "run2"] + Self.small, timeout: 300)
        #expect(again.status == 0, "\(again.stderr)")
        let replay = try LogReader.read(dir + "/again")
        #expect(replay.runs[0].losses.storage.map(\.bitPattern) == log.runs[1].losses.storage.map(\.bitPattern))
        // The digits-only flags are refused for the language model.
        let flip = try CLIRunner.run(["train", "-o", dir + "/x", "--flip-labels", "0.1"] + Self.small)
        #expect(flip.status == 64 && flip.stderr.contains("digits workload only"))
    }
}
