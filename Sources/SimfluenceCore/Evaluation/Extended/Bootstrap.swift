/// Per-step uncertainty intervals from refitting a method on bootstrap resamples of its training
/// runs (see Docs/Methods.md, "Uncertainty").
///
/// Replicate b draws `runs.count` training runs with replacement (``SeededGenerator`` seeded by
/// `seed`, one draw sequence for all replicates) and refits the method at the original fit's
/// lambda (and smoothing), without cross-validation. Two intervals per predicted step:
///
/// - *parameter* interval: the 10th-90th percentile over replicates of the replicate's
///   prediction (refitting uncertainty only);
/// - *predictive* interval (the one reported by default): the 10th-90th percentile over all
///   pairs (b, j) of prediction_b + residual_{b,j}, where residual_{b,j} is the rollout error
///   (truth - prediction_b) of an out-of-bag run j (a training run replicate b did not draw) at
///   the same step offset from the start (the last offset of run j beyond its end). It adds the
///   error a replicate makes on runs it has not seen, so it aims to cover held-out losses.
///
/// Percentiles interpolate linearly between order statistics.
public struct BootstrapIntervals: Sendable {
    /// Per target (held-out run or curriculum): lower and upper bounds of the predictive
    /// interval, shaped like the prediction (row 0 = the starting loss).
    public var lower: [Matrix]
    public var upper: [Matrix]
    /// The same for the parameter interval.
    public var parameterLower: [Matrix]
    public var parameterUpper: [Matrix]
    /// Number of replicates.
    public var replicates: Int
}

/// Coverage of intervals against recorded losses.
public struct IntervalCoverage: Sendable, Equatable {
    /// Fraction of true losses (every predicted step of every trajectory) inside the predictive interval.
    public var predictive: Double
    /// The same for the parameter interval.
    public var parameter: Double
    /// Mean width (upper - lower) of the predictive interval, loss units.
    public var meanWidth: Double
}

public enum Bootstrap {
    /// Lower and upper percentiles of the intervals.
    public static let lowerQuantile = 0.1
    public static let upperQuantile = 0.9

    /// Refits `method` as `fitted` was fitted (every hyperparameter it chose held fixed; see
    /// ``MethodDescriptor/refit(like:_:)``).
    public static func refit(_ method: MethodName, like fitted: FittedSimulator, log: TrainingLog, runs: [TrainingRun],
                             inputs: MethodInputs, threads: Int) throws -> FittedSimulator {
        try method.descriptor.refit(like: fitted, FitRequest(log: log, runs: runs, inputs: inputs, threads: threads))
    }

    /// Bytes ``intervals(_:fitted:log:runs:inputs:targets:replicates:seed:threads:)`` keeps at
    /// its peak, besides the refits themselves: every replicate's prediction of every target
    /// (`targetRows` rows each) and its residuals on out-of-bag runs (at most `runRows`, the
    /// rows of all training runs), for `tests` test examples, plus the four interval matrices.
    public static func memoryEstimate(replicates: Int, targetRows: Int, runRows: Int, tests: Int) -> Double {
        8 * Double(tests) * (Double(replicates) * (Double(targetRows) + Double(runRows)) + 4 * Double(targetRows))
    }

