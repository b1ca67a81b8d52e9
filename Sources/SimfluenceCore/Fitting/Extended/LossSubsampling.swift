/// Logs whose losses were recorded only every k steps.
///
/// A loss row is *observed* when it is the run's first row (the simulation's starting point),
/// its last row, or its step is a multiple of k. ``interpolated(_:every:)`` keeps the observed
/// rows and replaces the others by linear interpolation between the neighbouring observed rows,
/// so every method can still be fitted (teacher-forced methods then see interpolated losses);
/// rollout fitting (``ExtendedRidgeMethod/linearRollout``) scores only the observed rows and runs the
/// recurrence through the unobserved steps.
public enum LossSubsampling {
    /// The gap in force for `log`: `requested` (`--every`) when given, else the log's
    /// `loss_every` metadata, else none; nil for every step (a gap of 1). A gap below 1 is an
    /// error naming where it came from.
    public static func every(requested: Int?, log: TrainingLog) throws -> Int? {
        if let k = requested {
            guard k >= 1 else { throw SimfluenceError.invalidArgument("--every must be at least 1 (got \(k))") }
            return k > 1 ? k : nil
        }
        guard let text = log.metadata["loss_every"] else { return nil }
        guard let k = Int(text), k >= 1 else {
            throw SimfluenceError.invalidArgument("the log's metadata \"loss_every\" must be a whole number >= 1 (got '\(text)')")
        }
        return k > 1 ? k : nil
    }

    /// observed[r] for every loss row r of `run` (all true when `every` is nil or 1).
    public static func observedRows(_ run: TrainingRun, every: Int?) -> [Bool] {
        let rows = run.losses.rows
        guard let k = every, k > 1 else { return [Bool](repeating: true, count: rows) }
        return (0..<rows).map { r in r == 0 || r == rows - 1 || (run.firstLossStep + r) % k == 0 }
    }

    /// `run` with unobserved loss rows replaced by linear interpolation (in step) between the
    /// nearest observed rows before and after.
    public static func interpolated(_ run: TrainingRun, every: Int?) -> TrainingRun {
        let observed = observedRows(run, every: every)
        guard observed.contains(false) else { return run }
        var out = run
        let cols = run.losses.columns
        let kept = observed.indices.filter { observed[$0] }
        for (a, b) in zip(kept, kept.dropFirst()) where b > a + 1 {
            for r in (a + 1)..<b {
                let w = Double(r - a) / Double(b - a)
                for c in 0..<cols {
                    out.losses[r, c] = (1 - w) * run.losses[a, c] + w * run.losses[b, c]
                }
            }
        }
        return out
    }

    /// Every run of `runs` interpolated (see ``interpolated(_:every:)``).
    public static func interpolated(_ runs: [TrainingRun], every: Int?) -> [TrainingRun] {
        runs.map { interpolated($0, every: every) }
    }
}
