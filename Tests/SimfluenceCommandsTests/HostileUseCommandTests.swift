import Foundation
import Simfluence
import Testing

/// Issue 14, "hostile use, round two": every case through the binary (the catalogue's rows are in
/// Docs/BadInputs.md, section "Round two"; scripts/hostile-regression.sh replays them against the
/// release binary).
@Suite struct HostileUseCommandTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/tiny-gptdynamics").path
    static let run12 = example + "/runs/run12/train_samples_id.json"

    static func model(_ dir: String) throws -> String {
        let path = dir + "/m.simfluence"
        let r = try CLIRunner.run(["fit", example, "--lambda", "0.1", "-o", path])
        #expect(r.status == 0, "\(r.stderr)")
        return path
    }

    /// Linux's makedev(major, minor) for small numbers.
    static func device(_ major: UInt64, _ minor: UInt64) -> dev_t { dev_t((major << 8) | minor) }

    static func kind(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : 0
    }

    // A. Outputs that are not regular files are written through, never replaced.
    @Test func specialFilesAreWrittenThroughNotReplaced() throws {
        let dir = try CLIRunner.temporaryDirectory()
        // A character device like /dev/null, made here (needs root; skipped otherwise).
        if mknod(dir + "/null", S_IFCHR | 0o666, Self.device(1, 3)) == 0 {
            let r = try CLIRunner.run(["fit", Self.example, "--lambda", "0.1", "-o", dir + "/null"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(Self.kind(dir + "/null") == S_IFCHR)
        }
        // A FIFO with a reader receives the whole model; the FIFO stays a FIFO.
        #expect(mkfifo(dir + "/fifo", 0o644) == 0)
        nonisolated(unsafe) var received = Data()
        let reader = Thread { received = FileHandle(forReadingAtPath: dir + "/fifo")?.readDataToEndOfFile() ?? Data() }
        reader.start()
        Thread.sleep(forTimeInterval: 0.2)
        let r = try CLIRunner.run(["fit", Self.example, "--lambda", "0.1", "-o", dir + "/fifo"])
        #expect(r.status == 0, "\(r.stderr)")
        while reader.isExecuting { Thread.sleep(forTimeInterval: 0.05) }
        #expect(Self.kind(dir + "/fifo") == S_IFIFO)
        let decoded = try received.withUnsafeBytes { try ModelFile.decode($0, source: "fifo") }
        #expect(decoded.testIDs.count == 10)
        // A FIFO nobody reads: an error at once, not a hang.
        let alone = try CLIRunner.run(["fit", Self.example, "--lambda", "0.1", "-o", dir + "/fifo"], timeout: 60)
        #expect(!alone.timedOut && alone.status == 1 && alone.stderr.contains("no process is reading it"), "\(alone.stderr)")
        // A symbolic link to a regular file: the file is replaced, the link stays a link.
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/target.simfluence"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: dir + "/target.simfluence")
        #expect(try CLIRunner.run(["fit", Self.example, "--lambda", "0.1", "-o", dir + "/link"]).status == 0)
        #expect(Self.kind(dir + "/link") == S_IFLNK)
        #expect(try ModelFile.read(dir + "/target.simfluence").testIDs.count == 10)
        // A dangling link is refused.
        try FileManager.default.createSymbolicLink(atPath: dir + "/dangling", withDestinationPath: dir + "/missing/x")
        let dangling = try CLIRunner.run(["fit", Self.example, "--lambda", "0.1", "-o", dir + "/dangling"])
        #expect(dangling.status == 1 && dangling.stderr.contains("symbolic link to a missing file"))
    }

    // B. Write errors on standard output are errors.
    @Test func lostStandardOutputIsAnError() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let model = try Self.model(dir)
        let bin = CLIRunner.executable.path
        // Standard output closed.
        for args in [["simulate", "--model", model, "--curriculum", Self.run12],
                     ["evaluate", Self.example, "--holdout", "3", "--lambda", "0.1", "--json"],
                     ["attribute", "--model", model, "--curriculum", Self.run12]] {
            let quoted = args.map { "'\($0)'" }.joined(separator: " ")
            let r = try CLIRunner.runShell("exec >&-; '\(bin)' \(quoted)")
            #expect(r.status == 1 && r.stderr.contains("writing standard output failed"), "\(args[0]): \(r.status) \(r.stderr)")
        }
        // Standard output on a full device (made here; needs root).
        if mknod(dir + "/full", S_IFCHR | 0o666, Self.device(1, 7)) == 0 {
            let r = try CLIRunner.runShell("'\(bin)' simulate --model '\(model)' --curriculum '\(Self.run12)' > '\(dir)/full'")
            #expect(r.status == 1 && r.stderr.contains("No space left on device"), "\(r.stderr)")
        }
    }

    // C. Sizes near Int.max from flags and files: range-checked, never a trap.
    @Test func hugeSizesAreRefusedOrHandled() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let big = String(Int.max)
        let shard = try CLIRunner.run(["fit", Self.example, "--lambda", "0.1", "--shard", "\(big)/\(big)", "-o", dir + "/s"])
        #expect(shard.status == 0, "\(shard.stderr)")
        #expect(try ModelFile.read(dir + "/s").testIDs == ["t9"])
        let model = try Self.model(dir)
        let top = try CLIRunner.run(["attribute", "--model", model, "--curriculum", Self.run12, "--top", big])
        #expect(top.status == 0, "\(top.stderr)")
        for args in [["train", "-o", dir + "/t", "--batch", big], ["train", "-o", dir + "/t", "--epochs", big],
                     ["synth", "-o", dir + "/y", "--test", big], ["synth", "-o", dir + "/y", "--runs", big],
                     ["synth", "-o", dir + "/y", "--runs", "1000000", "--test", "1000000"]] {
            let r = try CLIRunner.run(args)
            #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
        }
        // A gradient index with steps_covered = Int.max.
        let g = dir + "/g"
        try FileManager.default.createDirectory(atPath: g, withIntermediateDirectories: true)
        try NPY.write([1, 2, 3, 4], shape: [2, 2], to: g + "/tr.npy")
        try NPY.write([1, 2], shape: [1, 2], to: g + "/te.npy")
        try Data("""
            {"format": "simfluence-gradients", "version": 1, "batch_size": 2, "train_ids": ["a", "b"], "test_ids": ["t"],
             "checkpoints": [{"step": 0, "learning_rate": 0.1, "steps_covered": \(big), "train": "tr.npy", "test": "te.npy"}]}
            """.utf8).write(to: URL(fileURLWithPath: g + "/index.json"))
        #expect(throws: SimfluenceError.self) { try GradientFeaturesFile.read(g) }
    }

    // D. The process's own memory limits count.
    @Test func processLimitsAreKnownToThePreflight() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let synth = try CLIRunner.run(["synth", "-o", dir + "/wide", "--runs", "2", "--pool", "6000", "--sample", "6000",
                                       "--batch", "60", "--epochs", "1", "--test", "2"])
        #expect(synth.status == 0, "\(synth.stderr)")
        let bin = CLIRunner.executable.path
        let r = try CLIRunner.runShell("ulimit -v 2000000; exec '\(bin)' fit '\(dir)/wide' --solver dense --lambda 1 -o '\(dir)/m'",
                                       environment: ["SIMFLUENCE_MEMORY_LIMIT": nil])
        #expect(r.status == 1 && r.stderr.contains("RLIMIT_AS") && r.stderr.contains("needs about"), "\(r.status) \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m"))
        // simulate estimates its trajectories; evaluate --bootstrap is bounded at parse time.
        let model = try Self.model(dir)
        let steps = (1...20_000).map { "{\"step\": \($0), \"samples_id\": [1, 2]}" }.joined(separator: "\n")
        try Data(steps.utf8).write(to: URL(fileURLWithPath: dir + "/long.json"))
        let sim = try CLIRunner.run(["simulate", "--model", model, "--curriculum", dir + "/long.json"],
                                    environment: ["SIMFLUENCE_MEMORY_LIMIT": "1M"])
        #expect(sim.status == 1 && sim.stderr.contains("simulating 19999 steps"), "\(sim.stderr)")
        let boot = try CLIRunner.run(["evaluate", Self.example, "--bootstrap", "100000000"])
        #expect(boot.status == 64 && boot.stderr.contains("--bootstrap takes 2 to"))
    }

    // E. merge validates the merged model as the loader would.
    @Test func relabelledPartIsRefused() throws {
        let dir = try CLIRunner.temporaryDirectory()
        for k in 1...2 {
            #expect(try CLIRunner.run(["fit", Self.example, "--lambda", "0.1", "--shard", "\(k)/2", "-o", dir + "/p\(k)"]).status == 0)
        }
        var fake = try ModelFile.read(dir + "/p2")
        fake.provenance.shard = try ShardSpec(index: 1, count: 2)
        try ModelFile.write(fake, to: dir + "/fake")
        let r = try CLIRunner.run(["merge", dir + "/fake", dir + "/p2", "-o", dir + "/merged"])
        #expect(r.status == 1 && r.stderr.contains("appears in two parts"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/merged"))
    }

    // F. attribute refuses non-finite effects, as simulate refuses the rollout.
    @Test func attributeRefusesADivergingModel() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let sim = FittedSimulator(method: .linear, form: .linear, lambda: 0.1, trainIDs: ["a", "b"], testIDs: ["z"],
                                  a: Matrix(rowArrays: [[1e200, 1e200]]), b: Matrix(rows: 1, columns: 2),
                                  seen: [true, true], fittedOn: ["r"], startingStep: 0, startingLosses: [1])
        try ModelFile.write(sim, to: dir + "/m")
        try Data("{\"step\": 1, \"batch\": [\"a\"]}\n{\"step\": 2, \"batch\": [\"b\"]}\n{\"step\": 3, \"batch\": [\"a\", \"b\"]}\n".utf8)
            .write(to: URL(fileURLWithPath: dir + "/c.jsonl"))
        let r = try CLIRunner.run(["attribute", "--model", dir + "/m", "--curriculum", dir + "/c.jsonl"])
        #expect(r.status == 1 && r.stdout.isEmpty && r.stderr.contains("simulation diverges"), "\(r.stderr)")
    }

    // G. An input cut short while mapped: an error naming it, never SIGBUS.
    @Test func inputTruncatedWhileReadIsAnError() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let model = try Self.model(dir)
        let path = dir + "/big.json"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        var chunk: [UInt8] = []
        for step in 1...20_000 {
            chunk += Array("{\"step\": \(step), \"samples_id\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]}\n".utf8)
        }
        try handle.write(contentsOf: chunk)
        try handle.close()
        // Many passes: the process maps the curriculum, the test truncates it meanwhile.
        let bin = CLIRunner.executable.path
        let r = try CLIRunner.runShell("""
            ( for i in 1 2 3 4 5 6 7 8 9 10; do head -c \(chunk.count) '\(path)' > /dev/null; done; : > '\(path)' ) &
            exec '\(bin)' simulate --model '\(model)' --curriculum '\(path)' --unseen mean -o '\(dir)/out.csv'
            """)
        // Whichever came first, the process exited (no signal), and no partial output is left.
        #expect(r.status == 0 || r.status == 1, "\(r.status) \(r.stderr)")
        if r.status == 1 { #expect(r.stderr.contains(path) || r.stderr.contains("empty") || r.stderr.contains("step"), "\(r.stderr)") }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    // I. simulate --bootstrap checks the log's fingerprint and finds the recorded log from anywhere.
    @Test func bootstrapNeedsTheFittedLog() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let log = try LogReader.read(Self.example)
        try NativeLogWriter.write(log, to: dir + "/log")
        try FileManager.default.createDirectory(atPath: dir + "/models", withIntermediateDirectories: true)
        let fit = try CLIRunner.runShell("cd '\(dir)' && '\(CLIRunner.executable.path)' fit log --lambda 0.1 -o models/m")
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(try ModelFile.read(dir + "/models/m").provenance.log == "../log")
        // From another working directory, the recorded (relative) log is found beside the model.
        let ok = try CLIRunner.run(["simulate", "--model", dir + "/models/m", "--curriculum", Self.run12, "--bootstrap", "3"])
        #expect(ok.status == 0, "\(ok.stderr)")
        // The same ids with other losses: refused.
        var other = log
        other.runs[0].losses.storage[0] *= 3
        try NativeLogWriter.write(other, to: dir + "/other")
        let bad = try CLIRunner.run(["simulate", "--model", dir + "/models/m", "--curriculum", Self.run12, "--bootstrap", "3",
                                     "--log", dir + "/other"])
        #expect(bad.status == 1 && bad.stderr.contains("fingerprint"), "\(bad.stderr)")
    }

    // Negative ids, long output names, --intervals without --bootstrap.
    @Test func smallerCases() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let model = try Self.model(dir)
        try Data("{\"step\": 1, \"batch\": [-100, 1]}\n{\"step\": 2, \"batch\": [-100, -1]}\n".utf8)
            .write(to: URL(fileURLWithPath: dir + "/pad.jsonl"))
        let pad = try CLIRunner.run(["simulate", "--model", model, "--curriculum", dir + "/pad.jsonl", "--unseen", "mean"])
        #expect(pad.status == 0 && pad.stderr.contains("3 batch entries are negative integer ids"), "\(pad.stderr)")
        let long = dir + "/" + String(repeating: "m", count: 250)
        let r = try CLIRunner.run(["fit", Self.example, "--lambda", "0.1", "-o", long])
        #expect(r.status == 0 && FileManager.default.fileExists(atPath: long), "\(r.stderr)")
        let iv = try CLIRunner.run(["evaluate", Self.example, "--intervals", dir + "/iv.jsonl"])
        #expect(iv.status == 64 && iv.stderr.contains("needs --bootstrap") && !FileManager.default.fileExists(atPath: dir + "/iv.jsonl"))
    }
}
