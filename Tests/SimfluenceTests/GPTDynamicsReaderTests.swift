import Foundation
import Testing
@testable import Simfluence

@Suite struct GPTDynamicsReaderTests {
    /// Two runs (run10 sorts after run2), different lengths and subsets of the pool, test
    /// examples in a different order in the second run, unknown fields, duplicate ids in a batch.
    func fixture(_ dir: TempDir, prefix: String = "runs/") {
        dir.write("""
        {"step": 1, "samples_id": [10, 2, 2], "extra": {"nested": [1, {"a": null}]}}
        {"step": 2, "samples_id": [5]}
        {"step": 3, "samples_id": [2, 10]}

        """, to: prefix + "run2/train_samples_id.json")
        dir.write("""
        {"id": 7, "loss_trajectory": [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 0.1, "acc": 0.5}, {"step": 3, "loss": 1e-05}], "input": "text \\"q\\" \\u00e9"}
        {"loss_trajectory": [{"loss": 3.0, "step": 1}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": -0.0}], "id": 3}
        """, to: prefix + "run2/all_loss_trajectory.out")
        dir.write("""
        {"step": 1, "samples_id": [33]}
        {"step": 2, "samples_id": [5, 10]}
        """, to: prefix + "run10/train_samples_id.json")
        dir.write("""
        \(trajectoryLine("3", [9.0, 8.0]))
        \(trajectoryLine("7", [7.0, 6.0]))
        """, to: prefix + "run10/all_loss_trajectory.out")
    }

    @Test func readsSmallFixture() throws {
        let dir = TempDir()
        fixture(dir)
        let log = try GPTDynamicsReader.read(dir.path)
        #expect(log.runs.map(\.name) == ["run2", "run10"])
        #expect(log.trainIDs == ["2", "5", "10", "33"])
        #expect(log.testIDs == ["7", "3"])
        #expect(log.metadata.isEmpty)
        let r2 = log.runs[0], r10 = log.runs[1]
        #expect(r2.firstLossStep == 1 && r10.firstLossStep == 1)
        #expect(r2.batches == [[2, 0, 0], [1], [0, 2]])
        #expect(r10.batches == [[3], [1, 2]])
        #expect(r2.losses == Matrix(rowArrays: [[2.5, 3.0], [0.1, 2.0], [1e-05, -0.0]]))
        #expect(r2.losses[2, 1].sign == .minus)
        // run10 lists 3 before 7; its columns follow the first run's order.
        #expect(r10.losses == Matrix(rowArrays: [[7.0, 9.0], [6.0, 8.0]]))
        #expect(try LogReader.detect(dir.path) == .gptDynamics)
        #expect(try LogReader.read(dir.path) == log)
    }

    @Test func rootMayBeTheRunsFolder() throws {
        let dir = TempDir()
        fixture(dir)
        let a = try GPTDynamicsReader.read(dir.path)
        let b = try LogReader.read(dir.at("runs"))
        #expect(a == b)
        let flat = TempDir()
        fixture(flat, prefix: "")
        #expect(try LogReader.read(flat.path) == a)
    }

    @Test func stringIDsUseNaturalOrderAndParallelReadIsIdentical() throws {
        let dir = TempDir()
        var curriculum = "", losses = ""
        for t in 1...40 { curriculum += "{\"step\": \(t), \"samples_id\": [\"ex\(t % 12)\", \(t % 5)]}\n" }
        for z in 0..<600 { losses += trajectoryLine("\"z\(z)\"", (1...40).map { 1.0 / Double($0 + z) }) + "\n" }
        dir.write(curriculum, to: "runs/r/train_samples_id.json")
        dir.write(losses, to: "runs/r/all_loss_trajectory.out")
        let one = try GPTDynamicsReader.read(dir.path, threads: 1)
        let two = try GPTDynamicsReader.read(dir.path, threads: 2)
        #expect(one == two)
        #expect(one.trainIDs.prefix(7) == ["0", "1", "2", "3", "4", "ex0", "ex1"])
        #expect(one.trainIDs.last == "ex11")
        #expect(one.runs[0].losses[39, 599] == 1.0 / 639.0)
    }

