/// The teacher-forced regression of the lag-kernel simulator, shared by every test example:
/// one row per simulated step of every run, the target the loss change of that step, the
/// regressors the kernel-weighted counts of the batches up to it, and one fixed effect per
/// absolute step (the step terms v_t), removed by subtracting step-group means (exact for a
/// one-way fixed effect, balanced or not).
///
/// Row (run r, k) is simulated step k + 1 of run r (absolute step firstLossStep + k + 1), its
/// target y = L[k + 1] - L[k]; regressor of example i: x_i = sum_{s <= k} kappa(k - s) count_i(c_s)
/// over the run's simulated batches.
struct LagKernelDesign: Sendable {
    /// Training examples in the log's vocabulary.
    let trainCount: Int
    /// Global ids of the examples some simulated batch contains, ascending (the unknowns).
    let active: [Int]
    /// Per run, per simulated step, the batch as local (active) indices.
    let batches: [[[Int]]]
    /// Per run, the absolute step of its first simulated batch.
    let firstSteps: [Int]
    /// The number of rows of every step group, indexed by absolute step (0 unused).
    let groupSizes: [Int]
    /// Total rows.
    let rowCount: Int
    /// Whether the B step runs by conjugate gradients (``LagKernelIterative``; without a gradient
    /// prior) rather than a dense factorisation.
    var iterative: Bool
    /// The relative residual of the normal equations at which conjugate gradients stop.
    var tolerance = LagKernelFit.iterativeTolerance

    /// The design of `runs`; `solver` picks the B step's solver (automatic: conjugate gradients
    /// above ``LagKernelFit/iterativeExampleLimit`` active examples, to
    /// ``LagKernelFit/iterativeTolerance``).
    init(log: TrainingLog, runs: [TrainingRun], solver: RidgeSolverChoice = .automatic) {
        trainCount = log.trainIDs.count
        var local = [Int](repeating: -1, count: trainCount)
        var seen = [Bool](repeating: false, count: trainCount)
        for run in runs { for batch in run.simulatedBatches { for i in batch { seen[i] = true } } }
        active = (0..<trainCount).filter { seen[$0] }
        for (k, g) in active.enumerated() { local[g] = k }
        batches = runs.map { run in run.simulatedBatches.map { $0.map { local[$0] } } }
        firstSteps = runs.map { $0.firstLossStep + 1 }
        let last = zip(batches, firstSteps).map { $0.count + $1 - 1 }.max() ?? 0
        var sizes = [Int](repeating: 0, count: last + 1)
        var rows = 0
        for (b, first) in zip(batches, firstSteps) {
            for k in b.indices { sizes[first + k] += 1 }
            rows += b.count
        }
        groupSizes = sizes
        rowCount = rows
        switch solver {
        case .automatic: iterative = active.count > LagKernelFit.iterativeExampleLimit
        case .dense: iterative = false
        case .iterative(let tolerance):
            iterative = true
            self.tolerance = tolerance
        }
    }

    /// The last absolute step of any row.
    var lastStep: Int { groupSizes.count - 1 }
    /// Number of unknowns per test example.
    var n: Int { active.count }
}
