import Foundation

/// `simulate --bootstrap B`: per-step intervals for one curriculum from refitting a model's
/// method on B resamples of the runs it was fitted on (see ``Bootstrap``).
public enum SimulationBootstrap {
    /// Lower and upper bounds of the predictive interval, `(batches.count + 1)` x
    /// `columns.count` each.
    ///
    /// - Parameters:
    ///   - logPath: the log the model was fitted on; nil = the path the model records, which
    ///     a relative path is resolved against the folder of `modelPath`. The log must be the one
    ///     the model was fitted on: its ``LogFingerprint`` must equal the one the model records.
    ///   - batches: the curriculum's batches from `firstStep` on, as indices into the model's
    ///     training ids; `initial` the starting losses of the test examples `columns`.
    /// - Throws: when no log is known, the log's ids differ from the model's, or refitting fails.
    public static func intervals(_ sim: FittedSimulator, modelPath: String, logPath: String?, batches: [[Int]], firstStep: Int,
                                 initial: [Double], columns: [Int], replicates: Int,
                                 seed: UInt64) throws -> (lower: Matrix, upper: Matrix) {
        let recorded = sim.provenance.log.map { stored in
            stored.hasPrefix("/") ? stored : Paths.join((modelPath as NSString).deletingLastPathComponent, stored)
        }
        guard let path = logPath ?? recorded else {
            throw SimfluenceError.invalidArgument("--bootstrap needs the log the model was fitted on: pass --log DIR")
        }
        let log = try LogReader.read(path)
        guard log.trainIDs == sim.trainIDs, log.testIDs == sim.testIDs else {
            throw SimfluenceError.invalidArgument("--bootstrap: \(path) is not the log the model was fitted on (its training or test ids differ)")
        }
        if let expected = sim.provenance.logFingerprint {
            let found = LogFingerprint.compute(log)
            if found != expected {
                throw SimfluenceError.invalidArgument("--bootstrap: \(path) is not the log the model was fitted on: its runs or losses differ (log fingerprint \(found), the model records \(expected))")
            }
        }
        var inputs = MethodInputs(lambda: .fixed(sim.lambda ?? 0))
        inputs.every = sim.provenance.observedEvery
        if sim.refitNeedsGradients {
            inputs.gradients = try GradientFeaturesFile.find(forLog: path)
        }
        let runs = LossSubsampling.interpolated(log.runs(named: Set(sim.fittedOn)), every: inputs.every)
        let bytes = Bootstrap.memoryEstimate(replicates: replicates, targetRows: batches.count + 1,
                                             runRows: runs.reduce(0) { $0 + $1.losses.rows }, tests: sim.testIDs.count)
        try FitChecks.requireMemory(bytes, what: "--bootstrap \(replicates)", detail: "every replicate's predictions and residuals",
                                    advice: "use fewer replicates or a shorter curriculum")
        // Targets use every test example's start; only the requested columns are reported.
        var start = sim.startingLosses
        for (c, z) in columns.enumerated() { start[z] = initial[c] }
        let iv = try Bootstrap.intervals(sim.method, fitted: sim, log: log, runs: runs, inputs: inputs,
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
}
