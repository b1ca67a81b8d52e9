import Foundation
import Testing
@_spi(Fuzzing) @testable import Simfluence

/// Bad inputs of Docs/BadInputs.md not covered by the reader suites (GPTDynamicsReaderTests,
/// LogLayoutTests, NPYTests, ModelFileTests, SmallFilesTests). Case numbers refer to the doc.
@Suite struct BadInputCatalogueTests {
    let curriculum2 = "{\"step\": 1, \"samples_id\": [1]}\n{\"step\": 2, \"samples_id\": [2]}\n"

    /// A one-run GPTDynamics log.
    func gptLog(_ dir: TempDir, curriculum: String? = nil, losses: String) {
        dir.write(curriculum ?? curriculum2, to: "runs/run1/train_samples_id.json")
        dir.write(losses, to: "runs/run1/all_loss_trajectory.out")
    }

    /// A one-run native log (test ids 5 and 6, two steps, first_loss_step 0).
    func nativeLog(_ dir: TempDir, losses: [Double] = [1, 2, 3, 4, 5, 6]) throws {
        dir.write("{\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [5, 6]}\n", to: "simfluence-log.json")
        dir.write("{\"step\": 1, \"batch\": [1]}\n{\"step\": 2, \"batch\": [2]}\n", to: "runs/r1/curriculum.jsonl")
        try NPY.write(losses, shape: [3, 2], to: dir.at("runs/r1/losses.npy"))
    }

    // MARK: Losses: negative accepted, non-finite and absurdly large rejected (cases 6-8)

    @Test func negativeLossesAreAccepted() throws {
        let dir = TempDir()
        gptLog(dir, losses: trajectoryLine("1", [-2.5, -1e-300]) + "\n")
        #expect(try LogReader.read(dir.path).runs[0].losses.storage == [-2.5, -1e-300])
        let native = TempDir()
        try nativeLog(native, losses: [-1, 2, -3, 4, -5, 6])
        #expect(try LogReader.read(native.path).runs[0].losses[2, 0] == -5)
        native.write("{\"7\": -0.25}", to: "i.json")
        #expect(try InitialLossFile.read(native.at("i.json")) == ["7": -0.25])
    }

    @Test func absurdlyLargeLossesAreRejected() throws {
        let dir = TempDir()
        gptLog(dir, losses: "\(trajectoryLine("1", [1, 2]))\n{\"id\": 4, \"loss_trajectory\": [{\"step\": 1, \"loss\": 1}, {\"step\": 2, \"loss\": -2e30}]}\n")
        expectInputError(file: "runs/run1/all_loss_trajectory.out", line: 2, ["test example 4", "loss at step 2 is -2e+30, beyond ±1e30"]) {
            try LogReader.read(dir.path)
        }
        // The bound itself is accepted.
        gptLog(dir, losses: trajectoryLine("1", [1e30, -1e30]) + "\n")
        #expect(try LogReader.read(dir.path).runs[0].losses.storage == [1e30, -1e30])
        let native = TempDir()
        try nativeLog(native, losses: [1, 2, 3, 4, 5e31, 6])
        expectInputError(file: "runs/r1/losses.npy", line: nil, ["row 2 (loss after step 2), column 0 (test example 5)", "beyond ±1e30"]) {
            try LogReader.read(native.path)
        }
        native.write("{\"id\": 1, \"loss\": 2}\n{\"id\": 2, \"loss\": 1e300}\n", to: "i.jsonl")
        expectInputError(file: "i.jsonl", line: 2, ["the loss of test example 2 is 1e+300, beyond ±1e30"]) {
            try InitialLossFile.read(native.at("i.jsonl"))
        }
        native.write("{\"a\": Infinity}", to: "j.json")
        expectInputError(file: "j.json", line: 1, ["not finite"]) { try InitialLossFile.read(native.at("j.json")) }
    }

    // MARK: Truncation (cases 2, 17)

