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
}

extension FineTuningShape {
    /// Batches per epoch: the sample split into batches of ``batchSize`` (the last one smaller
    /// if ``batchSize`` does not divide ``sampleSize``).
    public var batchesPerEpoch: Int { (sampleSize + batchSize - 1) / batchSize }
    /// Steps of every run (96 with GPTfluence's protocol).
    public var stepsPerRun: Int { batchesPerEpoch * epochs }

    /// These settings with `orders` orders per subset.
    public func withOrders(_ orders: Int) -> Self {
        var copy = self
        copy.orders = orders
        return copy
    }
}
