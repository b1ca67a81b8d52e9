import Foundation
import Simfluence
import Testing

@Suite struct FitSimulateCommandTests {
    @Test func fitThenSimulateMatchesTheLibrary() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let log = dir + "/log", model = dir + "/model.simfluence"
        #expect(try CLIRunner.run(["synth", "-o", log, "--runs", "6", "--pool", "10", "--sample", "8", "--batch", "2",
                                   "--epochs", "2", "--test", "4"]).status == 0)
        let fit = try CLIRunner.run(["fit", log, "--method", "linear", "--lambda", "0.05", "-o", model])
        #expect(fit.status == 0, "\(fit.stderr)")
        let curriculum = log + "/runs/run3/curriculum.jsonl"
        let sim = try CLIRunner.run(["simulate", "--model", model, "--curriculum", curriculum, "--test", "t2"])
        #expect(sim.status == 0, "\(sim.stderr)")
        let lines = sim.stdout.split(separator: "\n")
        #expect(lines.first == "test_id,step,loss")
        #expect(lines.count == 1 + 9)  // steps 0...8 (8 examples x 2 epochs / batch 2)

        let simulator = try ModelFile.read(model)
        let batches = try simulator.resolve(try CurriculumFile.read(curriculum), unseen: .error, source: curriculum)
        let z = try #require(simulator.testIDs.firstIndex(of: "t2"))
        let expected = simulator.simulate(batches, initial: [simulator.startingLosses[z]], tests: [z]).column(0)
        let got = lines.dropFirst().map { Double($0.split(separator: ",")[2])! }
        #expect(got == expected)
    }

    @Test func unseenIdsAreAnErrorUnlessZero() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let log = dir + "/log", model = dir + "/model.simfluence", curriculum = dir + "/c.jsonl"
        #expect(try CLIRunner.run(["synth", "-o", log, "--runs", "3", "--pool", "6", "--sample", "6", "--batch", "2",
                                   "--epochs", "1", "--test", "2"]).status == 0)
        #expect(try CLIRunner.run(["fit", log, "--lambda", "0.1", "-o", model]).status == 0)
        try "{\"step\": 1, \"batch\": [\"e1\", \"e2\"]}\n{\"step\": 2, \"batch\": [\"nope\", \"e3\"]}\n"
            .write(toFile: curriculum, atomically: true, encoding: .utf8)
        let strict = try CLIRunner.run(["simulate", "--model", model, "--curriculum", curriculum])
        #expect(strict.status != 0)
        #expect(strict.stderr.contains(curriculum) && strict.stderr.contains("nope") && strict.stderr.contains("step 2"))
        let lenient = try CLIRunner.run(["simulate", "--model", model, "--curriculum", curriculum, "--unseen", "zero", "--json"])
        #expect(lenient.status == 0, "\(lenient.stderr)")
    }

    @Test func corruptModelFileIsAClearError() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let model = dir + "/broken.simfluence"
        try "not a model".write(toFile: model, atomically: true, encoding: .utf8)
        try "{\"step\": 1, \"batch\": [\"e1\"]}\n".write(toFile: dir + "/c.jsonl", atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["simulate", "--model", model, "--curriculum", dir + "/c.jsonl"])
        #expect(r.status != 0 && r.stderr.contains(model))
    }
}