    @Test func truncatedLastLines() {
        let dir = TempDir()
        // The writer died mid-number, mid-key, mid-string: no final newline.
        for cut in ["{\"id\": 2, \"loss_trajectory\": [{\"step\": 1, \"loss\": 1}, {\"step\": 2, \"loss\": 1.",
                    "{\"id\": 2, \"loss_traj", "{\"id\": \"abc"] {
            gptLog(dir, losses: "\(trajectoryLine("1", [1, 2]))\n\(cut)")
            expectInputError(file: "runs/run1/all_loss_trajectory.out", line: 2, ["malformed JSON"]) { try LogReader.read(dir.path) }
        }
        gptLog(dir, curriculum: "{\"step\": 1, \"samples_id\": [1]}\n{\"step\": 2, \"samples_id\": [2, 3", losses: "")
        expectInputError(file: "runs/run1/train_samples_id.json", line: 2, ["malformed JSON", "expected ',' or ']'", "found end of file"]) {
            try LogReader.read(dir.path)
        }
        let c = dir.write("{\"step\": 1, \"batch\": [1]}\n{\"st", to: "c.jsonl")
        expectInputError(file: "c.jsonl", line: 2, ["malformed JSON"]) { try CurriculumFile.read(c) }
    }

    @Test func truncatedBinaryArraysAndModels() throws {
        let dir = TempDir()
        try nativeLog(dir)
        let path = dir.at("runs/r1/losses.npy")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // Cut inside the data, inside the header, inside the magic.
        for keep in [bytes.count - 1, bytes.count - 8, 40, 7] {
            dir.write(bytes: Array(bytes.prefix(keep)), to: "runs/r1/losses.npy")
            guard let e = inputError({ try LogReader.read(dir.path) }) else { continue }
            #expect(e.file.hasSuffix("runs/r1/losses.npy"))
            #expect(e.message.contains("truncated") || e.message.contains("only 7 bytes"), "\(e.message)")
        }
        let model = FittedSimulator(method: .linear, form: .linear, lambda: 0.5, trainIDs: ["a"], testIDs: ["t"],
                                    a: Matrix(rows: 1, columns: 1, repeating: 0.5), b: Matrix(rows: 1, columns: 1),
                                    seen: [true], fittedOn: ["r"], startingStep: 1, startingLosses: [2.5])
        let encoded = [UInt8](ModelFile.encode(model))
        for keep in stride(from: 0, to: encoded.count, by: 7) {
            dir.write(bytes: Array(encoded.prefix(keep)), to: "m.simfluence")
            guard let e = inputError({ try ModelFile.read(dir.at("m.simfluence")) }) else { continue }
            #expect(e.message.contains("truncated") || e.message.contains("empty") || e.message.contains("corrupted"), "\(keep): \(e.message)")
        }
    }

    // MARK: Model files record where simulations start (case 32)

    @Test func modelFilesKeepStartingLossesAndRefuseFilesWithout() throws {
        let dir = TempDir()
        let model = FittedSimulator(method: .linear, form: .linear, lambda: 0.5, trainIDs: ["a", "b"], testIDs: ["t", "u"],
                                    a: Matrix(rows: 2, columns: 2, repeating: 0.5), b: Matrix(rows: 2, columns: 2),
                                    seen: [true, true], fittedOn: ["r"], startingStep: 1, startingLosses: [2.5, 0.125])
        try ModelFile.write(model, to: dir.at("m"))
        let back = try ModelFile.read(dir.at("m"))
        #expect(back.startingStep == 1 && back.startingLosses == [2.5, 0.125])
        // A file without the fields (as earlier builds wrote them) would start every simulation
        // from 0: refused, with advice.
        var text = [UInt8](ModelFile.encode(model))
        let needle = Array(",\"starting_step\":1,\"starting_losses\":[2.5,0.125]".utf8)
        let at = try #require((0..<text.count).first { Array(text[$0..<min(text.count, $0 + needle.count)]) == needle })
        text.removeSubrange(at..<(at + needle.count))
        dir.write(bytes: ByteLevelParsing.resealingModel(text), to: "old")
        expectInputError(file: "old", line: 2, ["no \"starting_step\"", "refit the model"]) { try ModelFile.read(dir.at("old")) }
    }

    // MARK: Duplicate ids within a batch count twice (case 19)

    @Test func duplicateIDsInABatchCountTwice() throws {
        let dir = TempDir()
        gptLog(dir, curriculum: "{\"step\": 1, \"samples_id\": [7, 7]}\n{\"step\": 2, \"samples_id\": [7]}\n",
               losses: trajectoryLine("1", [1, 2]) + "\n")
        let log = try LogReader.read(dir.path)
        #expect(log.runs[0].batches == [[0, 0], [0]])
        let sim = FittedSimulator(method: .linear, form: .linear, lambda: 0, trainIDs: ["7"], testIDs: ["1"],
                                  a: Matrix(rows: 1, columns: 1, repeating: 0.25), b: Matrix(rows: 1, columns: 1, repeating: 0.5),
                                  seen: [true], fittedOn: [])
        // alpha = 0.25 + 0.25, beta = 0.5 + 0.5 for the doubled batch.
        let out = sim.simulate(log.runs[0].batches, initial: [4])
        #expect(out.column(0) == [4, 0.5 * 4 + 1, 0.25 * 3 + 0.5])
    }

