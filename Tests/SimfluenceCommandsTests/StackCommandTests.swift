import Foundation
import Simfluence
import Testing

/// `--method stack` from the command line: fit prints and records the weights, the model
/// simulates and exports, and what a stack cannot do is refused with a reason.
@Suite struct StackCommandTests {
    @Test func fitSimulateAndExportAStack() throws {
        let dir = try CLIRunner.temporaryDirectory()
        #expect(try CLIRunner.run(["synth", "--output", dir + "/log", "--runs", "8", "--pool", "10", "--sample", "8", "--epochs", "2",
                                   "--test", "3", "--batch", "2", "--seed", "5"]).status == 0)
        let fit = try CLIRunner.run(["fit", dir + "/log", "--method", "stack", "--folds", "3", "--lambda-grid", "0.01,1", "--json",
                                     "-o", dir + "/m"])
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stdout.contains("\"stack_weights\":\"") && fit.stdout.contains("cross-validated all-steps MSE: stack "), "\(fit.stdout)")
        let sim = try ModelFile.read(dir + "/m")
        let weights = sim.components.map(\.weight)
        #expect(weights.isEmpty || abs(weights.reduce(0, +) - 1) < 1e-12)
        // simulate runs the file's stack (or its single winner) like any model.
        let curriculum = dir + "/c.jsonl"
        try Data("{\"step\": 1, \"batch\": [\"\(sim.trainIDs[0])\"]}\n".utf8).write(to: URL(fileURLWithPath: curriculum))
        let simulated = try CLIRunner.run(["simulate", "--model", dir + "/m", "--curriculum", curriculum])
        #expect(simulated.status == 0 && simulated.stdout.split(separator: "\n").count == 1 + 2 * 3, "\(simulated.stderr)")
        // A fixed lambda is refused: the weights are chosen by cross-validation.
        let fixed = try CLIRunner.run(["fit", dir + "/log", "--method", "stack", "--lambda", "1", "-o", dir + "/m2"])
        #expect(fixed.status != 0 && fixed.stderr.contains("stack weighs methods by cross-validation"), "\(fixed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m2"))
        // Sharding is refused with the method's reason.
        let shard = try CLIRunner.run(["fit", dir + "/log", "--method", "stack", "--shard", "1/2", "-o", dir + "/m3"])
        #expect(shard.status != 0 && shard.stderr.contains("stack"), "\(shard.stderr)")
    }

    /// `export` writes a stack's components into their own folders and lists them in model.json.
    @Test func exportWritesEveryComponent() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let lin = FittedSimulator(method: .linear, form: .linear, lambda: 0.1, trainIDs: ["a", "b"], testIDs: ["t"],
                                  a: Matrix(rows: 1, columns: 2, storage: [0.5, 0.5]), b: Matrix(rows: 1, columns: 2, storage: [0.1, -0.2]),
                                  seen: [true, true], fittedOn: ["r"])
        var add = lin
        add.method = .additive
        add.form = .additive
        add.b = Matrix(rows: 1, columns: 2, storage: [0.3, 0.4])
        let stack = FittedSimulator.stack([StackComponent(weight: 0.25, simulator: lin), StackComponent(weight: 0.75, simulator: add)],
                                          method: MethodName("stack")!, provenance: FitProvenance())
        try ModelFile.write(stack, to: dir + "/m")
        let r = try CLIRunner.run(["export", "--model", dir + "/m", "-o", dir + "/out", "--format", "csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let b2 = try String(contentsOfFile: dir + "/out/component2-additive/B.csv", encoding: .utf8)
        #expect(b2 == "id,t\na,0.3\nb,0.4\n")
        let info = try String(contentsOfFile: dir + "/out/model.json", encoding: .utf8)
        #expect(info.contains("\"stack\":[{\"folder\":\"component1-linear\",\"method\":\"linear\",\"weight\":0.25}"), "\(info)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/B.csv"))
    }
}
