import ArgumentParser
import Foundation
import Simfluence

/// Options of the extended methods shared by evaluate and fit: gapped logs (`--every`) and, for
/// evaluate, bootstrap intervals.
struct SubsamplingOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Losses were recorded only every K steps: use only rows whose step is a multiple of K (and each run's first and last row) for fitting.",
        discussion: "Default: the log's 'loss_every' metadata, else every step. Unobserved rows are linearly interpolated for teacher-forced methods and the mean-run baseline; linear-rollout scores only observed rows. Held-out runs are still scored on every recorded step.",
        valueName: "k"))
    var every: Int?

    /// The subsampling in force for `log`.
    func every(for log: TrainingLog) throws -> Int? {
        let k = every ?? log.metadata["loss_every"].flatMap { Int($0) }
        if let k, k < 1 { throw ValidationError("--every must be at least 1 (got \(k))") }
        return (k ?? 1) > 1 ? k : nil
    }
}

struct BootstrapOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Refit each method on B bootstrap resamples of the training runs and report 10th-90th percentile intervals per step and their coverage.",
        valueName: "B"))
    var bootstrap: Int?

    @Option(help: "Seed of the bootstrap resampling.")
    var bootstrapSeed: UInt64 = 0

    func validate() throws {
        if let b = bootstrap, b < 2 { throw ValidationError("--bootstrap needs at least 2 replicates (got \(b))") }
    }
}

/// The extra evaluation outputs of the extended methods: clamping counts and bootstrap coverage.
struct ExtendedEvaluationExtras {
    /// Per method: simulated held-out losses that were clamped (nil for unclamped simulators).
    var clamped: [String: Int] = [:]
    /// Per method: bootstrap interval coverage.
    var coverage: [String: IntervalCoverage] = [:]
    /// Per method: the intervals (one matrix pair per held-out run).
    var intervals: [String: BootstrapIntervals] = [:]
    var replicates: Int?

    static func compute(_ result: EvaluationResult, methods: [MethodName], log: TrainingLog, split: HoldoutSplit,
                        inputs: MethodInputs, unseen: UnseenPolicy, replicates: Int?, seed: UInt64 = 0,
                        threads: Int) throws -> ExtendedEvaluationExtras {
        var extras = ExtendedEvaluationExtras()
        extras.replicates = replicates
        for (method, entry) in zip(methods, result.results) {
            guard let sim = entry.fit?.simulator else { continue }
            if sim.isExtended {
                var count = 0
                for run in split.heldOut {
                    let batches = run.simulatedBatches.map { $0.filter { sim.seen[$0] } }
                    count += sim.simulateExtended(batches, initial: run.initialLosses, firstStep: run.firstLossStep + 1).clamped
                }
                extras.clamped[entry.scores.method] = count
            }
            if let b = replicates {
                let iv = try Bootstrap.heldOut(method, fitted: sim, log: log, training: split.training, heldOut: split.heldOut,
                                               inputs: inputs, replicates: b, seed: seed, threads: threads)
                extras.intervals[entry.scores.method] = iv
                extras.coverage[entry.scores.method] = Bootstrap.coverage(iv, heldOut: split.heldOut)
            }
        }
        return extras
    }

    /// Extra table columns.
    var columns: [(header: String, values: [String: String])] {
        var cols: [(String, [String: String])] = [("clamped", clamped.mapValues { String($0) })]
        if let b = replicates {
            cols.append(("coverage 10-90% (B=\(b))", coverage.mapValues { Format.number($0.predictive) }))
            cols.append(("param. coverage", coverage.mapValues { Format.number($0.parameter) }))
        }
        return cols
    }

    /// Extra JSON members per method.
    func json(_ method: String) -> [(String, JSON)] {
        var out: [(String, JSON)] = [("clamped", clamped[method].map { .number(Double($0)) } ?? .null)]
        if let c = coverage[method] {
            out.append(("bootstrap_replicates", .number(replicates.map(Double.init))))
            out.append(("bootstrap_coverage", .number(c.predictive)))
            out.append(("bootstrap_parameter_coverage", .number(c.parameter)))
            out.append(("bootstrap_mean_width", .number(c.meanWidth)))
        }
        return out
    }