    // MARK: Ids with unicode, spaces, quotes (case 14)

    @Test func unicodeAndSpacesInIDs() throws {
        let dir = TempDir()
        gptLog(dir, curriculum: "{\"step\": 1, \"samples_id\": [\"naïve café\", \"x y\"]}\n{\"step\": 2, \"samples_id\": [\"\\u00fc\\\"q\\\"\", 3]}\n",
               losses: "{\"id\": \"тест 1\", \"loss_trajectory\": [{\"step\": 1, \"loss\": 1}, {\"step\": 2, \"loss\": 2}]}\n{\"id\": \"😀\", \"loss_trajectory\": [{\"step\": 1, \"loss\": 3}, {\"step\": 2, \"loss\": 4}]}\n")
        let log = try LogReader.read(dir.path)
        #expect(log.testIDs == ["тест 1", "😀"])
        #expect(Set(log.trainIDs) == ["naïve café", "x y", "ü\"q\"", "3"])
        // Round trip through the native layout keeps them exactly.
        try NativeLogWriter.write(log, to: dir.at("native"))
        #expect(try LogReader.read(dir.at("native")) == log)
    }

    // MARK: Directories, permissions (cases 35, 36)

    @Test func directoryWhereAFileIsExpected() throws {
        let dir = TempDir()
        try nativeLog(dir)
        try FileManager.default.removeItem(atPath: dir.at("runs/r1/losses.npy"))
        try FileManager.default.createDirectory(atPath: dir.at("runs/r1/losses.npy"), withIntermediateDirectories: true)
        expectInputError(file: "runs/r1/losses.npy", line: nil, ["expected a file, found a directory"]) { try LogReader.read(dir.path) }
        expectInputError(file: "runs", line: nil, ["expected a file, found a directory"]) { try CurriculumFile.read(dir.at("runs")) }
        expectInputError(file: "runs", line: nil, ["expected a file, found a directory"]) { try ModelFile.read(dir.at("runs")) }
        expectInputError(file: "runs", line: nil, ["expected a file, found a directory"]) { try InitialLossFile.read(dir.at("runs")) }
    }

    /// chmod 000 stops reading for ordinary users only; as root (CI containers) the file stays
    /// readable, so the case cannot be produced and the test says so instead of failing.
    @Test func unreadableFileIsAnErrorNamingIt() throws {
        let dir = TempDir()
        try nativeLog(dir)
        let p = dir.at("runs/r1/curriculum.jsonl")
        #expect(chmod(p, 0) == 0)
        defer { chmod(p, 0o644) }
        let fd = open(p, O_RDONLY)
        if fd >= 0 {
            close(fd)
            print("note: running as root (uid \(getuid())): chmod 000 does not prevent reading, unreadable-file case skipped")
            return
        }
        expectInputError(file: "runs/r1/curriculum.jsonl", line: nil, ["cannot open: permission denied"]) { try LogReader.read(dir.path) }
    }

    // MARK: Huge lines and tokens (cases 38, 40)

    /// A 100 MB single line: read in bounded time and memory (mapped, scanned once), and a huge
    /// token never becomes a huge message.
    @Test func hundredMegabyteLine() throws {
        let dir = TempDir()
        let size = 100 << 20
        var line = [UInt8]()
        line.reserveCapacity(size + 200)
        line += Array("{\"id\": 1, \"pad\": \"".utf8)
        line += [UInt8](repeating: UInt8(ascii: "x"), count: size)
        line += Array("\", \"loss_trajectory\": [{\"step\": 1, \"loss\": 1}, {\"step\": 2, \"loss\": 2}]}\n".utf8)
        dir.write(curriculum2, to: "runs/run1/train_samples_id.json")
        dir.write(bytes: line, to: "runs/run1/all_loss_trajectory.out")
        line = []
        let clock = ContinuousClock()
        let start = clock.now
        let log = try LogReader.read(dir.path)
        #expect(log.runs[0].losses.storage == [1, 2])
        // Huge tokens (16 MB, to keep the test quick): errors whose messages stay short.
        let tokenSize = 16 << 20
        var digits = Array("{\"id\": 1, \"loss_trajectory\": [{\"step\": 1, \"loss\": \"".utf8)
        digits += [UInt8](repeating: UInt8(ascii: "7"), count: tokenSize)
        dir.write(bytes: digits + Array("\"}]}".utf8), to: "runs/run1/all_loss_trajectory.out")
        digits = []
        guard let e = inputError({ try LogReader.read(dir.path) }) else { return }
        #expect(e.message.contains("to be a number, found a string"))
        #expect(e.message.utf8.count < 400)
        var number = Array("{\"step\": ".utf8) + [UInt8](repeating: UInt8(ascii: "9"), count: tokenSize)
        number += Array(", \"samples_id\": [1]}".utf8)
        dir.write(bytes: number, to: "c.jsonl")
        number = []
        guard let e2 = inputError({ try CurriculumFile.read(dir.at("c.jsonl")) }) else { return }
        #expect(e2.message.contains("out of range") && e2.message.contains("(16777216 bytes)") && e2.message.utf8.count < 400)
        #expect(clock.now - start < .seconds(60))
    }

