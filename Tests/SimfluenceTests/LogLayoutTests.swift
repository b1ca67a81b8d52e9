import Foundation
import Testing
@testable import Simfluence

@Suite struct LogLayoutTests {
    @Test(arguments: [0, 1]) func nativeRoundTripIsExact(firstLossStep: Int) throws {
        let dir = TempDir()
        let log = sampleLog(firstLossStep: firstLossStep)
        try NativeLogWriter.write(log, to: dir.at("log"))
        #expect(try LogReader.detect(dir.at("log")) == .native)
        let back = try LogReader.read(dir.at("log"))
        #expect(back == log)
        // The path of the header works too, and rewriting over the same log is fine.
        #expect(try LogReader.read(dir.at("log/simfluence-log.json")) == log)
        try NativeLogWriter.write(log, to: dir.at("log"))
        #expect(try NativeLogReader.read(dir.at("log")) == log)
        #expect(dir.listing("log/runs/run2") == ["curriculum.jsonl", "losses.npy"])
    }

    @Test func float32LossesAreAccepted() throws {
        let dir = TempDir()
        let log = sampleLog()
        try NativeLogWriter.write(log, to: dir.path, dtype: .float32)
        let back = try NativeLogReader.read(dir.path)
        #expect(back.runs[0].losses.storage == log.runs[0].losses.storage.map { Double(Float($0)) })
        #expect(back.trainIDs == log.trainIDs && back.runs[1].batches == log.runs[1].batches)
    }

    @Test func gptDynamicsRoundTrip() throws {
        let dir = TempDir()
        // The GPTDynamics layout keeps no vocabulary order or metadata, so use the canonical ones.
        var log = sampleLog(firstLossStep: 1)
        log.metadata = [:]
        log.trainIDs = ["a\"quoted\"", "b", "12", "007", "unused", "x y"]
        let canonical = ExampleIDs.sortedVocabulary(["a\"quoted\"", "b", "12", "007", "x y"])
        let remap = log.trainIDs.map { canonical.firstIndex(of: $0) ?? -1 }
        var expected = log
        expected.trainIDs = canonical
        expected.runs = log.runs.map { r in
            var r = r
            r.batches = r.batches.map { $0.map { remap[$0] } }
            return r
        }
        try GPTDynamicsWriter.write(log, to: dir.path)
        #expect(try LogReader.read(dir.path) == expected)
        // Ids: canonical integers as JSON integers, "007" as a string.
        let text = try String(contentsOfFile: dir.at("runs/run2/train_samples_id.json"), encoding: .utf8)
        #expect(text == "{\"step\": 1, \"samples_id\": [\"a\\\"quoted\\\"\", \"b\"]}\n{\"step\": 2, \"samples_id\": [12, 12, \"007\"]}\n{\"step\": 3, \"samples_id\": [\"x y\"]}\n")
        let losses = try String(contentsOfFile: dir.at("runs/run10/all_loss_trajectory.out"), encoding: .utf8)
        #expect(losses.hasPrefix("{\"id\": 3, \"loss_trajectory\": [{\"step\": 1, \"loss\": "))
        #expect(losses.contains("{\"id\": \"t-1\", "))
    }

    @Test func gptDynamicsWriterDropsStepZero() throws {
        let dir = TempDir()
        var log = sampleLog(firstLossStep: 0)
        log.metadata = [:]
        try GPTDynamicsWriter.write(log, to: dir.path)
        let back = try GPTDynamicsReader.read(dir.path)
        for (a, b) in zip(log.runs, back.runs) {
            #expect(b.firstLossStep == 1)
            #expect(b.losses.storage == Array(a.losses.storage.dropFirst(3)))
        }
    }

    @Test func writersRefuseBadLogsAndStaleRuns() throws {
        let dir = TempDir()
        let log = sampleLog()
        var mixed = log
        mixed.runs[1] = TrainingRun(name: "run10", batches: [[1], [0]], firstLossStep: 1, losses: Matrix(rows: 2, columns: 3))
        #expect(throws: SimfluenceError.self) { try NativeLogWriter.write(mixed, to: dir.at("m")) }
        var nan = log
        nan.runs[0].losses[1, 2] = .nan
        #expect(throws: SimfluenceError.self) { try GPTDynamicsWriter.write(nan, to: dir.at("n")) }
        #expect(throws: SimfluenceError.self) { try NativeLogWriter.write(nan, to: dir.at("n")) }
        var badIndex = log
        badIndex.runs[0].batches[0] = [99]
        #expect(throws: SimfluenceError.self) { try NativeLogWriter.write(badIndex, to: dir.at("b")) }
        try NativeLogWriter.write(log, to: dir.at("s"))
        var fewer = log
        fewer.runs.removeLast()
        do {
            try NativeLogWriter.write(fewer, to: dir.at("s"))
            Issue.record("expected a refusal to mix runs")
        } catch let SimfluenceError.invalidArgument(m) {
            #expect(m.contains("already holds run run10"))
        }
        #expect(throws: SimfluenceError.self) { try GPTDynamicsWriter.write(log, to: dir.at("s")) }
    }