    // MARK: Errors

    /// Writes a one-run log whose files are `curriculum` and `losses`, then expects an error.
    func expectError(curriculum: String = "{\"step\": 1, \"samples_id\": [1]}\n{\"step\": 2, \"samples_id\": [2]}\n",
                     losses: String, file: String = "runs/run1/all_loss_trajectory.out", line: Int?, _ fragments: [String],
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let dir = TempDir()
        dir.write(curriculum, to: "runs/run1/train_samples_id.json")
        dir.write(losses, to: "runs/run1/all_loss_trajectory.out")
        expectInputError(file: file, line: line, fragments, sourceLocation: sourceLocation) { try GPTDynamicsReader.read(dir.path) }
    }

    let good1 = trajectoryLine("1", [1, 2])
    let good2 = trajectoryLine("2", [1, 2])

    @Test func lossFileErrors() {
        expectError(losses: "", line: nil, ["empty file"])
        expectError(losses: "\n  \n", line: nil, ["empty file"])
        expectError(losses: "\(good1)\n{\"id\": 2, \"loss_trajectory\": [{\"step\": 1, \"loss\": 1}\n", line: 2, ["malformed JSON", "expected ',' or ']'"])
        expectError(losses: "\(good1)\n\n{\"id\": 2 \"loss_trajectory\": []}\n", line: 3, ["malformed JSON at column 10", "expected ',' or '}'"])
        expectError(losses: "\(good1) x\n", line: 1, ["test example 1", "malformed JSON", "nothing after the JSON object"])
        expectError(losses: "[1, 2]\n", line: 1, ["expected each line (one test example) to be a JSON object, found an array"])
        expectError(losses: "{\"loss_trajectory\": [{\"step\": 1, \"loss\": 1}, {\"step\": 2, \"loss\": 1}]}\n", line: 1, ["expected an \"id\" field"])
        expectError(losses: "{\"id\": 4}\n", line: 1, ["test example 4", "expected a \"loss_trajectory\" field"])
        expectError(losses: "{\"id\": 4, \"loss_trajectory\": {}}\n", line: 1, ["test example 4", "\"loss_trajectory\" to be a JSON array, found an object"])
        expectError(losses: "{\"id\": 1.5, \"loss_trajectory\": []}\n", line: 1, ["\"id\" to be an integer or a string, found 1.5"])
        expectError(losses: "{\"id\": true, \"loss_trajectory\": []}\n", line: 1, ["\"id\" to be an integer or a string, found a boolean"])
        expectError(losses: "\(good1)\n{\"id\": 2, \"loss_trajectory\": [{\"step\": 1, \"loss\": \"1.0\"}]}\n", line: 2,
                    ["test example 2", "expected \"loss\" of element 1 of \"loss_trajectory\" to be a number, found a string"])
        expectError(losses: "{\"id\": 2, \"loss_trajectory\": [{\"step\": \"1\", \"loss\": 1}]}\n", line: 1,
                    ["test example 2", "\"step\" of element 1", "to be an integer, found a string"])
        expectError(losses: "{\"id\": 2, \"loss_trajectory\": [{\"step\": 1.0, \"loss\": 1}]}\n", line: 1, ["to be an integer, found 1.0"])
        expectError(losses: "{\"id\": 2, \"loss_trajectory\": [{\"loss\": 1}]}\n", line: 1, ["test example 2", "element 1 of \"loss_trajectory\" has no \"step\" field"])
        expectError(losses: "{\"id\": 2, \"loss_trajectory\": [{\"step\": 1}]}\n", line: 1, ["step 1 of \"loss_trajectory\" has no \"loss\" field"])
    }

