/// The shape of a built-in workload's fine-tuning runs, shared by the workloads' settings: how
/// many examples a run samples, in batches of what size, for how many epochs, and how many
/// orders each random subset is trained in.
public protocol FineTuningShape {
    /// Examples each run samples (without replacement) from the pool.
    var sampleSize: Int { get }
    /// Examples per step.
    var batchSize: Int { get }
    /// Passes over the run's sample; each pass shuffles it anew.
    var epochs: Int { get }
    /// Orders per random subset (1 = every run its own subset).
    var orders: Int { get set }
    /// Number of runs.
    var runs: Int { get }
}

extension FineTuningShape {
    /// Batches per epoch: the sample split into batches of ``batchSize`` (the last one smaller
    /// if ``batchSize`` does not divide ``sampleSize``).
    public var batchesPerEpoch: Int { (sampleSize + batchSize - 1) / batchSize }
    /// Steps of every run (96 with GPTfluence's protocol).
    public var stepsPerRun: Int { batchesPerEpoch * epochs }

    /// The checkpoints of reference run `referenceRun` at which gradient features are recorded:
    /// steps 0, K, 2K, ... below ``stepsPerRun`` (K = `interval`), each covering the steps up to
    /// the next one, and with `includeFinal` the step after the last update covering none.
    /// Throws for an interval below 1 or a reference run outside 1...``runs``.
    public func gradientCheckpoints(every interval: Int, referenceRun: Int,
                                    includeFinal: Bool) throws -> (steps: [Int], covered: [Int]) {
        guard interval >= 1 else {
            throw SimfluenceError.invalidArgument("checkpoint interval must be at least 1 step, got \(interval)")
        }
        guard referenceRun >= 1 && referenceRun <= runs else {
            throw SimfluenceError.invalidArgument("reference run must be in 1...\(runs), got \(referenceRun)")
        }
        let total = stepsPerRun
        var steps = Array(stride(from: 0, to: total, by: interval))
        var covered = steps.map { min(interval, total - $0) }
        if includeFinal { steps.append(total); covered.append(0) }
        return (steps, covered)
    }

    /// These settings with `orders` orders per subset.
    public func withOrders(_ orders: Int) -> Self {
        var copy = self
        copy.orders = orders
        return copy
    }
}