    // MARK: Native reader errors

    /// A valid native log with one run of 2 steps and test ids [5, 6], first_loss_step 0.
    func nativeFixture(_ dir: TempDir, header: String? = nil, curriculum: String? = nil, losses: [Double]? = nil, shape: [Int] = [3, 2]) throws {
        dir.write(header ?? "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 6], \"future\": [1, {}]}\n",
                  to: "simfluence-log.json")
        dir.write(curriculum ?? "{\"step\": 1, \"batch\": [\"b\", 3]}\n{\"step\": 2, \"batch\": [\"a\"]}\n", to: "runs/r1/curriculum.jsonl")
        try NPY.write(losses ?? [1, 2, 3, 4, 5, 6], shape: shape, to: dir.at("runs/r1/losses.npy"))
    }

    @Test func nativeMinimalHeaderDefaults() throws {
        let dir = TempDir()
        try nativeFixture(dir)
        let log = try LogReader.read(dir.path)
        #expect(log.testIDs == ["5", "6"] && log.trainIDs == ["3", "a", "b"])
        #expect(log.runs[0].batches == [[2, 0], [1]] && log.runs[0].firstLossStep == 0)
        #expect(log.runs[0].losses == Matrix(rowArrays: [[1, 2], [3, 4], [5, 6]]))
    }