    /// Writes the intervals as JSON lines {"method", "run", "test_id", "first_step", "lower", "upper",
    /// "parameter_lower", "parameter_upper"} (arrays over steps first_step...T).
    func writeIntervals(to path: String, split: HoldoutSplit, testIDs: [String]) throws {
        var text = ""
        for method in intervals.keys.sorted() {
            guard let iv = intervals[method] else { continue }
            for (h, run) in split.heldOut.enumerated() {
                for (c, id) in testIDs.enumerated() {
                    func column(_ m: Matrix) -> JSON { .array((0..<m.rows).map { .number(m[$0, c]) }) }
                    text += JSON.object([
                        ("method", .string(method)), ("run", .string(run.name)), ("test_id", .string(id)),
                        ("first_step", .number(Double(run.firstLossStep))),
                        ("lower", column(iv.lower[h])), ("upper", column(iv.upper[h])),
                        ("parameter_lower", column(iv.parameterLower[h])), ("parameter_upper", column(iv.parameterUpper[h])),
                    ]).rendered() + "\n"
                }
            }
        }
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}

/// `simulate --bootstrap B`: per-step intervals from refitting the model's method on B
/// resamples of the runs it was fitted on (see ``Bootstrap``).
enum SimulateBootstrap {
    /// Lower and upper bounds (predictive interval), (steps + 1) x columns.
    static func intervals(_ sim: FittedSimulator, logPath: String?, batches: [[Int]], firstStep: Int, initial: [Double],
                          columns: [Int], replicates: Int, seed: UInt64) throws -> (lower: Matrix, upper: Matrix) {
        guard let path = logPath ?? sim.metadata["log"] else {
            throw ValidationError("--bootstrap needs the log the model was fitted on: pass --log DIR")
        }
        guard let method = MethodName(sim.method) else {
            throw ValidationError("--bootstrap: the model's method '\(sim.method)' is not one this build can refit")
        }
        let log = try LogReader.read(path)
        guard log.trainIDs == sim.trainIDs, log.testIDs == sim.testIDs else {
            throw SimfluenceError.invalidArgument("--bootstrap: \(path) is not the log the model was fitted on (its training or test ids differ)")
        }
        var inputs = MethodInputs(lambda: .fixed(sim.lambda ?? 0))
        inputs.every = sim.metadata["observed_every"].flatMap { Int($0) }
        if method.needsGradients {
            inputs.gradients = try GradientOptions().features(forLog: path)
        }
        let runs = LossSubsampling.interpolated(log.runs(named: Set(sim.fittedOn)), every: inputs.every)
        // Targets use every test example's start; only the requested columns are reported.
        var start = sim.startingLosses
        for (c, z) in columns.enumerated() { start[z] = initial[c] }
        let iv = try Bootstrap.intervals(method, fitted: sim, log: log, runs: runs, inputs: inputs,
                                         targets: [(batches, firstStep, start)], replicates: replicates, seed: seed)
        var lower = Matrix(rows: batches.count + 1, columns: columns.count), upper = lower
        for r in 0..<lower.rows {
            for (c, z) in columns.enumerated() {
                lower[r, c] = iv.lower[0][r, z]
                upper[r, c] = iv.upper[0][r, z]
            }
        }
        return (lower, upper)
    }

    /// Adds ",lower,upper" columns to simulate's CSV (same row order: test by test, step by step).
    static func csv(_ text: String, _ bands: (lower: Matrix, upper: Matrix)) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var out = lines[0] + ",lower,upper\n"
        let rows = bands.lower.rows
        for (k, line) in lines.dropFirst().enumerated() {
            let c = k / rows, r = k % rows
            out += line + ",\(bands.lower[r, c]),\(bands.upper[r, c])\n"
        }
        return out
    }

    /// Adds "lower" and "upper" arrays (per trajectory, in order) to simulate's JSON.
    static func json(_ text: String, _ bands: (lower: Matrix, upper: Matrix)) -> String {
        let lower = JSON.array((0..<bands.lower.columns).map { c in .array(bands.lower.column(c).map { .number($0) }) })
        let upper = JSON.array((0..<bands.upper.columns).map { c in .array(bands.upper.column(c).map { .number($0) }) })
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        body.removeLast()
        return body + ",\"interval\":\"bootstrap 10th-90th percentile, per trajectory\",\"lower\":" + lower.rendered()
            + ",\"upper\":" + upper.rendered() + "}\n"
    }
}