    // MARK: Memory pre-flight (case 42)

    @Test func logsTooLargeForMemoryAreRefusedUpFront() throws {
        let dir = TempDir()
        try nativeLog(dir)
        let estimate = LogReader.estimateMemory(dir.path, layout: .native)
        #expect(estimate.bytes >= 6 * 8)
        expectInputError(file: dir.path, line: nil, ["loading this log needs about", "but only 16 bytes is available (test)",
                                                     "SIMFLUENCE_MEMORY_LIMIT"]) {
            try LogReader.read(dir.path, memoryBudget: MemoryLimit.Budget(bytes: 16, source: "test"))
        }
        #expect(try LogReader.read(dir.path, memoryBudget: MemoryLimit.Budget(bytes: estimate.bytes, source: "test")).runs.count == 1)
        let gpt = TempDir()
        gptLog(gpt, losses: String(repeating: trajectoryLine("1", [1, 2]) + "\n", count: 1).appending(trajectoryLine("2", [3, 4]) + "\n"))
        let g = LogReader.estimateMemory(gpt.path, layout: .gptDynamics)
        #expect(g.bytes >= 4 * 8, "\(g)")
        #expect(throws: SimfluenceError.self) { try LogReader.read(gpt.path, memoryBudget: MemoryLimit.Budget(bytes: 10, source: "t")) }
        // The environment variable's syntax.
        #expect(MemoryLimit.parse("512M") == 512 << 20 && MemoryLimit.parse("2g") == 2 << 30 && MemoryLimit.parse("1000") == 1000)
        #expect(MemoryLimit.parse("1.5K") == 1536 && MemoryLimit.parse("12 MB") == 12 << 20)
        #expect(MemoryLimit.parse("lots") == nil && MemoryLimit.parse("-1G") == nil)
        #expect(try MemoryLimit.current(environment: ["SIMFLUENCE_MEMORY_LIMIT": "none"]) == nil)
        #expect(try MemoryLimit.current(environment: ["SIMFLUENCE_MEMORY_LIMIT": "3K"])?.bytes == 3072)
        #expect(throws: SimfluenceError.self) { try MemoryLimit.current(environment: ["SIMFLUENCE_MEMORY_LIMIT": "x"]) }
        #if os(Linux)
        let detected = try #require(try MemoryLimit.current(environment: [:]))
        #expect(detected.bytes > 0)
        #endif
    }

    // MARK: Atomic writes leave no stale temporaries behind (atomic outputs)

    @Test func staleTemporariesOfDeadWritersAreRemovedByTheNextWrite() throws {
        let dir = TempDir()
        let target = dir.at("m.simfluence")
        // A dead writer (pid 2^22 + 1 is above Linux's default pid_max... or at least not ours)
        // and a live one (this process).
        var dead: Int32 = 4_194_000
        while kill(dead, 0) == 0 || errno != ESRCH { dead += 1 }
        dir.write("partial", to: ".m.simfluence.tmp-\(dead)-abc")
        dir.write("partial", to: ".m.simfluence.tmp-\(getpid())-def")
        dir.write("unrelated", to: ".other.tmp-\(dead)-abc")
        try AtomicFile.write(Data("new".utf8), to: target)
        #expect(dir.listing() == [".m.simfluence.tmp-\(getpid())-def", ".other.tmp-\(dead)-abc", "m.simfluence"])
    }
}
