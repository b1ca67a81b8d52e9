import Foundation
import Testing
@testable import Simfluence

@Suite struct CurriculumFileTests {
    @Test func readsAllForms() throws {
        let dir = TempDir()
        let expected = [["17", "3", "3"], ["a", "12"]]
        dir.write("{\"step\": 1, \"samples_id\": [17, 3, 3]}\n{\"step\": 2, \"samples_id\": [\"a\", 12]}", to: "g.json")
        dir.write("{\"batch\": [17, 3, 3], \"step\": 1, \"note\": \"x\"}\r\n\n{\"step\": 2, \"batch\": [\"a\", 12]}\n", to: "n.jsonl")
        dir.write("  [[17, 3, 3],\n   [\"a\", 12]]\n", to: "a.json")
        #expect(try CurriculumFile.read(dir.at("g.json")) == expected)
        #expect(try CurriculumFile.read(dir.at("n.jsonl")) == expected)
        #expect(try CurriculumFile.read(dir.at("a.json")) == expected)
    }

    @Test func writeThenReadRoundTrips() throws {
        let dir = TempDir()
        let batches = [["007", "12", "-3", "0"], ["x y", "ü", "a\"b\\c", "12"], ["18446744073709551616"]]
        try CurriculumFile.write(batches, to: dir.at("c.jsonl"))
        #expect(try CurriculumFile.read(dir.at("c.jsonl")) == batches)
        let text = try String(contentsOfFile: dir.at("c.jsonl"), encoding: .utf8)
        #expect(text.hasPrefix("{\"step\": 1, \"batch\": [\"007\", 12, -3, 0]}\n"))
    }

    @Test func errors() {
        let dir = TempDir()
        func check(_ text: String, line: Int?, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            let p = dir.write(text, to: "c.json")
            expectInputError(file: "c.json", line: line, fragments, sourceLocation: sourceLocation) { try CurriculumFile.read(p) }
        }
        check("", line: nil, ["empty file"])
        check("[]", line: 1, ["empty curriculum"])
        check("[[1], []]", line: 1, ["step 2: empty batch"])
        check("[[1],\n [2, 2.5]]", line: 2, ["each id of batch 2 to be an integer or a string, found 2.5"])
        check("[[1], 2]", line: 1, ["expected batch 2 to be an array, found 2"])
        check("[[1]] [[2]]", line: 1, ["nothing after the curriculum array"])
        check("{\"step\": 1, \"batch\": [1], \"samples_id\": [2]}", line: 1, ["both \"batch\" and \"samples_id\""])
        check("{\"step\": 1, \"batch\": [1]}\n{\"step\": 2, \"batch\": [1]}\n{\"step\": 2, \"batch\": [1]}", line: 3, ["found step 2 again"])
        check("{\"step\": -1, \"batch\": [1]}", line: 1, ["first step to be 1, found step -1"])
        check("{\"step\": 99999999999999999999, \"batch\": [1]}", line: 1, ["out of range"])
        check("{\"step\": 1, \"batch\": [1]}\n\"oops\"", line: 2, ["to be a JSON object, found a string"])
    }
}

@Suite struct InitialLossFileTests {
    @Test func readsBothForms() throws {
        let dir = TempDir()
        dir.write("{\"12\": 2.5,\n \"t-1\": 1e-3, \"7\": 0}", to: "o.json")
        #expect(try InitialLossFile.read(dir.at("o.json")) == ["12": 2.5, "t-1": 0.001, "7": 0])
        dir.write("{\"id\": 12, \"loss\": 2.5}\n{\"id\": \"t-1\", \"loss\": 0.001, \"extra\": [1]}\n", to: "l.jsonl")
        #expect(try InitialLossFile.read(dir.at("l.jsonl")) == ["12": 2.5, "t-1": 0.001])
        dir.write("{\"id\": 3, \"loss\": 1.25}\n", to: "one.jsonl")
        #expect(try InitialLossFile.read(dir.at("one.jsonl")) == ["3": 1.25])
    }

    @Test func errors() {
        let dir = TempDir()
        func check(_ text: String, line: Int?, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            let p = dir.write(text, to: "i.json")
            expectInputError(file: "i.json", line: line, fragments, sourceLocation: sourceLocation) { try InitialLossFile.read(p) }
        }
        check(" \n", line: nil, ["empty file"])
        check("{\"a\": 1,\n \"b\": \"x\"}", line: 2, ["the loss of test example b to be a number, found the string \"x\""])
        check("{\"a\": 1,\n \"a\": 2}", line: 2, ["test example a appears again (first on line 1)"])
        check("{\"a\": NaN}", line: 1, ["not finite"])
        check("{\"id\": 1, \"loss\": 2}\n{\"id\": 1, \"loss\": 3}", line: 2, ["test example 1 appears again"])
        check("{\"id\": 1, \"loss\": 2}\n{\"id\": 2}", line: 2, ["has no \"loss\" field"])
        check("{\"id\": 1, \"loss\": 2}\n{\"loss\": 2}", line: 2, ["has no \"id\" field"])
        check("{\"id\": 1, \"loss\": 2}\n[1]", line: 2, ["to be an object, found an array"])
        check("{\"id\": 1, \"loss\": 2", line: 1, ["malformed JSON"])
    }
}

