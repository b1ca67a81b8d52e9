import Foundation
import Simfluence
import Testing

/// `simfluence export`: the parameters read back in NumPy (a Python check) and as CSV.
@Suite struct ExportCommandTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/tiny-gptdynamics").path

    @Test func exportReadsBackInNumPy() throws {
        let dir = try CLIRunner.temporaryDirectory()
        #expect(try CLIRunner.run(["fit", Self.example, "--method", "linear-carry", "--lambda", "1", "-o", dir + "/m"]).status == 0)
        let r = try CLIRunner.run(["export", "--model", dir + "/m", "-o", dir + "/npy"])
        #expect(r.status == 0, "\(r.stderr)")
        let sim = try ModelFile.read(dir + "/m")
        // The expected B (training x test), as exact decimal text.
        let expected = (0..<sim.trainIDs.count).map { i in (0..<sim.testIDs.count).map { String(sim.b[$0, i]) } }
        let json = "[" + expected.map { "[" + $0.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/expected.json"))
        let check = """
            import json, sys
            import numpy as np
            d = sys.argv[1]
            B = np.load(d + "/npy/B.npy"); A = np.load(d + "/npy/A.npy"); u = np.load(d + "/npy/u.npy")
            info = json.load(open(d + "/npy/model.json"))
            expected = np.array(json.load(open(d + "/expected.json")), dtype=np.float64)
            assert B.dtype == np.float64 and B.shape == (len(info["train_ids"]), len(info["test_ids"])), B.shape
            assert np.array_equal(B, expected), "B differs"
            assert A.shape == B.shape and u.shape[1] == len(info["test_ids"]) and info["method"] == "linear-carry"
            print("ok", B.shape)
            """
        let python = try CLIRunner.runShell("python3 -c '\(check.replacingOccurrences(of: "'", with: "'\\''"))' '\(dir)'")
        #expect(python.status == 0 && python.stdout.hasPrefix("ok"), "\(python.stdout) \(python.stderr)")
        // CSV: a header of test ids, one row per training id, the same numbers.
        #expect(try CLIRunner.run(["export", "--model", dir + "/m", "-o", dir + "/csv", "--format", "csv"]).status == 0)
        let lines = try String(contentsOfFile: dir + "/csv/B.csv", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == sim.trainIDs.count + 1)
        #expect(lines[0] == Substring("id," + sim.testIDs.joined(separator: ",")))
        #expect(lines[1] == Substring(sim.trainIDs[0] + "," + expected[0].joined(separator: ",")))
    }

    /// A lag-kernel model's kernel is in model.json, number for number (without it the exported
    /// arrays are not the simulator); other methods have no such member. Read by Python's json,
    /// which rounds correctly
    /// (Foundation's parser on Linux does not).
    @Test func exportWritesTheLagKernel() throws {
        let dir = try CLIRunner.temporaryDirectory()
        for method in ["lag-kernel", "linear"] {
            let fit = try CLIRunner.run(["fit", Self.example, "--method", method, "--lambda", "1", "-o", dir + "/\(method).m"])
            #expect(fit.status == 0, "\(fit.stderr)")
            let r = try CLIRunner.run(["export", "--model", dir + "/\(method).m", "-o", dir + "/\(method)"])
            #expect(r.status == 0, "\(r.stderr)")
            let sim = try ModelFile.read(dir + "/\(method).m")
            let expected = sim.lagKernel.map { k in
                // Swift prints the shortest text that reads back as the same Double; so does Python.
                "{'starts': \(k.starts), 'weights': \(k.weights), 'loss_scale': \(k.lossScale), 'saturation': \(k.saturation)}"
            } ?? "None"
            #expect((method == "lag-kernel") == (sim.lagKernel.map { $0.weights.dropFirst().contains { $0 != 0 } } ?? false))
            let check = "import json, sys; k = json.load(open(sys.argv[1])).get('lag_kernel'); assert k == \(expected), k; print('ok')"
            let python = try CLIRunner.runShell("python3 -c \"\(check)\" '\(dir)/\(method)/model.json'")
            #expect(python.status == 0 && python.stdout.hasPrefix("ok"), "\(method): \(python.stdout) \(python.stderr)")
        }
    }
}
