import SimfluenceCore

/// The settings of a fine-tuning experiment on the digits workload, with GPTfluence's layout as
/// defaults: a pool of 200 training examples, 32 runs, each training on a random 128 of the pool
/// in batches of 4 for 3 epochs (96 steps), 200 test examples.
public struct WorkloadProtocol: Sendable, Equatable, FineTuningShape {
    /// Training examples in the pool the runs sample from.
    public var poolSize: Int
    /// Examples each run samples (without replacement) from the pool.
    public var sampleSize: Int
    /// Examples per step.
    public var batchSize: Int
    /// Passes over the run's sample; each pass shuffles it anew.
    public var epochs: Int
    /// Number of runs.
    public var runs: Int
    /// Test examples whose losses every run records.
    public var testSize: Int
    /// The fine-tuning optimizer.
    public var optimizer: OptimizerKind
    /// Fine-tuning learning rate; nil = the optimizer's default (SGD 0.01, Adam 0.003).
    public var learningRate: Double?
    /// SGD momentum.
    public var momentum: Double
    /// Adam's moment decay rates and epsilon.
    public var adamBeta1: Double
    public var adamBeta2: Double
    public var adamEpsilon: Double
    /// Seeds every random choice: splits, label flips, initialisation, warm-up order, run curricula.
    public var seed: UInt64
    /// Examples in the warm-up ("pre-training") split.
    public var warmupSize: Int
    /// Epochs of warm-up training that produce the shared checkpoint.
    public var warmupEpochs: Int
    /// Warm-up batch size and learning rate (SGD with momentum 0.9, always).
    public var warmupBatchSize: Int
    public var warmupLearningRate: Double
    /// Fraction of pool examples whose label is replaced by a different, random label (0...1).
    public var flipLabels: Double
    /// Orders per random subset: runs come in groups of `orders` consecutive runs that train on
    /// the same subset in different orders (1 = every run its own subset). See
    /// ``DigitsFineTuning/curriculum(subset:order:)``.
    public var orders: Int = 1

    /// Momentum of the warm-up optimizer (fixed, so the checkpoint does not depend on the
    /// fine-tuning optimizer's settings).
    public static let warmupMomentum = 0.9

    public init(poolSize: Int = 200, sampleSize: Int = 128, batchSize: Int = 4, epochs: Int = 3, runs: Int = 32,
                testSize: Int = 200, optimizer: OptimizerKind = .sgdMomentum, learningRate: Double? = nil,
                momentum: Double = 0.9, adamBeta1: Double = 0.9, adamBeta2: Double = 0.999, adamEpsilon: Double = 1e-8,
                seed: UInt64 = 0, warmupSize: Int = 300, warmupEpochs: Int = 4, warmupBatchSize: Int = 16,
                warmupLearningRate: Double = 0.02, flipLabels: Double = 0) {
        self.poolSize = poolSize
        self.sampleSize = sampleSize
        self.batchSize = batchSize
        self.epochs = epochs
        self.runs = runs
        self.testSize = testSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.adamBeta1 = adamBeta1
        self.adamBeta2 = adamBeta2
        self.adamEpsilon = adamEpsilon
        self.seed = seed
        self.warmupSize = warmupSize
        self.warmupEpochs = warmupEpochs
        self.warmupBatchSize = warmupBatchSize
        self.warmupLearningRate = warmupLearningRate
        self.flipLabels = flipLabels
    }

    /// Number of pool examples whose labels are flipped.
    public var flippedCount: Int { Int((flipLabels * Double(poolSize)).rounded()) }

    /// The fine-tuning optimizer's settings.
    public var optimizerSettings: OptimizerSettings {
        OptimizerSettings(kind: optimizer, learningRate: learningRate, momentum: momentum,
                          beta1: adamBeta1, beta2: adamBeta2, epsilon: adamEpsilon)
    }

    /// Throws ``SimfluenceError/invalidArgument(_:)`` if a setting is out of range for a data
    /// set of `datasetSize` examples.
    public func validate(datasetSize: Int) throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw SimfluenceError.invalidArgument(message()) }
        }
        try check(poolSize >= 1, "pool size must be at least 1, got \(poolSize)")
        try check(sampleSize >= 1 && sampleSize <= poolSize, "sample size must be in 1...\(poolSize) (the pool size), got \(sampleSize)")
        try check(batchSize >= 1, "batch size must be at least 1, got \(batchSize)")
        try check(epochs >= 1, "epochs must be at least 1, got \(epochs)")
        try check(runs >= 1, "runs must be at least 1, got \(runs)")
        try check(testSize >= 1, "test size must be at least 1, got \(testSize)")
        try check(warmupSize >= 0, "warm-up size must not be negative, got \(warmupSize)")
        try check(warmupEpochs >= 0, "warm-up epochs must not be negative, got \(warmupEpochs)")
        try check(warmupBatchSize >= 1, "warm-up batch size must be at least 1, got \(warmupBatchSize)")
        try check(warmupSize + poolSize + testSize <= datasetSize,
                  "warm-up (\(warmupSize)) + pool (\(poolSize)) + test (\(testSize)) = \(warmupSize + poolSize + testSize) examples, but the data set has only \(datasetSize)")
        let lr = optimizerSettings.learningRate
        try check(lr.isFinite && lr > 0, "learning rate must be positive, got \(lr)")
        try check(warmupLearningRate.isFinite && warmupLearningRate > 0, "warm-up learning rate must be positive, got \(warmupLearningRate)")
        try check(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got \(momentum)")
        try check(adamBeta1 >= 0 && adamBeta1 < 1 && adamBeta2 >= 0 && adamBeta2 < 1, "Adam betas must be in [0, 1)")
        try check(adamEpsilon > 0, "Adam epsilon must be positive, got \(adamEpsilon)")
        try check(flipLabels >= 0 && flipLabels <= 1, "flip-labels must be a fraction in 0...1, got \(flipLabels)")
        try check(orders >= 1 && orders <= runs, "orders per subset must be in 1...\(runs) (the runs), got \(orders)")
    }

    /// Every setting as text, for a training log's metadata (keys are stable; the Adam and
    /// momentum settings are recorded whichever optimizer is chosen).
    public var metadata: [String: String] {
        let opt = optimizerSettings
        var m: [String: String] = [
            "pool": String(poolSize), "sample": String(sampleSize), "batch": String(batchSize),
            "epochs": String(epochs), "runs": String(runs), "test": String(testSize),
            "steps": String(stepsPerRun),
            "optimizer": optimizer.rawValue, "learningRate": String(opt.learningRate),
            "seed": String(seed),
            "warmupSize": String(warmupSize), "warmupEpochs": String(warmupEpochs),
            "warmupBatchSize": String(warmupBatchSize), "warmupLearningRate": String(warmupLearningRate),
            "warmupMomentum": String(Self.warmupMomentum),
            "flipLabels": String(flipLabels),
            "momentum": String(momentum),
            "adamBeta1": String(adamBeta1), "adamBeta2": String(adamBeta2), "adamEpsilon": String(adamEpsilon),
        ]
        if orders > 1 { m["orders"] = String(orders) }
        return m
    }
}