@Suite struct AtomicFileTests {
    struct Boom: Error {}

    @Test func writesReplacesAndCleansUp() throws {
        let dir = TempDir()
        let p = dir.at("f.txt")
        try AtomicFile.write(Data("one".utf8), to: p)
        try AtomicFile.write(Data("two".utf8), to: p)
        #expect(try String(contentsOfFile: p, encoding: .utf8) == "two")
        #expect(throws: Boom.self) {
            try AtomicFile.write(to: p) { w in
                try w.write("partial")
                throw Boom()
            }
        }
        #expect(try String(contentsOfFile: p, encoding: .utf8) == "two")
        #expect(dir.listing() == ["f.txt"])
        // A directory in the way, or a missing directory: an error, nothing left behind.
        try FileManager.default.createDirectory(atPath: dir.at("d"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.at("d/sub"), withIntermediateDirectories: true)
        #expect(throws: SimfluenceError.self) { try AtomicFile.write(Data("x".utf8), to: dir.at("d/sub")) }
        #expect(dir.listing("d") == ["sub"])
        do {
            try AtomicFile.write(Data("x".utf8), to: dir.at("nope/f"))
            Issue.record("expected an error")
        } catch let SimfluenceError.invalidArgument(m) {
            #expect(m.contains("nope/f") && m.contains("does not exist"))
        }
        #expect(dir.listing() == ["d", "f.txt"])
    }

    @Test func streamsLargeContent() throws {
        let dir = TempDir()
        let p = dir.at("big")
        var expected = [UInt8]()
        try AtomicFile.write(to: p) { w in
            for k in 0..<3000 {
                let chunk = [UInt8](repeating: UInt8(k % 251), count: 997)
                expected += chunk
                try w.write(bytes: chunk)
            }
            let huge = [UInt8](repeating: 7, count: 3 << 20)
            expected += huge
            try w.write(bytes: huge)
            #expect(w.bytesWritten <= expected.count)
        }
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: p))) == expected)
    }
}

@Suite struct JSONScannerTests {
    func parse(_ text: String) throws -> JSONValue {
        var bytes = Array(text.utf8)
        bytes.append(0)
        return try bytes.withUnsafeBufferPointer { b in
            var s = JSONScanner(base: b.baseAddress!, start: 0, end: b.count - 1, line: 1, file: "t")
            let v = try s.parseValue()
            try s.expectEnd("the value")
            return v.value
        }
    }

    func double(_ text: String) throws -> Double {
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { b in
            var s = JSONScanner(base: UnsafePointer(b.baseAddress!), start: 0, end: b.count, line: 1, file: "t")
            return try s.readDouble("x")
        }
    }

    @Test func numbersAreCorrectlyRounded() throws {
        for text in ["0.1", "2.2250738585072011e-308", "4.9406564584124654e-324", "1e23", "9007199254740993",
                     "0.30000000000000004", "-0.0", "1.7976931348623157e308", "123456789012345678901234567890e-10",
                     "0.000000000000000000000000000000000000000000000000000000000000001234567890123456789012345678901"] {
            #expect(try double(text).bitPattern == Double(text)!.bitPattern, "\(text)")
        }
        #expect(try double("1e400") == .infinity)
        #expect(try double("NaN").isNaN && (try double("-Infinity")) == -.infinity)
        for bad in ["01", "1.", ".5", "+1", "1e", "1e+", "-", "0x10", "1.5.2", "infinity"] {
            #expect(throws: SimfluenceError.self, "\(bad)") { try double(bad) }
        }
    }

