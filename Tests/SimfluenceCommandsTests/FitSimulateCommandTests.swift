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

    /// `fit` of a lag-kernel method says which loss scale and saturation exponent it uses (the
    /// model file's kernel), in text and in the JSON, and whether cross-validation chose them.
    @Test func lagKernelFitReportsItsLossScaleAndSaturation() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let log = dir + "/log", model = dir + "/model.simfluence"
        #expect(try CLIRunner.run(["synth", "-o", log, "--runs", "6", "--pool", "10", "--sample", "8", "--batch", "2",
                                   "--epochs", "2", "--test", "4"]).status == 0)
        let text = try CLIRunner.run(["fit", log, "--method", "lag-kernel", "--lambda-grid", "0.01,0.1,1", "--folds", "3", "-o", model])
        #expect(text.status == 0, "\(text.stderr)")
        let k = try #require(try ModelFile.read(model).lagKernel)
        // The choices are among 0 and 1, printed as whole numbers.
        #expect([0, 1].contains(k.lossScale) && [0, 1].contains(k.saturation))
        #expect(text.stdout.contains("lag kernel: loss scale tau = \(Int(k.lossScale)), saturation exponent \(Int(k.saturation)) (chosen by the same cross-validation)"),
                "\(text.stdout)")
        let json = try CLIRunner.run(["fit", log, "--method", "lag-kernel", "--lambda", "0.1", "-o", model, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let kernel = try #require(object["lag_kernel"] as? [String: Any])
        #expect(kernel["loss_scale"] as? Double == 0 && kernel["saturation"] as? Double == 0)
        let linear = try CLIRunner.run(["fit", log, "--lambda", "0.1", "-o", model])
        #expect(linear.status == 0 && !linear.stdout.contains("lag kernel"))
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