    @Test func nativeErrors() throws {
        func check(header: String? = nil, curriculum: String? = nil, losses: [Double]? = nil, shape: [Int] = [3, 2],
                   file: String, line: Int?, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let dir = TempDir()
            try nativeFixture(dir, header: header, curriculum: curriculum, losses: losses, shape: shape)
            expectInputError(file: file, line: line, fragments, sourceLocation: sourceLocation) { try LogReader.read(dir.path) }
        }
        let h = "simfluence-log.json", l = "runs/r1/losses.npy", c = "runs/r1/curriculum.jsonl"
        try check(losses: [1, 2, 3, 4], shape: [2, 2], file: l, line: nil, ["expected shape (3, 2)", "found (2, 2)"])
        try check(losses: [1, 2, 3, 4, 5, 6], shape: [6], file: l, line: nil, ["expected shape (3, 2)", "found (6,)"])
        try check(losses: [1, 2, 3, .nan, 5, 6], file: l, line: nil, ["row 1 (loss after step 1), column 1 (test example 6)", "not finite (nan)"])
        try check(header: "", file: h, line: nil, ["empty file"])
        try check(header: "{\"version\": 1, \"test_ids\": [1]}", file: h, line: 1, ["has no \"format\" field"])
        try check(header: "{\"format\": \"other\", \"version\": 1, \"test_ids\": [1]}", file: h, line: 1, ["expected \"format\": \"simfluence-log\", found \"other\""])
        try check(header: "{\"format\": \"simfluence-log\",\n \"version\": 2, \"test_ids\": [1]}", file: h, line: 2,
                  ["format version 2", "newer simfluence"])
        try check(header: "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 5]}", file: h, line: 1, ["test id 5 appears twice"])
        try check(header: "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": []}", file: h, line: 1, ["\"test_ids\" is empty"])
        try check(header: "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 6],\n\"first_loss_step\": 2}", file: h, line: 2,
                  ["\"first_loss_step\" to be 0", "found 2"])
        try check(header: "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 6], \"train_ids\": [\"a\", 3]}", file: c, line: nil,
                  ["step 1: training example b is not listed in \"train_ids\""])
        try check(header: "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 6]", file: h, line: 1, ["malformed JSON", "expected ',' or '}'"])
        try check(header: "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 6], \"metadata\": 3}", file: h, line: 1,
                  ["\"metadata\" to be an object, found 3"])
        try check(curriculum: "{\"step\": 1, \"batch\": [1]}\n{\"step\": 3, \"batch\": [1]}\n", file: c, line: 2, ["expected step 2 after step 1, found step 3"])
        try check(curriculum: "{\"step\": 1, \"batch\": []}\n{\"step\": 2, \"batch\": [1]}\n", file: c, line: 1, ["step 1: empty batch"])
        // first_loss_step 1 makes the expected shape (2, 2).
        try check(header: "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 6], \"first_loss_step\": 1}", file: l, line: nil,
                  ["expected shape (2, 2)", "after steps 1...2", "found (3, 2)"])
    }

    /// A gapped log (metadata "loss_every": k) may leave unrecorded rows NaN; they read as the
    /// linear interpolation of the recorded rows around them. NaN anywhere else is refused.
    @Test func nativeGappedLogReadsNaNRowsAsInterpolated() throws {
        let curriculum = (1...5).map { "{\"step\": \($0), \"batch\": [\($0 % 2)]}\n" }.joined()
        func header(_ every: String?) -> String {
            "{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 6]"
                + (every.map { ", \"metadata\": {\"loss_every\": \($0)}" } ?? "") + "}"
        }
        let nan = Double.nan
        // Rows: steps 0...5; with loss_every 2, steps 1 and 3 are unrecorded (5 is the last row).
        let values: [Double] = [4, 8, nan, nan, 2, 4, nan, nan, 1, 2, 0.5, 1]
        let dir = TempDir()
        try nativeFixture(dir, header: header("\"2\""), curriculum: curriculum, losses: values, shape: [6, 2])
        let log = try LogReader.read(dir.path)
        #expect(log.metadata["loss_every"] == "2")
        #expect(log.runs[0].losses == Matrix(rowArrays: [[4, 8], [3, 6], [2, 4], [1.5, 3], [1, 2], [0.5, 1]]))

        func refused(_ header: String, _ losses: [Double], _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let d = TempDir()
            try nativeFixture(d, header: header, curriculum: curriculum, losses: losses, shape: [6, 2])
            expectInputError(file: "runs/r1/losses.npy", line: nil, fragments, sourceLocation: sourceLocation) { try LogReader.read(d.path) }
        }
        // No loss_every: NaN is an error that says what would allow it.
        try refused(header(nil), values, ["row 1 (loss after step 1), column 0 (test example 5)", "not finite (nan)", "only in a log whose metadata has \"loss_every\""])
        // A recorded row (a multiple of k, the first or the last) must not be NaN.
        var bad = values
        bad[4] = nan
        try refused(header("2"), bad, ["row 2 (loss after step 2), column 0", "must be recorded"])
        bad = values
        bad[11] = nan
        try refused(header("2"), bad, ["row 5 (loss after step 5), column 1", "must be recorded"])
        // Infinity is never a gap.
        bad = values
        bad[2] = .infinity
        try refused(header("2"), bad, ["row 1 (loss after step 1), column 0", "not finite (inf)"])
    }

    @Test func nativeMissingPieces() throws {
        let dir = TempDir()
        try nativeFixture(dir)
        try FileManager.default.removeItem(atPath: dir.at("runs/r1/losses.npy"))
        expectInputError(file: "runs/r1/losses.npy", line: nil, ["cannot open: no such file"]) { try LogReader.read(dir.path) }
        try FileManager.default.removeItem(atPath: dir.at("runs"))
        expectInputError(file: "runs", line: nil, ["the runs folder does not exist"]) { try LogReader.read(dir.path) }
        dir.write("", to: "runs")
        expectInputError(file: "runs", line: nil, ["expected the runs folder to be a directory, found a file"]) { try LogReader.read(dir.path) }
    }

    /// The README's first python block (the Python package's LogWriter, imported from python/src)
    /// writes a log this reader accepts.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func pythonSnippetFromTheDocsWritesAReadableLog() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let docs = repo.appendingPathComponent("README.md")
        let markdown = try String(contentsOf: docs, encoding: .utf8)
        let start = try #require(markdown.range(of: "```python\n"))
        let end = try #require(markdown.range(of: "\n```", range: start.upperBound..<markdown.endIndex))
        let dir = TempDir()
        let script = dir.write(String(markdown[start.upperBound..<end.lowerBound]), to: "snippet.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [script, dir.at("mylog")]
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = repo.appendingPathComponent("python/src").path
        p.environment = environment
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let log = try LogReader.read(dir.at("mylog"))
        #expect(log.runs.map(\.name) == ["run0", "run1"])
        #expect(log.testIDs == ["100", "101", "102"])
        #expect(log.metadata == ["trainer": "example"])
        #expect(log.runs[0].steps == 5 && log.runs[0].firstLossStep == 0)
        #expect(log.runs[0].losses.row(0) == [2.0, 2.5, 3.0])
        #expect(log.runs[1].losses[5, 2] == 3.0 * 0.9 * 0.9 * 0.9 * 0.9 * 0.9)
    }
}
