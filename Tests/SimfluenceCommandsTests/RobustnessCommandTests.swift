import Foundation
import Simfluence
import Testing

/// The CLI runner, plus helpers for the robustness tests.
enum RobustRunner {
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> CLIRunner.Result {
        try CLIRunner.run(arguments, environment: environment, timeout: timeout)
    }

    /// A small synthetic log written by `simfluence synth`.
    static func synth(_ dir: String, format: String = "native", extra: [String] = []) throws {
        let r = try run(["synth", "-o", dir, "--format", format, "--runs", "4", "--pool", "10", "--sample", "8",
                         "--batch", "2", "--epochs", "2", "--test", "4", "--seed", "9"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
    }
}

/// Writes a native log whose runs all use the given curricula (ids are strings) and losses.
func writeLog(_ dir: String, trainIDs: [String], testIDs: [String], runs: [(batches: [[Int]], losses: [[Double]])]) throws {
    let log = TrainingLog(trainIDs: trainIDs, testIDs: testIDs, runs: runs.enumerated().map { k, r in
        TrainingRun(name: "run\(k + 1)", batches: r.batches, firstLossStep: 0, losses: Matrix(rowArrays: r.losses))
    })
    try NativeLogWriter.write(log, to: dir)
}

@Suite struct BadInputCommandTests {
    /// Bad inputs through the binary: exit status non-zero, standard error names the file (and
    /// the line where there is one), nothing on standard output.
    @Test func badInputsExitNonZeroNamingTheFile() throws {
        let dir = try CLIRunner.temporaryDirectory()
        try RobustRunner.synth(dir + "/gpt", format: "gptdynamics")
        let lossFile = dir + "/gpt/runs/run2/all_loss_trajectory.out"
        var lines = try String(contentsOfFile: lossFile, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[1] = lines[1].replacingOccurrences(of: "\"loss\": ", with: "\"loss\": NaN, \"was\": ", options: [], range: lines[1].range(of: "\"loss\": "))
        try (lines.joined(separator: "\n") + "\n").write(toFile: lossFile, atomically: true, encoding: .utf8)
        func expectFailure(_ args: [String], _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let r = try RobustRunner.run(args)
            #expect(r.status != 0, "\(args) succeeded", sourceLocation: sourceLocation)
            #expect(r.stdout.isEmpty, "\(r.stdout)", sourceLocation: sourceLocation)
            for f in fragments { #expect(r.stderr.contains(f), "stderr '\(r.stderr)' lacks '\(f)'", sourceLocation: sourceLocation) }
        }
        let model = dir + "/m.simfluence"
        try expectFailure(["fit", dir + "/gpt", "--lambda", "0.1", "-o", model], [lossFile + ":2:", "loss at step 1 is not finite"])
        try expectFailure(["evaluate", dir + "/gpt", "--holdout", "1", "--lambda", "0.1"], [lossFile + ":2:"])
        #expect(!FileManager.default.fileExists(atPath: model))

        try RobustRunner.synth(dir + "/native")
        #expect(try RobustRunner.run(["fit", dir + "/native", "--lambda", "0.1", "-o", model]).status == 0)
        let curriculum = dir + "/native/runs/run1/curriculum.jsonl"
        // A curriculum cut off mid-line, a directory, an empty file.
        try Data("{\"step\": 1, \"batch\": [\"e1\"]}\n{\"step\": 2, \"ba".utf8).write(to: URL(fileURLWithPath: dir + "/cut.jsonl"))
        try expectFailure(["simulate", "--model", model, "--curriculum", dir + "/cut.jsonl"], [dir + "/cut.jsonl:2:", "malformed JSON"])
        try expectFailure(["simulate", "--model", model, "--curriculum", dir + "/native"], [dir + "/native", "expected a file, found a directory"])
        try Data().write(to: URL(fileURLWithPath: dir + "/empty.jsonl"))
        try expectFailure(["simulate", "--model", model, "--curriculum", dir + "/empty.jsonl"], [dir + "/empty.jsonl", "empty file"])
        // Starting losses that are not finite or absurd, or miss a test example.
        try Data("{\"t0\": 1, \"t1\": 1e31, \"t2\": 1, \"t3\": 1}".utf8).write(to: URL(fileURLWithPath: dir + "/init.json"))
        try expectFailure(["simulate", "--model", model, "--curriculum", curriculum, "--initial", dir + "/init.json"],
                          [dir + "/init.json:1:", "test example t1 is 1e+31, beyond ±1e30"])
        try Data("{\"t0\": 1}".utf8).write(to: URL(fileURLWithPath: dir + "/few.json"))
        try expectFailure(["simulate", "--model", model, "--curriculum", curriculum, "--initial", dir + "/few.json"],
                          [dir + "/few.json", "no starting loss for test example 't1'"])
        // A model that is a directory, a log file, truncated.
        try expectFailure(["simulate", "--model", dir, "--curriculum", curriculum], [dir, "expected a file, found a directory"])
        try expectFailure(["simulate", "--model", curriculum, "--curriculum", curriculum], [curriculum, "not a simfluence model file"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        try bytes.prefix(bytes.count - 5).write(to: URL(fileURLWithPath: dir + "/short.simfluence"))
        try expectFailure(["simulate", "--model", dir + "/short.simfluence", "--curriculum", curriculum], [dir + "/short.simfluence", "truncated"])
        // A log folder that is not a log, and a losses.npy cut short.
        try FileManager.default.createDirectory(atPath: dir + "/notalog/x", withIntermediateDirectories: true)
        try expectFailure(["fit", dir + "/notalog", "-o", dir + "/x.simfluence"], [dir + "/notalog", "not a training log"])
        let npy = dir + "/native/runs/run3/losses.npy"
        let npyBytes = try Data(contentsOf: URL(fileURLWithPath: npy))
        try npyBytes.prefix(npyBytes.count - 3).write(to: URL(fileURLWithPath: npy))
        try expectFailure(["fit", dir + "/native", "--lambda", "0.1", "-o", model], [npy, "truncated data"])
        // The old model is untouched by the failed fit.
        #expect(try Data(contentsOf: URL(fileURLWithPath: model)) == bytes)
    }

    /// A 100 MB single line through the binary: a clear error in bounded time, not a hang or a
    /// memory blow-up (the file is mapped, scanned once, and the message stays short).
    @Test func hundredMegabyteLineThroughTheCLI() throws {
        let dir = try CLIRunner.temporaryDirectory()
        try RobustRunner.synth(dir + "/gpt", format: "gptdynamics")
        let path = dir + "/gpt/runs/run1/train_samples_id.json"
        var line = Array("{\"step\": 1, \"samples_id\": [".utf8)
        line += [UInt8](repeating: UInt8(ascii: " "), count: 100 << 20)
        line += Array("1, 2, oops]}\n".utf8)
        try Data(line).write(to: URL(fileURLWithPath: path))
        line = []
        let r = try RobustRunner.run(["fit", dir + "/gpt", "--lambda", "0.1", "-o", dir + "/m"], timeout: 120)
        #expect(!r.timedOut && r.status != 0)
        #expect(r.stderr.contains(path + ":1:") && r.stderr.contains("each id in \"samples_id\" to be an integer or a string"), "\(r.stderr)")
        #expect(r.stderr.utf8.count < 1000)
        // Memory stays bounded: the largest child of this test process so far (this one included)
        // peaked well under 1 GB (the mapped 100 MB file counts once).
        var usage = rusage()
        #expect(getrusage(RUSAGE_CHILDREN.rawValue, &usage) == 0)
        #expect(usage.ru_maxrss < 1_000_000, "peak child RSS \(usage.ru_maxrss) KB")
    }

    /// Memory pre-flight through the binary: a log or fit that needs more than
    /// SIMFLUENCE_MEMORY_LIMIT is refused before loading or allocating, with the estimate.
    @Test func memoryLimitsAreCheckedBeforeWork() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let r0 = try RobustRunner.run(["synth", "-o", dir + "/log", "--runs", "3", "--pool", "300", "--sample", "300", "--batch", "3",
                                       "--epochs", "1", "--test", "2"])
        #expect(r0.status == 0)
        let tiny = try RobustRunner.run(["fit", dir + "/log", "--lambda", "1", "-o", dir + "/m"], environment: ["SIMFLUENCE_MEMORY_LIMIT": "1K"])
        #expect(tiny.status != 0)
        #expect(tiny.stderr.contains(dir + "/log") && tiny.stderr.contains("loading this log needs about")
                && tiny.stderr.contains("SIMFLUENCE_MEMORY_LIMIT=1K"), "\(tiny.stderr)")
        let log = try LogReader.read(dir + "/log")
        let logBytes = LogReader.estimateMemory(dir + "/log", layout: .native).bytes
        let fitBytes = FitMemory.estimate(log: log, runs: log.runs, form: .linear, lambdas: 1, threads: 1, lambda: 1,
                                          solver: .dense).bytes
        try #require(logBytes * 2 < fitBytes, "log \(logBytes), fit \(fitBytes)")
        let limit = String((logBytes + fitBytes) / 2)
        let fit = try RobustRunner.run(["fit", dir + "/log", "--lambda", "1", "--threads", "1", "--solver", "dense", "-o", dir + "/m"],
                                       environment: ["SIMFLUENCE_MEMORY_LIMIT": limit])
        #expect(fit.status != 0)
        #expect(fit.stderr.contains("fitting linear needs about") && fit.stderr.contains("600 unknowns per test example"), "\(fit.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m"))
        let additive = try RobustRunner.run(["fit", dir + "/log", "--method", "additive", "--lambda", "1", "--threads", "1",
                                             "--solver", "dense", "-o", dir + "/m"], environment: ["SIMFLUENCE_MEMORY_LIMIT": limit])
        #expect(additive.status == 0, "\(additive.stderr)")
        // The same linear fit by conjugate gradients needs a fraction of it, and goes through.
        let cg = try RobustRunner.run(["fit", dir + "/log", "--lambda", "1", "--threads", "1", "-o", dir + "/m"],
                                      environment: ["SIMFLUENCE_MEMORY_LIMIT": limit])
        #expect(cg.status == 0, "\(cg.stderr)")
        let bad = try RobustRunner.run(["fit", dir + "/log", "-o", dir + "/m"], environment: ["SIMFLUENCE_MEMORY_LIMIT": "plenty"])
        #expect(bad.status != 0 && bad.stderr.contains("is not a size"))
    }
}

@Suite struct AtomicOutputCommandTests {
    /// `simfluence fit` killed with SIGKILL at 20 seeded moments spread over its run, while it
    /// replaces an existing model: afterwards the model is always either the old one or the
    /// complete new one, and loads. A killed writer may leave its hidden temporary
    /// (`.m.simfluence.tmp-PID-RANDOM`); the next successful write removes it.
    @Test func killedFitsLeaveTheOldModelOrTheNewOne() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let r = try RobustRunner.run(["synth", "-o", dir + "/log", "--runs", "6", "--pool", "50", "--sample", "40", "--batch", "4",
                                      "--epochs", "2", "--test", "20", "--seed", "2"])
        #expect(r.status == 0)
        let model = dir + "/m.simfluence"
        let old = try RobustRunner.run(["fit", dir + "/log", "--lambda", "0.5", "-o", model])
        #expect(old.status == 0, "\(old.stderr)")
        let oldModel = try ModelFile.read(model)
        let args = ["fit", dir + "/log", "--lambda", "0.25", "-o", model]
        let timed = try RobustRunner.run(args)
        #expect(timed.status == 0)
        let newModel = try ModelFile.read(model)
        #expect(newModel.lambda == 0.25)
        // Back to the old model, then kill fits at moments spread over [0, 1.2 x duration].
        #expect(try RobustRunner.run(["fit", dir + "/log", "--lambda", "0.5", "-o", model]).status == 0)
        var generator = SplitMix(seed: 7)
        var outcomes: [String: Int] = [:]
        let duration = timed.seconds
        for _ in 0..<20 {
            let delay = duration * 1.2 * generator.nextUnit()
            let p = Process()
            p.executableURL = CLIRunner.executable
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let now = try ModelFile.read(model)
            let isOld = now.lambda == 0.5 && now.a == oldModel.a && now.b == oldModel.b
            let isNew = now.lambda == 0.25 && now.a == newModel.a && now.b == newModel.b
            #expect(isOld || isNew, "after a kill at \(delay) s the model is neither the old nor the new one")
            outcomes[isOld ? "old" : "new", default: 0] += 1
            if isNew {  // start the next round from the old model again
                #expect(try RobustRunner.run(["fit", dir + "/log", "--lambda", "0.5", "-o", model]).status == 0)
            }
        }
        print("kill outcomes over \(Format2.seconds(duration)) fits: \(outcomes)")
        // Only the model and (possibly) hidden temporaries of killed writers are there; the
        // next successful write removes those.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0 != "log" && $0 != "m.simfluence" }
        #expect(leftovers.allSatisfy { $0.hasPrefix(".m.simfluence.tmp-") }, "\(leftovers)")
        #expect(try RobustRunner.run(["fit", dir + "/log", "--lambda", "0.5", "-o", model]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["log", "m.simfluence"])
    }
}

@Suite struct DeterminismCommandTests {
    /// Same inputs, 1 or 2 threads, twice: byte-identical model files (no wall-clock timing is
    /// stored in them), predictions files and simulations.
    @Test func resultsDoNotDependOnThreadsOrRuns() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let r = try RobustRunner.run(["synth", "-o", dir + "/log", "--runs", "6", "--pool", "20", "--sample", "16", "--batch", "2",
                                      "--epochs", "2", "--test", "9", "--seed", "4"])
        #expect(r.status == 0)
        var models: [FittedSimulator] = []
        var modelBytes: [Data] = []
        var predictions: [Data] = []
        var simulations: [String] = []
        for threads in ["1", "2", "1", "2"] {
            let m = dir + "/m\(models.count).simfluence"
            let fit = try RobustRunner.run(["fit", dir + "/log", "--lambda", "auto", "--folds", "3", "--threads", threads, "-o", m])
            #expect(fit.status == 0, "\(fit.stderr)")
            models.append(try ModelFile.read(m))
            modelBytes.append(try Data(contentsOf: URL(fileURLWithPath: m)))
            let p = dir + "/p\(predictions.count).jsonl"
            let ev = try RobustRunner.run(["evaluate", dir + "/log", "--holdout", "2", "--lambda", "auto", "--folds", "3",
                                           "--method", "linear", "--method", "additive", "--threads", threads, "--predictions", p, "--json"])
            #expect(ev.status == 0, "\(ev.stderr)")
            predictions.append(try Data(contentsOf: URL(fileURLWithPath: p)))
            let sim = try RobustRunner.run(["simulate", "--model", m, "--curriculum", dir + "/log/runs/run3/curriculum.jsonl", "--json"])
            #expect(sim.status == 0, "\(sim.stderr)")
            simulations.append(sim.stdout)
        }
        for k in 1..<models.count {
            let (a, b) = (models[0], models[k])
            #expect(a.a.storage.map(\.bitPattern) == b.a.storage.map(\.bitPattern))
            #expect(a.b.storage.map(\.bitPattern) == b.b.storage.map(\.bitPattern))
            #expect(a.lambda == b.lambda && a.trainIDs == b.trainIDs && a.testIDs == b.testIDs && a.seen == b.seen)
            #expect(a.startingLosses.map(\.bitPattern) == b.startingLosses.map(\.bitPattern))
            #expect(a.metadata == b.metadata)
            #expect(modelBytes[k] == modelBytes[0])
            #expect(predictions[k] == predictions[0])
            #expect(simulations[k] == simulations[0])
        }
    }
}

@Suite struct NumericalCommandTests {
    /// Two examples that always appear together, lambda = 0: singular; a clear error asking for
    /// lambda > 0 and no model file. With lambda > 0: a finite, symmetric answer.
    @Test func inseparableExamplesNeedLambda() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let losses: [[Double]] = [[2, 1], [1.8, 0.9], [1.7, 0.95], [1.5, 0.7]]
        try writeLog(dir + "/log", trainIDs: ["a", "b", "c"], testIDs: ["x", "y"], runs: [
            (batches: [[0, 1], [2], [0, 1]], losses: losses),
            (batches: [[2], [0, 1], [2]], losses: losses.map { $0.map { $0 * 1.1 } }),
        ])
        let singular = try RobustRunner.run(["fit", dir + "/log", "--lambda", "0", "-o", dir + "/m"])
        #expect(singular.status != 0)
        #expect(singular.stderr.contains("singular") && singular.stderr.contains("lambda > 0") && !singular.stderr.contains("nan"), "\(singular.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m"))
        let ok = try RobustRunner.run(["fit", dir + "/log", "--lambda", "0.1", "-o", dir + "/m"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let m = try ModelFile.read(dir + "/m")
        for z in 0..<2 {
            #expect(m.a[z, 0].isFinite && m.b[z, 0].isFinite)
            #expect(abs(m.a[z, 0] - m.a[z, 1]) <= 1e-12 * abs(m.a[z, 0]) + 1e-15)
            #expect(abs(m.b[z, 0] - m.b[z, 1]) <= 1e-12 * abs(m.b[z, 0]) + 1e-15)
        }
    }

    /// One training run: cross-validation cannot run (a clear error naming the fix), holding it
    /// out leaves nothing to fit, a fixed lambda works.
    @Test func aSingleRun() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let r = try RobustRunner.run(["synth", "-o", dir + "/log", "--runs", "1", "--pool", "6", "--sample", "6", "--batch", "2",
                                      "--epochs", "2", "--test", "3"])
        #expect(r.status == 0)
        let auto = try RobustRunner.run(["fit", dir + "/log", "-o", dir + "/m"])
        #expect(auto.status != 0 && auto.stderr.contains("at least 2 training runs") && auto.stderr.contains("fixed lambda"), "\(auto.stderr)")
        let holdout = try RobustRunner.run(["evaluate", dir + "/log", "--holdout", "1", "--lambda", "0.1"])
        #expect(holdout.status != 0 && holdout.stderr.contains("at least one run must remain"), "\(holdout.stderr)")
        let fixed = try RobustRunner.run(["fit", dir + "/log", "--lambda", "0.1", "-o", dir + "/m"])
        #expect(fixed.status == 0, "\(fixed.stderr)")
    }

    /// Constant, zero, tiny (1e-8) and large (1e4) losses: finite models and simulations, or
    /// (zero losses at lambda = 0) a clear singular-system error.
    @Test(arguments: [0.0, 1e-8, 1.0, 1e4])
    func extremeLossScales(scale: Double) throws {
        let dir = try CLIRunner.temporaryDirectory()
        let batches: [[Int]] = [[0, 1], [2, 3], [1, 2], [0, 3]]
        func run(_ seed: Double) -> [[Double]] {
            (0...4).map { t in [scale * (1 + 0.1 * seed) / Double(t + 1), scale] }  // column 1 is constant
        }
        try writeLog(dir + "/log", trainIDs: ["a", "b", "c", "d"], testIDs: ["decay", "flat"],
                     runs: [(batches, run(0)), (batches.reversed(), run(1)), ([[0, 2], [1, 3], [0, 1], [2, 3]], run(2))])
        for method in ["linear", "additive", "multiplicative"] {
            let fit = try RobustRunner.run(["fit", dir + "/log", "--method", method, "--lambda", "auto", "--folds", "3", "-o", dir + "/m"])
            #expect(fit.status == 0, "\(method) at scale \(scale): \(fit.stderr)")
            guard fit.status == 0 else { continue }
            let m = try ModelFile.read(dir + "/m")
            #expect((m.a.storage + m.b.storage).allSatisfy { $0.isFinite })
            let sim = try RobustRunner.run(["simulate", "--model", dir + "/m", "--curriculum", dir + "/log/runs/run1/curriculum.jsonl"])
            #expect(sim.status == 0, "\(sim.stderr)")
            #expect(!sim.stdout.contains("nan") && !sim.stdout.contains("inf"))
        }
        if scale == 0 {
            let zero = try RobustRunner.run(["fit", dir + "/log", "--method", "multiplicative", "--lambda", "0", "-o", dir + "/z"])
            #expect(zero.status != 0 && zero.stderr.contains("lambda > 0"), "\(zero.stderr)")
        }
    }

    /// A model whose rollout overflows: simulate refuses, naming the test example and the step,
    /// and writes nothing (CSV, JSON or -o), instead of printing inf or nan.
    @Test func divergingSimulationIsAnErrorNamingTestAndStep() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let sim = FittedSimulator(method: .linear, form: .linear, lambda: 0.1, trainIDs: ["a", "b"], testIDs: ["calm", "wild"],
                                  a: Matrix(rowArrays: [[0.5, 0.5], [1e100, 1e100]]), b: Matrix(rows: 2, columns: 2),
                                  seen: [true, true], fittedOn: ["r"], startingStep: 0, startingLosses: [1, 1])
        try ModelFile.write(sim, to: dir + "/m")
        try Data("{\"step\": 1, \"batch\": [\"a\"]}\n{\"step\": 2, \"batch\": [\"b\"]}\n{\"step\": 3, \"batch\": [\"a\", \"b\"]}\n{\"step\": 4, \"batch\": [\"a\"]}\n"
            .utf8).write(to: URL(fileURLWithPath: dir + "/c.jsonl"))
        for extra in [[], ["--json"], ["-o", dir + "/out.csv"]] {
            let r = try RobustRunner.run(["simulate", "--model", dir + "/m", "--curriculum", dir + "/c.jsonl"] + extra)
            #expect(r.status != 0)
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.contains("test example 'wild' diverged") && r.stderr.contains("inf after step 4")
                    && r.stderr.contains("after step 3)"), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.csv"))
        let calm = try RobustRunner.run(["simulate", "--model", dir + "/m", "--curriculum", dir + "/c.jsonl", "--test", "calm"])
        #expect(calm.status == 0 && calm.stdout.split(separator: "\n").count == 6)
    }

    /// Curriculum ids the model never saw: an error naming id and step, unless --unseen zero.
    @Test func unseenExamples() throws {
        let dir = try CLIRunner.temporaryDirectory()
        try writeLog(dir + "/log", trainIDs: ["a", "b", "never"], testIDs: ["x"], runs: [
            (batches: [[0], [1]], losses: [[2], [1.5], [1.2]]), (batches: [[1], [0]], losses: [[2], [1.6], [1.1]]),
        ])
        #expect(try RobustRunner.run(["fit", dir + "/log", "--lambda", "0.1", "-o", dir + "/m"]).status == 0)
        let m = try ModelFile.read(dir + "/m")
        #expect(m.seen == [true, true, false] && m.a[0, 2] == 0 && m.b[0, 2] == 0)
        try Data("{\"step\": 1, \"batch\": [\"a\", \"never\"]}\n".utf8).write(to: URL(fileURLWithPath: dir + "/c.jsonl"))
        let strict = try RobustRunner.run(["simulate", "--model", dir + "/m", "--curriculum", dir + "/c.jsonl"])
        #expect(strict.status != 0 && strict.stderr.contains("'never'") && strict.stderr.contains("step 1") && strict.stderr.contains("--unseen mean"))
        let zero = try RobustRunner.run(["simulate", "--model", dir + "/m", "--curriculum", dir + "/c.jsonl", "--unseen", "zero"])
        #expect(zero.status == 0)
        let a = try RobustRunner.run(["simulate", "--model", dir + "/m", "--curriculum", dir + "/c.jsonl", "--unseen", "zero"])
        #expect(a.stdout == zero.stdout)
    }

    /// `simulate` without --initial starts from the fitted runs' mean first loss (kept in the
    /// model file), at their first step: a GPTDynamics log starts at step 1, not from a loss of 0.
    @Test func defaultStartIsTheFittedRunsMeanFirstLoss() throws {
        let dir = try CLIRunner.temporaryDirectory()
        try RobustRunner.synth(dir + "/gpt", format: "gptdynamics")
        #expect(try RobustRunner.run(["fit", dir + "/gpt", "--lambda", "0.1", "-o", dir + "/m"]).status == 0)
        let log = try LogReader.read(dir + "/gpt")
        let r = try RobustRunner.run(["simulate", "--model", dir + "/m", "--curriculum", dir + "/gpt/runs/run1/train_samples_id.json", "--test", "t0"])
        #expect(r.status == 0, "\(r.stderr)")
        let first = try #require(r.stdout.split(separator: "\n").dropFirst().first).split(separator: ",")
        let z = try #require(log.testIDs.firstIndex(of: "t0"))
        let mean = log.runs.map { $0.losses[0, z] }.reduce(0, +) / Double(log.runs.count)
        #expect(first[1] == "1")
        #expect(Double(first[2]) == mean)
    }
}

/// A tiny seeded generator for the kill delays (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

enum Format2 {
    static func seconds(_ s: Double) -> String { String(format: "%.2f s", s) }
}
