import SimfluenceCore

/// The settings of a fine-tuning experiment on the language-model workload, with GPTfluence's
/// layout as defaults: a pool of 200 training texts, 32 runs, each fine-tuning on a random 128
/// of the pool in batches of 4 for 3 epochs (96 steps) with AdamW, 100 test texts; a 2-layer,
/// width-64, 4-head character transformer with a 96-token context (every bundled text fits),
/// pre-trained on 2,000 noun glosses and fine-tuned on glosses of verbs, adjectives and adverbs.
public struct LanguageProtocol: Sendable, Equatable, FineTuningShape {
    // MARK: Runs

    /// Training texts in the pool the runs sample from.
    public var poolSize: Int
    /// Texts each run samples (without replacement) from the pool.
    public var sampleSize: Int
    /// Texts per step; a step's loss is the mean of its texts' losses.
    public var batchSize: Int
    /// Passes over the run's sample; each pass shuffles it anew.
    public var epochs: Int
    /// Number of runs.
    public var runs: Int
    /// Test texts whose losses every run records.
    public var testSize: Int
    /// Orders per random subset: runs come in groups of `orders` consecutive runs that train on
    /// the same subset in different orders (1 = every run its own subset). See
    /// ``LanguageFineTuning/curriculum(subset:order:)``.
    public var orders: Int = 1

    // MARK: Fine-tuning optimizer (AdamW, constant learning rate, fresh state every run)

    /// Fine-tuning learning rate (parameter units per step), reached after ``warmupSteps``.
    public var learningRate: Double
    /// Steps of linear learning-rate warm-up at the start of every run (step t of the first
    /// `warmupSteps` uses `learningRate * t / warmupSteps`; 0 = constant from the first step).
    /// A fresh Adam state's first steps move every parameter by about the learning rate,
    /// whatever its gradient; the warm-up keeps that jump small.
    public var warmupSteps: Int = 0
    /// Decoupled weight decay of AdamW, per unit of learning rate (as PyTorch's `weight_decay`).
    public var weightDecay: Double
    /// Adam's first-moment decay rate (fine-tuning and pre-training).
    public var adamBeta1: Double
    /// Adam's second-moment decay rate (fine-tuning and pre-training).
    public var adamBeta2: Double
    /// Adam's epsilon, added to the root of the second moment (parameter units).
    public var adamEpsilon: Double

    /// Parts of speech of the fine-tuning domain: the pool and the test set are drawn from the
    /// glosses of these parts of speech and pre-training from the others, so fine-tuning adapts
    /// the model to a new kind of text, as fine-tuning a pre-trained language model on a task
    /// does (by default verbs, adjectives and adverbs, 2,620 glosses; pre-training on nouns,
    /// 5,380). Empty: all three splits are drawn from the whole corpus.
    public var fineTuningPartsOfSpeech: [String] = ["adj", "adv", "verb"]

    /// Seeds every random choice: splits, initialisation, pre-training order, run curricula,
    /// gradient projection.
    public var seed: UInt64

    // MARK: Pre-training (the shared checkpoint)

    /// Texts in the pre-training split.
    public var pretrainSize: Int
    /// Optimizer steps of pre-training (0 = runs start from the random initialisation).
    public var pretrainSteps: Int
    /// Texts per pre-training step (drawn from successive shuffles of the pre-training split).
    public var pretrainBatchSize: Int
    /// Peak pre-training learning rate: linear warm-up over the first tenth of the steps, then
    /// linear decay to a tenth of the peak at the last step (AdamW, weight decay as fine-tuning).
    public var pretrainLearningRate: Double

    // MARK: Model

    /// Transformer blocks.
    public var layers: Int
    /// Width of the residual stream.
    public var width: Int
    /// Attention heads (must divide the width).
    public var heads: Int
    /// Hidden units of each block's MLP.
    public var mlpWidth: Int
    /// Characters of a text the model reads and predicts: longer texts are truncated to their
    /// first `context` characters (the bundled texts have at most 96).
    public var context: Int

    // MARK: Gradient features