    @Test func stringsAndStructures() throws {
        guard case .string(let s) = try parse(#""a\"b\\c\/d\n\u00e9\ud83d\ude00x""#) else { Issue.record("not a string"); return }
        #expect(s == "a\"b\\c/d\né😀x")
        // Lone surrogates are no characters: rejected, not merged into U+FFFD (issue 14).
        for lone in [#""\ud800x""#, #""\udc00""#, #""\ud83d\u0041""#] {
            #expect(throws: SimfluenceError.self, "\(lone)") { try parse(lone) }
        }
        guard case .object(let m) = try parse(#"{"a": [1, true, null, {"b": -2.5e3}], "c": "d"}"#) else { Issue.record("not an object"); return }
        #expect(m.map(\.key) == ["a", "c"])
        #expect(m["a"]?.value.elements?.count == 4)
        for bad in ["[1,]", "{\"a\":1,}", "{\"a\" 1}", "[1 2]", "\"abc", "\"a\nb\"", "{'a': 1}", "tru", "[1]]", "\"\\x\""] {
            #expect(throws: SimfluenceError.self, "\(bad)") { try parse(bad) }
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: SimfluenceError.self) { try parse(deep) }
        // Unknown fields are skipped iteratively, however deep.
        let dir = TempDir()
        dir.write("{\"step\": 1, \"x\": \(deep), \"batch\": [1]}\n", to: "c.jsonl")
        #expect(try CurriculumFile.read(dir.at("c.jsonl")) == [["1"]])
        dir.write("{\"step\": 1, \"x\": \(String(repeating: "[", count: 50)), \"batch\": [1]}\n", to: "c.jsonl")
        #expect(throws: SimfluenceError.self) { try CurriculumFile.read(dir.at("c.jsonl")) }
    }

    @Test func vocabularyOrder() {
        #expect(ExampleIDs.sortedVocabulary(["10", "-3", "2", "-20", "0", "2"]) == ["-20", "-3", "0", "2", "10"])
        #expect(ExampleIDs.sortedVocabulary(["x10", "x2", "7"]) == ["7", "x2", "x10"])
        #expect(ExampleIDs.sortedVocabulary(["99999999999999999999999", "5"]) == ["5", "99999999999999999999999"])
        #expect(JSONText.isCanonicalInteger("0") && JSONText.isCanonicalInteger("-12"))
        #expect(!JSONText.isCanonicalInteger("-0") && !JSONText.isCanonicalInteger("007") && !JSONText.isCanonicalInteger("1e3")
                && !JSONText.isCanonicalInteger("") && !JSONText.isCanonicalInteger("-"))
    }
}

@Suite struct PredictionsFileTests {
    @Test func writesOneLinePerRunAndTestExample() throws {
        let dir = TempDir()
        let p1 = RunPrediction(run: "run7", firstStep: 0, predicted: Matrix(rowArrays: [[1, 2], [0.5, .nan]]),
                               truth: Matrix(rowArrays: [[1, 2], [0.25, 1.5]]))
        let p2 = RunPrediction(run: "what-if", firstStep: 1, predicted: Matrix(rowArrays: [[3, 4], [2, 1], [1, 0.1]]), truth: nil)
        try PredictionsFile.write([p1, p2], testIDs: ["12", "b"], to: dir.at("p.jsonl"))
        let text = try String(contentsOfFile: dir.at("p.jsonl"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0] == "{\"run\": \"run7\", \"test_id\": 12, \"first_step\": 0, \"predicted\": [1.0, 0.5], \"true\": [1.0, 0.25]}")
        #expect(lines[1] == "{\"run\": \"run7\", \"test_id\": \"b\", \"first_step\": 0, \"predicted\": [2.0, null], \"true\": [2.0, 1.5]}")
        #expect(lines[3] == "{\"run\": \"what-if\", \"test_id\": \"b\", \"first_step\": 1, \"predicted\": [4.0, 1.0, 0.1], \"true\": null}")
        let back = try PredictionsFile.read(dir.at("p.jsonl"))
        #expect(back.testIDs == ["12", "b"])
        #expect(back.runs[1] == p2)
        #expect(back.runs[0].truth == p1.truth && back.runs[0].predicted[1, 1].isNaN)
        #expect(dir.listing() == ["p.jsonl"])
    }

    @Test func rejectsMismatchedShapes() {
        let dir = TempDir()
        let bad = RunPrediction(run: "r", firstStep: 0, predicted: Matrix(rows: 2, columns: 2), truth: Matrix(rows: 3, columns: 2))
        #expect(throws: SimfluenceError.self) { try PredictionsFile.write([bad], testIDs: ["a", "b"], to: dir.at("p")) }
        #expect(throws: SimfluenceError.self) { try PredictionsFile.write([bad], testIDs: ["a"], to: dir.at("p")) }
        #expect(dir.listing().isEmpty)
    }
}

@Suite struct SpecialFileTests {
    @Test func aPipeIsRejectedWithoutWaiting() throws {
        let dir = TempDir()
        #expect(mkfifo(dir.at("fifo"), 0o600) == 0)
        expectInputError(file: "fifo", line: nil, ["expected a regular file"]) { try CurriculumFile.read(dir.at("fifo")) }
    }
}