    @Test func stepErrors() {
        expectError(losses: trajectoryLine("9", [1, 2], steps: [0, 1]), line: 1, ["test example 9: expected the first step to be 1, found step 0"])
        expectError(losses: "\(good1)\n\(trajectoryLine("42", [1, 2, 3, 4, 5], steps: [1, 2, 3, 4, 7]))", line: 2,
                    ["test example 42: expected step 5 after step 4, found step 7 (steps 5...6 are missing)"])
        expectError(losses: trajectoryLine("9", [1, 2, 3], steps: [1, 3, 4]), line: 1, ["expected step 2 after step 1, found step 3 (step 2 is missing)"])
        expectError(losses: trajectoryLine("9", [1, 2], steps: [1, 1]), line: 1, ["expected step 2 after step 1, found step 1 again (duplicate step)"])
        expectError(losses: trajectoryLine("9", [1, 2, 3], steps: [1, 2, 1]), line: 1, ["found step 1 (steps out of order)"])
        expectError(losses: trajectoryLine("9", [1, 2, 3]), line: 1, ["test example 9: the loss trajectory has 3 steps, but the run's train_samples_id.json has 2 steps"])
        expectError(losses: trajectoryLine("9", [1]), line: 1, ["has 1 steps", "has 2 steps"])
    }

    @Test func nonFiniteLosses() {
        expectError(losses: "{\"id\": 5, \"loss_trajectory\": [{\"step\": 1, \"loss\": NaN}, {\"step\": 2, \"loss\": 1}]}", line: 1,
                    ["test example 5: loss at step 1 is not finite (nan)"])
        expectError(losses: "\(good1)\n{\"id\": 5, \"loss_trajectory\": [{\"step\": 1, \"loss\": 1}, {\"step\": 2, \"loss\": -Infinity}]}", line: 2,
                    ["loss at step 2 is not finite (-inf)"])
        expectError(losses: "{\"id\": 5, \"loss_trajectory\": [{\"step\": 1, \"loss\": 1e400}, {\"step\": 2, \"loss\": 1}]}", line: 1,
                    ["loss at step 1 is not finite (inf)"])
    }

    @Test func duplicateTestIDReportsBothLines() {
        expectError(losses: "\(good1)\n\(good2)\n\n\(good1)\n", line: 4, ["test example 1 appears again (first on line 1)"])
        // A duplicate before a parse error is reported first, as a sequential reader would.
        expectError(losses: "\(good1)\n\(good1)\n{bad\n", line: 2, ["appears again"])
    }

    @Test func curriculumErrors() {
        let f = "runs/run1/train_samples_id.json"
        expectError(curriculum: "", losses: good1, file: f, line: nil, ["empty file"])
        expectError(curriculum: "{\"step\": 1, \"samples_id\": [1]}\n{\"step\": 2, \"samples_id\": []}\n", losses: good1, file: f, line: 2,
                    ["step 2: empty batch"])
        expectError(curriculum: "{\"step\": 2, \"samples_id\": [1]}\n", losses: good1, file: f, line: 1, ["expected the first step to be 1, found step 2"])
        expectError(curriculum: "{\"step\": 1, \"samples_id\": [1]}\n{\"step\": 3, \"samples_id\": [1]}\n", losses: good1, file: f, line: 2,
                    ["expected step 2 after step 1, found step 3"])
        expectError(curriculum: "{\"step\": 1, \"samples_id\": [1]}\n{\"step\": 1, \"samples_id\": [1]}\n", losses: good1, file: f, line: 2,
                    ["duplicate step"])
        expectError(curriculum: "{\"step\": 1}\n", losses: good1, file: f, line: 1, ["step 1: expected a \"samples_id\" (or \"batch\") field"])
        expectError(curriculum: "{\"samples_id\": [1]}\n", losses: good1, file: f, line: 1, ["expected a \"step\" field"])
        expectError(curriculum: "{\"step\": 1, \"samples_id\": [1, null]}\n", losses: good1, file: f, line: 1,
                    ["each id in \"samples_id\" to be an integer or a string, found null"])
        expectError(curriculum: "{\"step\": 1, \"samples_id\": \"1\"}\n", losses: good1, file: f, line: 1,
                    ["\"samples_id\" to be a JSON array, found a string"])
        expectError(curriculum: "{\"step\": 1, \"samples_id\": [1]} {\"step\": 2, \"samples_id\": [1]}\n", losses: good1, file: f, line: 1,
                    ["one object per line"])
        expectError(curriculum: "{\"step\": 1, \"samples_id\": [1]}\n{\"step\": 2, \"samples_id\": [1,]}\n", losses: good1, file: f, line: 2,
                    ["malformed JSON"])
    }

