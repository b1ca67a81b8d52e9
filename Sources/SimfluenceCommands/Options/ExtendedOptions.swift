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

    /// The subsampling in force for `log` (see ``LossSubsampling/every(requested:log:)``).
    func every(for log: TrainingLog) throws -> Int? {
        try LossSubsampling.every(requested: every, log: log)
    }
}

struct BootstrapOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Refit each method on B bootstrap resamples of the training runs and report 10th-90th percentile intervals per step and their coverage.",
        valueName: "B"))
    var bootstrap: Int?

    /// The most replicates `--bootstrap` accepts (each is a full refit).
    static let largestReplicates = 10_000

    @Option(help: "Seed of the bootstrap resampling.")
    var bootstrapSeed: UInt64 = 0

    func validate() throws {
        if let b = bootstrap, b < 2 || b > Self.largestReplicates {
            throw ValidationError("--bootstrap takes 2 to \(Self.largestReplicates) replicates (got \(b))")
        }
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
    /// Per method: order-LDS on order groups trained besides the held-out runs (the demo's).
    var orderLDS: [String: Summary] = [:]

    static func compute(_ result: EvaluationResult, log: TrainingLog, split: HoldoutSplit,
                        inputs: MethodInputs, replicates: Int?, seed: UInt64 = 0,
                        threads: Int) throws -> ExtendedEvaluationExtras {
        var extras = ExtendedEvaluationExtras()
        extras.replicates = replicates
        for entry in result.results {
            extras.clamped[entry.scores.method] = entry.clamped
            if let b = replicates, let iv = try FitPipeline.bootstrapHeldOut(entry, log: log, split: split, inputs: inputs,
                                                                        replicates: b, seed: seed, threads: threads) {
                extras.intervals[entry.scores.method] = iv
                extras.coverage[entry.scores.method] = Bootstrap.coverage(iv, heldOut: split.heldOut)
            }
        }
        return extras
    }

    /// Extra table columns.
    var columns: [(header: String, values: [String: String])] {
        var cols: [(String, [String: String])] = []
        if !orderLDS.isEmpty { cols.append(("order-LDS", orderLDS.mapValues { Format.number($0.mean) })) }
        cols.append(("clamped", clamped.mapValues { String($0) }))
        if let b = replicates {
            cols.append(("coverage 10-90% (B=\(b))", coverage.mapValues { Format.number($0.predictive) }))
            cols.append(("param. coverage", coverage.mapValues { Format.number($0.parameter) }))
        }
        return cols
    }

    /// Extra JSON members per method.
    func json(_ method: String) -> [(String, JSON)] {
        var out: [(String, JSON)] = [("clamped", clamped[method].map { .number(Double($0)) } ?? .null)]
        if let o = orderLDS[method] { out += [("order_lds", .number(o.mean)), ("order_lds_std", .number(o.std))] }
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