    /// Dimension of the Gaussian random projection of per-example gradients.
    public var projectionDimension: Int
    /// Steps between the checkpoints of the reference run whose gradients are recorded.
    public var gradientInterval: Int

    /// A protocol; every default is the one described on the type and its properties.
    public init(poolSize: Int = 200, sampleSize: Int = 128, batchSize: Int = 4, epochs: Int = 3, runs: Int = 32,
                testSize: Int = 100, learningRate: Double = 1e-3, weightDecay: Double = 0.01,
                adamBeta1: Double = 0.9, adamBeta2: Double = 0.999, adamEpsilon: Double = 1e-8, seed: UInt64 = 0,
                pretrainSize: Int = 2000, pretrainSteps: Int = 300, pretrainBatchSize: Int = 16,
                pretrainLearningRate: Double = 3e-3, layers: Int = 2, width: Int = 64, heads: Int = 4,
                mlpWidth: Int = 256, context: Int = 96, projectionDimension: Int = 2048, gradientInterval: Int = 24) {
        self.poolSize = poolSize
        self.sampleSize = sampleSize
        self.batchSize = batchSize
        self.epochs = epochs
        self.runs = runs
        self.testSize = testSize
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.adamBeta1 = adamBeta1
        self.adamBeta2 = adamBeta2
        self.adamEpsilon = adamEpsilon
        self.seed = seed
        self.pretrainSize = pretrainSize
        self.pretrainSteps = pretrainSteps
        self.pretrainBatchSize = pretrainBatchSize
        self.pretrainLearningRate = pretrainLearningRate
        self.layers = layers
        self.width = width
        self.heads = heads
        self.mlpWidth = mlpWidth
        self.context = context
        self.projectionDimension = projectionDimension
        self.gradientInterval = gradientInterval
    }


    /// The fine-tuning learning rate at step `step` (1-based; see ``warmupSteps``).
    public func learningRate(atStep step: Int) -> Double {
        step < warmupSteps ? learningRate * Double(step) / Double(warmupSteps) : learningRate
    }

    /// The pre-training learning rate at step `step` (1-based; see ``pretrainLearningRate``).
    public func pretrainLearningRate(atStep step: Int) -> Double {
        let warm = max(1, pretrainSteps / 10)
        if step <= warm { return pretrainLearningRate * Double(step) / Double(warm) }
        let rest = max(1, pretrainSteps - warm)
        return pretrainLearningRate * (1 - 0.9 * Double(step - warm) / Double(rest))
    }

    /// The corpus lines of the pre-training candidates and of the fine-tuning domain (pool and
    /// test candidates), ascending (see ``fineTuningPartsOfSpeech``).
    public func domains(of corpus: GlossCorpus) -> (pretraining: [Int], fineTuning: [Int]) {
        if fineTuningPartsOfSpeech.isEmpty { return (Array(0..<corpus.count), Array(0..<corpus.count)) }
        let tuning = Set(fineTuningPartsOfSpeech)
        let lines = Array(0..<corpus.count)
        return (lines.filter { !tuning.contains(corpus.partOfSpeech[$0]) }, lines.filter { tuning.contains(corpus.partOfSpeech[$0]) })
    }

