import Foundation
import Simfluence
import Testing

@Suite struct ClassicMethodsCommandTests {
    /// A small real digits log with gradient features, trained by the CLI.
    func trainedLog() throws -> String {
        let dir = try CLIRunner.temporaryDirectory() + "/digits"
        let r = try CLIRunner.run(["train", "-o", dir, "--runs", "6", "--pool", "24", "--sample", "12", "--epochs", "2",
                                   "--test", "10", "--gradient-every", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        return dir
    }

    @Test func trainWritesGradientsAndEvaluateAllScoresEveryMethod() throws {
        let log = try trainedLog()
        let features = try GradientFeaturesFile.read(log + "/gradients")
        #expect(features.checkpoints.map(\.step) == [0, 3, 6])  // every 3 of the 6 steps, and the end
        #expect(features.checkpoints.map(\.stepsCovered) == [3, 3, 0])
        // A 24-example pool sampled 12 at a time: held-out runs may use examples no training run saw.
        let r = try CLIRunner.run(["evaluate", log, "--method", "all", "--holdout", "3", "--lambda", "0.1", "--json",
                                   "--unseen", "zero"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let names = (object["results"] as? [[String: Any]])?.compactMap { $0["method"] as? String }
        #expect(names == MethodName.allCases.map(\.name) + ["persistence", "mean-run"])
    }

    @Test func classicMethodsWithoutGradientsAreSkippedByAllAndRefusedByName() throws {
        let dir = try CLIRunner.temporaryDirectory() + "/log"
        #expect(try CLIRunner.run(["synth", "-o", dir, "--runs", "5", "--pool", "8", "--sample", "6", "--batch", "2",
                                   "--epochs", "1", "--test", "3"]).status == 0)
        let all = try CLIRunner.run(["evaluate", dir, "--method", "all", "--holdout", "2", "--lambda", "0.1"])
        #expect(all.status == 0 && all.stderr.contains("skipping tracin-cp"))
        let named = try CLIRunner.run(["evaluate", dir, "--method", "influence", "--holdout", "2"])
        #expect(named.status != 0 && named.stderr.contains("gradient features"))
    }

    @Test func attributeRanksWithDocumentedSign() throws {
        let log = try trainedLog()
        let r = try CLIRunner.run(["attribute", log, "--method", "tracin-cp", "--holdout", "2", "--top", "2", "--json", "--unseen", "zero"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((object["effect"] as? String)?.contains("negative = the example helps") == true)
        #expect(object["references"] as? [String] == ["run5", "run6"])
        let tests = try #require(object["tests"] as? [[String: Any]])
        #expect(tests.count == 10)
        for t in tests {
            let ranking = t["ranking"] as? [[String: Any]] ?? []
            let effects = ranking.compactMap { $0["effect"] as? Double }
            // --top 2: at most 2 helpers (negative, labelled "helps") then at most 2 harmful ("hurts").
            #expect(!effects.isEmpty && effects.count <= 4 && effects == effects.sorted())
            #expect(effects.filter { $0 < 0 }.count <= 2 && effects.filter { $0 > 0 }.count <= 2 && !effects.contains(0))
            #expect(ranking.allSatisfy { ($0["effect"] as! Double) < 0 ? $0["sign"] as? String == "helps" : $0["sign"] as? String == "hurts" })
        }
        let csv = try CLIRunner.run(["attribute", log, "--method", "linear", "--lambda", "0.1", "--holdout", "2", "--unseen", "zero", "--test",
                                     tests[0]["test_id"] as! String])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout.hasPrefix("test_id,rank,train_id,effect,sign\n"))
        // Aggregated over the test examples: one ranking, with the counts of tests helped and hurt.
        let agg = try CLIRunner.run(["attribute", log, "--method", "tracin-cp", "--holdout", "2", "--unseen", "zero", "--aggregate", "mean", "--json"])
        #expect(agg.status == 0, "\(agg.stderr)")
        let aggregated = try #require(try JSONSerialization.jsonObject(with: Data(agg.stdout.utf8)) as? [String: Any])
        let rows = try #require(aggregated["ranking"] as? [[String: Any]])
        #expect(aggregated["aggregate"] as? String == "mean" && aggregated["test_examples"] as? Double == 10 && !rows.isEmpty)
        #expect(rows.allSatisfy { ($0["tests_helped"] as! Double) + ($0["tests_hurt"] as! Double) <= 10 })
    }
}
