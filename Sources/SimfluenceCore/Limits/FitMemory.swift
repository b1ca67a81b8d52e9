/// The memory a ridge fit allocates, estimated before allocating any of it, so that a fit too
/// large for the machine is refused with an explanation instead of being killed half-way.
///
/// Mirrors the allocations of the dense solver (`RidgeSolver`, `RidgeDesign`, `RidgeFit`,
/// `LambdaSearch`): with m active training examples and n unknowns per test example (2m for
/// linear, m for the other forms), per worker thread a packed n x n matrix being factored, the
/// lambda-free part of it, and two loss vectors of one entry per design row; shared, one packed
/// m x m factor per lambda (forms with B) plus the co-occurrence matrix; and the fitted A and B
/// (tests x training examples each). Keep it in step with the solver if its storage changes.
public enum FitMemory {
    /// The estimate and a short breakdown for messages.
    public struct Estimate: Sendable, Equatable {
        public var bytes: Int
        public var detail: String
    }

    /// Bytes needed to fit `form` on `runs` of `log` with `lambdas` candidate penalties (1 for a
    /// fixed lambda, the grid size for cross-validation) on `threads` threads.
    public static func estimate(log: TrainingLog, runs: [TrainingRun], form: RecurrenceForm,
                                lambdas: Int, threads: Int) -> Estimate {
        var active = [Bool](repeating: false, count: log.trainIDs.count)
        var rows = 0
        for run in runs {
            let first = run.firstLossStep
            for r in 1..<max(1, run.losses.rows) where first + r - 1 < run.batches.count {
                rows += 1
                for i in run.batches[first + r - 1] where i >= 0 && i < active.count { active[i] = true }
            }
        }
        let m = active.reduce(0) { $0 + ($1 ? 1 : 0) }
        let n = form == .linear ? 2 * m : m
        func packed(_ k: Int) -> Double { Double(k) * Double(k + 1) / 2 }
        let base: Double
        switch form {
        case .linear: base = packed(n) - packed(m)
        case .multiplicative: base = packed(n)
        case .additive: base = 0
        }
        let work = form == .additive ? 0 : packed(n)
        let perThread: Double = 8 * (2 * Double(rows) + base + work + 2 * Double(n))
        let workers = Double(max(1, min(threads, log.testIDs.count)))
        let shared: Double = form.usesB ? 8 * (Double(max(1, lambdas)) + 1) * packed(m) : 0
        let tests = Double(log.testIDs.count)
        let parameters: Double = 16 * tests * Double(log.trainIDs.count)
        let scores: Double = 8 * tests * Double(max(1, lambdas))
        let output: Double = parameters + scores
        let total: Double = perThread * workers + shared + output
        let bytes = total < 9e18 ? Int(total) : Int.max
        let detail = "\(n) unknowns per test example from \(m) training examples: \(describe(perThread)) per thread on \(Int(workers)) thread\(workers == 1 ? "" : "s"), \(describe(shared)) of shared factors, \(describe(output)) of results"
        return Estimate(bytes: bytes, detail: detail)
    }

    static func describe(_ bytes: Double) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var v = bytes
        var u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(Int(v)) bytes" }
        let rounded = (v * 10).rounded() / 10
        return "\(rounded) \(units[u])"
    }
}