    @Test func testSetsMustMatchAcrossRuns() {
        let dir = TempDir()
        let c = "{\"step\": 1, \"samples_id\": [1]}\n"
        dir.write(c, to: "runs/a1/train_samples_id.json")
        dir.write("\(trajectoryLine("1", [1]))\n\(trajectoryLine("2", [1]))\n", to: "runs/a1/all_loss_trajectory.out")
        dir.write(c, to: "runs/a2/train_samples_id.json")
        dir.write("\(trajectoryLine("1", [1]))\n", to: "runs/a2/all_loss_trajectory.out")
        expectInputError(file: "runs/a2/all_loss_trajectory.out", line: nil,
                         ["does not record test example 2, which run a1 records", "1 of 2 test examples missing"]) {
            try GPTDynamicsReader.read(dir.path)
        }
        dir.write("\(trajectoryLine("1", [1]))\n\(trajectoryLine("2", [1]))\n\(trajectoryLine("9", [1]))\n", to: "runs/a2/all_loss_trajectory.out")
        expectInputError(file: "runs/a2/all_loss_trajectory.out", line: 3, ["test example 9 is not recorded by run a1"]) {
            try GPTDynamicsReader.read(dir.path)
        }
    }

    @Test func directoryErrors() {
        let dir = TempDir()
        let file = dir.write("x", to: "afile")
        expectInputError(file: "afile", line: nil, ["expected the log folder to be a directory, found a file"]) { try GPTDynamicsReader.read(file) }
        expectInputError(file: "nothere", line: nil, ["does not exist"]) { try LogReader.read(dir.at("nothere")) }
        dir.write("x", to: "r1/runs")
        expectInputError(file: "r1/runs", line: nil, ["expected runs to be a directory, found a file"]) { try GPTDynamicsReader.read(dir.at("r1")) }
        try? FileManager.default.createDirectory(atPath: dir.at("r2/runs/run1"), withIntermediateDirectories: true)
        expectInputError(file: "r2/runs/run1/train_samples_id.json", line: nil, ["cannot open: no such file"]) { try GPTDynamicsReader.read(dir.at("r2")) }
        try? FileManager.default.createDirectory(atPath: dir.at("r3/runs"), withIntermediateDirectories: true)
        expectInputError(file: "r3/runs", line: nil, ["no runs"]) { try GPTDynamicsReader.read(dir.at("r3")) }
        try? FileManager.default.createDirectory(atPath: dir.at("r4/other"), withIntermediateDirectories: true)
        expectInputError(file: "r4", line: nil, ["not a training log", "simfluence-log.json", "all_loss_trajectory.out"]) { try LogReader.read(dir.at("r4")) }
        dir.write("{\"step\": 1, \"samples_id\": [1]}\n", to: "r5/runs/run1/train_samples_id.json")
        try? FileManager.default.createDirectory(atPath: dir.at("r5/runs/run1/all_loss_trajectory.out"), withIntermediateDirectories: true)
        expectInputError(file: "r5/runs/run1/all_loss_trajectory.out", line: nil, ["expected a file, found a directory"]) {
            try GPTDynamicsReader.read(dir.at("r5"))
        }
    }
}