    /// Bootstrap intervals for simulating `targets` (curricula with starting losses, one matrix
    /// per target of `(batches.count + 1)` x tests) with `method`.
    ///
    /// - Parameters:
    ///   - targets: per target, the batches to apply (indices of `log.trainIDs`), their first
    ///     step number, and the starting loss of every test example.
    ///   - unseen: ids a replicate never saw are dropped (no effect) under `.zero`; under `.error`
    ///     they are dropped too (the original fit already accepted the curriculum).
    public static func intervals(_ method: MethodName, fitted: FittedSimulator, log: TrainingLog, runs: [TrainingRun],
                                 inputs: MethodInputs, targets: [(batches: [[Int]], firstStep: Int, initial: [Double])],
                                 replicates: Int, seed: UInt64, threads: Int = Parallel.defaultThreads) throws -> BootstrapIntervals {
        guard replicates >= 2 else { throw SimfluenceError.invalidArgument("--bootstrap needs at least 2 replicates (got \(replicates))") }
        guard !runs.isEmpty else { throw SimfluenceError.invalidArgument("bootstrap: no training runs") }
        var rng = SeededGenerator(seed: seed)
        let tests = fitted.testIDs.count
        // predictions[b][target], residuals[b] = [(matrix of truth - prediction)] of out-of-bag runs.
        var predictions: [[Matrix]] = []
        var residuals: [[Matrix]] = []
        for b in 0..<replicates {
            var drawn = [Int](repeating: 0, count: runs.count)
            var sample: [TrainingRun] = []
            for k in 0..<runs.count {
                let j = Int(rng.next() % UInt64(runs.count))
                drawn[j] += 1
                var run = runs[j]
                run.name = "\(run.name)#b\(b)k\(k)"
                sample.append(run)
            }
            let sim = try refit(method, like: fitted, log: log, runs: sample, inputs: inputs, threads: threads)
            predictions.append(targets.map { target in
                sim.simulate(target.batches.map { $0.filter { sim.seen[$0] } }, initial: target.initial, firstStep: target.firstStep)
            })
            var res: [Matrix] = []
            for (j, run) in runs.enumerated() where drawn[j] == 0 && run.losses.rows >= 2 {
                let batches = run.simulatedBatches.map { $0.filter { sim.seen[$0] } }
                let p = sim.simulate(batches, initial: run.initialLosses, firstStep: run.firstLossStep + 1)
                var r = Matrix(rows: p.rows, columns: p.columns)
                let observed = LossSubsampling.observedRows(run, every: inputs.every)
                for row in 0..<p.rows {
                    for c in 0..<tests {
                        // Unobserved rows (gapped logs) carry the residual of the last observed row.
                        let src = observed[row] ? row : (0...row).last { observed[$0] } ?? 0
                        r[row, c] = run.losses[src, c] - p[src, c]
                    }
                }
                res.append(r)
            }
            residuals.append(res)
        }
        var lower: [Matrix] = [], upper: [Matrix] = [], pLower: [Matrix] = [], pUpper: [Matrix] = []
        for (ti, target) in targets.enumerated() {
            let rows = target.batches.count + 1
            var lo = Matrix(rows: rows, columns: tests), hi = lo, plo = lo, phi = lo
            let outLo = MatrixSlots(lo), outHi = MatrixSlots(hi), outPlo = MatrixSlots(plo), outPhi = MatrixSlots(phi)
            let preds = predictions.map { $0[ti] }
            let res = residuals
            try Parallel.forEach(tests, threads: threads) { c in
                var samples: [Double] = []
                var params: [Double] = []
                for r in 0..<rows {
                    samples.removeAll(keepingCapacity: true)
                    params.removeAll(keepingCapacity: true)
                    for b in 0..<preds.count {
                        let p = preds[b][r, c]
                        params.append(p)
                        for e in res[b] { samples.append(p + e[min(r, e.rows - 1), c]) }
                    }
                    if samples.isEmpty { samples = params }
                    params.sort()
                    samples.sort()
                    outPlo.set(r, c, quantile(params, lowerQuantile))
                    outPhi.set(r, c, quantile(params, upperQuantile))
                    outLo.set(r, c, quantile(samples, lowerQuantile))
                    outHi.set(r, c, quantile(samples, upperQuantile))
                }
            }
            lo = outLo.matrix(); hi = outHi.matrix(); plo = outPlo.matrix(); phi = outPhi.matrix()
            lower.append(lo); upper.append(hi); pLower.append(plo); pUpper.append(phi)
        }
        return BootstrapIntervals(lower: lower, upper: upper, parameterLower: pLower, parameterUpper: pUpper,
                                  replicates: replicates)
    }

    /// Intervals for held-out runs (each simulated from its first recorded loss with its own
    /// curriculum), for `evaluate --bootstrap`.
    public static func heldOut(_ method: MethodName, fitted: FittedSimulator, log: TrainingLog, training: [TrainingRun],
                               heldOut: [TrainingRun], inputs: MethodInputs, replicates: Int, seed: UInt64,
                               threads: Int = Parallel.defaultThreads) throws -> BootstrapIntervals {
        try intervals(method, fitted: fitted, log: log, runs: training, inputs: inputs,
                      targets: heldOut.map { (Array($0.simulatedBatches), $0.firstLossStep + 1, $0.initialLosses) },
                      replicates: replicates, seed: seed, threads: threads)
    }

    /// Coverage of `intervals` (one per held-out run) on the runs' recorded losses, over every
    /// predicted row (row 0, the starting point, excluded).
    public static func coverage(_ intervals: BootstrapIntervals, heldOut: [TrainingRun]) -> IntervalCoverage {
        var inside = 0, insideP = 0, total = 0
        var width = 0.0
        for (h, run) in heldOut.enumerated() {
            for r in 1..<run.losses.rows {
                for c in 0..<run.losses.columns {
                    let y = run.losses[r, c]
                    if y >= intervals.lower[h][r, c] && y <= intervals.upper[h][r, c] { inside += 1 }
                    if y >= intervals.parameterLower[h][r, c] && y <= intervals.parameterUpper[h][r, c] { insideP += 1 }
                    width += intervals.upper[h][r, c] - intervals.lower[h][r, c]
                    total += 1
                }
            }
        }
        let n = Double(max(1, total))
        return IntervalCoverage(predictive: Double(inside) / n, parameter: Double(insideP) / n, meanWidth: width / n)
    }

    /// The q-quantile of sorted values, linear between order statistics.
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let x = q * Double(sorted.count - 1)
        let i = Int(x)
        if i + 1 >= sorted.count { return sorted[sorted.count - 1] }
        let w = x - Double(i)
        return (1 - w) * sorted[i] + w * sorted[i + 1]
    }
}

/// A matrix written by parallel workers at distinct cells.
final class MatrixSlots: @unchecked Sendable {
    private let rows: Int, columns: Int
    private let buffer: UnsafeMutablePointer<Double>
    init(_ m: Matrix) {
        rows = m.rows
        columns = m.columns
        buffer = .allocate(capacity: max(1, m.storage.count))
        buffer.initialize(repeating: 0, count: max(1, m.storage.count))
    }
    deinit { buffer.deallocate() }
    func set(_ r: Int, _ c: Int, _ v: Double) { buffer[r * columns + c] = v }
    func matrix() -> Matrix {
        Matrix(rows: rows, columns: columns, storage: Array(UnsafeBufferPointer(start: buffer, count: rows * columns)))
    }
}