    /// Throws ``SimfluenceError/invalidArgument(_:)`` if a setting is out of range for `corpus`
    /// (model sizes are checked by ``Transformer``).
    public func validate(corpus: GlossCorpus) throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw SimfluenceError.invalidArgument(message()) }
        }
        try check(poolSize >= 1, "pool size must be at least 1, got \(poolSize)")
        try check(sampleSize >= 1 && sampleSize <= poolSize, "sample size must be in 1...\(poolSize) (the pool size), got \(sampleSize)")
        try check(batchSize >= 1, "batch size must be at least 1, got \(batchSize)")
        try check(epochs >= 1, "epochs must be at least 1, got \(epochs)")
        try check(runs >= 1, "runs must be at least 1, got \(runs)")
        try check(testSize >= 1, "test size must be at least 1, got \(testSize)")
        try check(orders >= 1 && orders <= runs, "orders per subset must be in 1...\(runs) (the runs), got \(orders)")
        try check(pretrainSize >= 0, "pre-training size must not be negative, got \(pretrainSize)")
        try check(pretrainSteps >= 0, "pre-training steps must not be negative, got \(pretrainSteps)")
        try check(pretrainSteps == 0 || pretrainSize >= 1, "pre-training needs at least 1 text when it has steps")
        try check(pretrainBatchSize >= 1, "pre-training batch size must be at least 1, got \(pretrainBatchSize)")
        let (pretraining, tuning) = domains(of: corpus)
        if fineTuningPartsOfSpeech.isEmpty {
            try check(pretrainSize + poolSize + testSize <= corpus.count,
                      "pre-training (\(pretrainSize)) + pool (\(poolSize)) + test (\(testSize)) = \(pretrainSize + poolSize + testSize) texts, but the corpus has only \(corpus.count)")
        } else {
            let names = fineTuningPartsOfSpeech.joined(separator: ", ")
            try check(poolSize + testSize <= tuning.count,
                      "pool (\(poolSize)) + test (\(testSize)) = \(poolSize + testSize) texts, but the corpus has only \(tuning.count) glosses of the fine-tuning parts of speech (\(names))")
            try check(pretrainSize <= pretraining.count,
                      "pre-training needs \(pretrainSize) texts, but the corpus has only \(pretraining.count) glosses of other parts of speech than \(names)")
        }
        try check(learningRate.isFinite && learningRate > 0, "learning rate must be positive, got \(learningRate)")
        try check(warmupSteps >= 0, "warm-up steps must not be negative, got \(warmupSteps)")
        try check(pretrainLearningRate.isFinite && pretrainLearningRate > 0,
                  "pre-training learning rate must be positive, got \(pretrainLearningRate)")
        try check(weightDecay.isFinite && weightDecay >= 0 && learningRate * weightDecay < 1 && pretrainLearningRate * weightDecay < 1,
                  "weight decay must be >= 0 with learning rate x weight decay below 1, got \(weightDecay)")
        try check(adamBeta1 >= 0 && adamBeta1 < 1 && adamBeta2 >= 0 && adamBeta2 < 1, "Adam betas must be in [0, 1)")
        try check(adamEpsilon > 0 && adamEpsilon.isFinite, "Adam epsilon must be positive, got \(adamEpsilon)")
        try check(projectionDimension >= 1 && projectionDimension <= 1 << 16,
                  "projection dimension must be in 1...65536, got \(projectionDimension)")
        try check(gradientInterval >= 1, "gradient checkpoint interval must be at least 1 step, got \(gradientInterval)")
        _ = try Transformer(vocabularySize: 2, context: context, width: width, heads: heads, layers: layers, mlpWidth: mlpWidth)
    }

    /// Every setting as text, for a training log's metadata (keys are stable).
    public var metadata: [String: String] {
        var m: [String: String] = [
            "pool": String(poolSize), "sample": String(sampleSize), "batch": String(batchSize),
            "epochs": String(epochs), "runs": String(runs), "test": String(testSize),
            "steps": String(stepsPerRun),
            "optimizer": "adamw", "learningRate": String(learningRate), "warmupSteps": String(warmupSteps),
            "weightDecay": String(weightDecay),
            "adamBeta1": String(adamBeta1), "adamBeta2": String(adamBeta2), "adamEpsilon": String(adamEpsilon),
            "seed": String(seed),
            "pretrainSize": String(pretrainSize), "pretrainSteps": String(pretrainSteps),
            "pretrainBatchSize": String(pretrainBatchSize), "pretrainLearningRate": String(pretrainLearningRate),
            "pretrainSchedule": "linear warm-up 10%, linear decay to 10%",
            "layers": String(layers), "width": String(width), "heads": String(heads), "mlpWidth": String(mlpWidth),
            "context": String(context), "fineTuningPartsOfSpeech": fineTuningPartsOfSpeech.joined(separator: ","),
            "projectionDimension": String(projectionDimension), "gradientInterval": String(gradientInterval),
        ]
        if orders > 1 { m["orders"] = String(orders) }
        return m
    }
}
