/// A split of a log's runs into training runs (to fit on) and held-out runs (to score on).
///
/// Both lists keep the log's run order. Every held-out run has at least 2 loss rows: a run with a
/// single row has nothing to predict (row 0 is the simulation's starting point), so it cannot be
/// scored and is rejected when chosen for holding out.
public struct HoldoutSplit: Sendable {
    /// Runs to fit on, in log order.
    public var training: [TrainingRun]
    /// Runs to score on, in log order.
    public var heldOut: [TrainingRun]

    /// A split from explicit lists, without checks (for callers that chose runs themselves).
    public init(training: [TrainingRun], heldOut: [TrainingRun]) {
        self.training = training
        self.heldOut = heldOut
    }

    /// Holds out the last `k` runs of `log.runs` (the log keeps runs in natural name order, so
    /// these are the highest-numbered runs).
    ///
    /// - Throws: ``SimfluenceError/invalidArgument(_:)`` if `k < 1`, if `k >= log.runs.count`
    ///   (at least one run must remain to fit on), or if a held-out run has fewer than 2 loss rows.
    public static func last(_ k: Int, of log: TrainingLog) throws -> HoldoutSplit {
        let n = log.runs.count
        guard k >= 1 else {
            throw SimfluenceError.invalidArgument("the number of held-out runs must be at least 1, got \(k)")
        }
        guard k < n else {
            throw SimfluenceError.invalidArgument(
                "cannot hold out \(k) of \(n) run\(n == 1 ? "" : "s"): at least one run must remain to fit on")
        }
        let split = HoldoutSplit(training: Array(log.runs[..<(n - k)]), heldOut: Array(log.runs[(n - k)...]))
        try split.checkScorable()
        return split
    }

    /// Holds out the runs named in `names` (in log order, whatever the order of `names`;
    /// repeated names count once).
    ///
    /// - Throws: ``SimfluenceError/invalidArgument(_:)`` if `names` is empty, names a run the log
    ///   does not have (the message lists the available runs), holds out every run, or holds out
    ///   a run with fewer than 2 loss rows.
    public static func named(_ names: [String], of log: TrainingLog) throws -> HoldoutSplit {
        guard !names.isEmpty else {
            throw SimfluenceError.invalidArgument("no held-out runs named: name at least one run")
        }
        let available = Set(log.runs.map(\.name))
        var unknown: [String] = []
        for name in names where !available.contains(name) && !unknown.contains(name) { unknown.append(name) }
        if !unknown.isEmpty {
            let list = log.runs.map(\.name).joined(separator: ", ")
            throw SimfluenceError.invalidArgument(
                "unknown run\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); available runs: \(list.isEmpty ? "(none)" : list)")
        }
        let wanted = Set(names)
        let split = HoldoutSplit(training: log.runs.filter { !wanted.contains($0.name) },
                                 heldOut: log.runs.filter { wanted.contains($0.name) })
        guard !split.training.isEmpty else {
            throw SimfluenceError.invalidArgument(
                "holding out \(names.count == 1 ? "that run" : "those runs") leaves no run to fit on: at least one run must remain")
        }
        try split.checkScorable()
        return split
    }

    private func checkScorable() throws {
        for run in heldOut where run.losses.rows < 2 {
            throw SimfluenceError.invalidArgument(
                "run \(run.name) records \(run.losses.rows) loss row\(run.losses.rows == 1 ? "" : "s"): a held-out run needs at least 2 (a starting loss and one predicted step) to be scored")
        }
    }
}
