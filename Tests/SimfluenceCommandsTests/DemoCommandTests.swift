import Foundation
import Simfluence
import Testing

@Suite struct DemoCommandTests {
    @Test func shrunkenDemoEndToEnd() throws {
        let out = try CLIRunner.temporaryDirectory()
        let r = try CLIRunner.run(["demo", "--out", out, "--runs", "8", "--holdout", "3", "--pool", "40", "--sample", "24",
                                   "--epochs", "1", "--test", "30", "--counterfactual-tests", "2", "--drop", "3",
                                   "--lambda", "auto", "--folds", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        for word in ["linear", "additive", "multiplicative", "tracin-cp", "tracin-cp-scaled", "grad-dot", "influence", "persistence", "mean-run", "drop", "move to end", out] {
            #expect(r.stdout.contains(word), "demo output lacks '\(word)'")
        }
        let log = try LogReader.read(out + "/log")
        #expect(log.runs.count == 8 && log.testIDs.count == 30 && log.trainIDs.count == 40)
        #expect(log.runs.allSatisfy { $0.steps == 6 && $0.firstLossStep == 0 })
        let model = try ModelFile.read(out + "/linear.simfluence")
        #expect(model.fittedOn == ["run1", "run2", "run3", "run4", "run5"])
        let evaluation = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: out + "/evaluation.json"))) as? [String: Any])
        // Every method (Simfluence and classic) and the two baselines.
        #expect((evaluation["results"] as? [Any])?.count == MethodName.allCases.count + 2)
        // Two test examples x (drop, move to end), each a curriculum file and a real run.
        let counterfactual = try LogReader.read(out + "/counterfactual/log")
        #expect(counterfactual.runs.count == 4)
        let files = try FileManager.default.contentsOfDirectory(atPath: out + "/counterfactual").filter { $0.hasSuffix(".jsonl") }
        #expect(files.count == 4)
        // The report: one page with the counterfactual panels and the digits drawn.
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(html.contains("Counterfactual checks") && html.contains("<svg") && !html.contains("<script"))
    }

    @Test func trainCurriculumReproducesALoggedRunThroughTheGPTDynamicsLayout() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let small = ["--runs", "3", "--pool", "20", "--sample", "8", "--epochs", "1", "--test", "6"]
        #expect(try CLIRunner.run(["train", "-o", dir + "/runs", "--format", "gptdynamics"] + small).status == 0)
        let log = try LogReader.read(dir + "/runs")
        #expect(log.runs.count == 3 && log.runs[0].firstLossStep == 1)
        let curriculum = dir + "/runs/runs/run2/train_samples_id.json"
        let again = try CLIRunner.run(["train", "-o", dir + "/again", "--format", "gptdynamics", "--curriculum", curriculum,
                                       "--name", "run2"] + small)
        #expect(again.status == 0, "\(again.stderr)")
        let replay = try LogReader.read(dir + "/again")
        #expect(replay.runs[0].losses == log.runs[1].losses)
    }
}
