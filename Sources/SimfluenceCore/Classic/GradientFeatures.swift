/// Per-example loss gradients of a training pool and a test set at saved checkpoints of one
/// reference training run: the input of the classic TDA methods (``ClassicScores``).
///
/// Conventions:
/// - A gradient is the gradient of one example's own loss (the same loss the log records, e.g.
///   cross-entropy in nats) with respect to the model's parameters, taken at the checkpoint's
///   parameters: d(loss)/d(theta). No sign flip, no learning rate, no batch averaging.
/// - Gradients may be randomly projected to a lower ``dimension`` (see
///   ``projected(to:seed:)``); dot products are then unbiased estimates of the full ones.
/// - Row `r` of a checkpoint's ``GradientCheckpoint/train`` is the gradient of ``trainIDs``[r];
///   row `r` of ``GradientCheckpoint/test`` that of ``testIDs``[r]. Ids need not match a log's
///   order: ``ClassicScores`` maps them onto the log's ids.
///
/// Step weights (see ``stepWeight(_:)``): checkpoint k stands for ``GradientCheckpoint/stepsCovered``
/// training steps run at learning rate ``GradientCheckpoint/learningRate``. With a mean-reduced
/// batch loss, one plain-SGD step whose batch holds example i changes a test loss L(z) by about
/// `-(lr / batchSize) g_i . g_z`; averaging that first-order change over the run, each checkpoint
/// weighted by the fraction of the run's steps it covers, gives the per-appearance weight
/// `eta_k = lr_k * (stepsCovered_k / sum_j stepsCovered_j) / batchSize`.
public struct GradientFeatures: Sendable, Equatable {
    /// Training-pool example ids, in row order of every checkpoint's ``GradientCheckpoint/train``.
    public var trainIDs: [String]
    /// Test example ids, in row order of every checkpoint's ``GradientCheckpoint/test``.
    public var testIDs: [String]
    /// Examples per training step of the reference run (the nominal batch size |c_t|; the loss of
    /// a step is the mean over its batch).
    public var batchSize: Int
    /// The saved checkpoints, in training order (ascending ``GradientCheckpoint/step``).
    public var checkpoints: [GradientCheckpoint]
    /// Free-form provenance: source, reference run, optimizer, projection ("projection",
    /// "projection_dimension", "projection_seed", "original_dimension"), ...
    public var metadata: [String: String]

    /// Creates features; call ``validate()`` to check shapes (``ClassicScores`` does).
    public init(trainIDs: [String], testIDs: [String], batchSize: Int, checkpoints: [GradientCheckpoint],
                metadata: [String: String] = [:]) {
        self.trainIDs = trainIDs
        self.testIDs = testIDs
        self.batchSize = batchSize
        self.checkpoints = checkpoints
        self.metadata = metadata
    }

    /// Length of every gradient vector (number of parameters, or the projected dimension).
    public var dimension: Int { checkpoints.first?.train.columns ?? 0 }

    /// Sum of ``GradientCheckpoint/stepsCovered`` over the checkpoints: the length T of the
    /// reference run the checkpoints stand for.
    public var totalStepsCovered: Int { checkpoints.reduce(0) { $0 &+ $1.stepsCovered } }

    /// Largest step, step count or batch size accepted (2^30): sums over checkpoints and their
    /// products with the batch size stay far from overflowing.
    public static let largestCount = 1 << 30

    /// eta_k, the per-appearance step weight of checkpoint `k`:
    /// `learningRate_k * (stepsCovered_k / totalStepsCovered) / batchSize`.
    /// TracIn-CP's score is `B_i = -sum_k eta_k g_i(k) . g_z(k)`.
    public func stepWeight(_ k: Int) -> Double {
        let c = checkpoints[k]
        return c.learningRate * (Double(c.stepsCovered) / Double(totalStepsCovered)) / Double(batchSize)
    }

    /// Index of the final checkpoint: the one with the largest ``GradientCheckpoint/step`` (the
    /// last such in the list on ties). Grad-Dot and influence functions use only this one.
    public var finalCheckpointIndex: Int {
        var best = 0
        for k in checkpoints.indices where checkpoints[k].step >= checkpoints[best].step { best = k }
        return best
    }

    /// Throws ``SimfluenceError/invalidArgument(_:)`` unless: there is at least one checkpoint;
    /// ids are unique; every checkpoint's matrices are `trainIDs.count` x ``dimension`` and
    /// `testIDs.count` x ``dimension`` with ``dimension`` >= 1 and finite values; steps are
    /// non-negative and ascending; learning rates finite and non-negative; steps covered
    /// non-negative with a positive total; ``batchSize`` >= 1.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw SimfluenceError.invalidArgument("gradient features: " + message()) }
        }
        try check(!checkpoints.isEmpty, "no checkpoints")
        try check(batchSize >= 1 && batchSize <= Self.largestCount, "batch size must be between 1 and \(Self.largestCount), got \(batchSize)")
        try check(!trainIDs.isEmpty, "no training examples")
        try check(!testIDs.isEmpty, "no test examples")
        try check(Set(trainIDs).count == trainIDs.count, "training ids are not unique")
        try check(Set(testIDs).count == testIDs.count, "test ids are not unique")
        let d = dimension
        try check(d >= 1, "gradients have dimension 0")
        var previous = -1
        for (k, c) in checkpoints.enumerated() {
            let name = "checkpoint \(k) (step \(c.step))"
            try check(c.train.rows == trainIDs.count && c.train.columns == d,
                      "\(name): training gradients are \(c.train.rows) x \(c.train.columns), expected \(trainIDs.count) x \(d)")
            try check(c.test.rows == testIDs.count && c.test.columns == d,
                      "\(name): test gradients are \(c.test.rows) x \(c.test.columns), expected \(testIDs.count) x \(d)")
            try check(c.step >= 0 && c.step >= previous, "\(name): steps must be non-negative and ascending")
            previous = c.step
            try check(c.learningRate.isFinite && c.learningRate >= 0, "\(name): learning rate must be finite and >= 0, got \(c.learningRate)")
            try check(c.stepsCovered >= 0 && c.stepsCovered <= Self.largestCount,
                      "\(name): steps covered must be between 0 and \(Self.largestCount), got \(c.stepsCovered)")
            try check(c.train.storage.allSatisfy(\.isFinite) && c.test.storage.allSatisfy(\.isFinite),
                      "\(name): gradients contain non-finite values")
        }
        try check(totalStepsCovered > 0, "the checkpoints cover no training steps (every steps_covered is 0)")
    }

    /// The same features with every gradient multiplied by one Gaussian random matrix
    /// `R` (``dimension`` x `dimension`, entries N(0, 1/dimension), drawn row by row from
    /// ``SeededGenerator``(seed: `seed`)), the same `R` for every checkpoint and for train and
    /// test: `g -> R^T g`. Then `E[(R^T g) . (R^T h)] = g . h`, so every score is an unbiased
    /// estimate of the unprojected one (influence functions only approximately: the Fisher is
    /// projected too). Records the projection in ``metadata``.
    public func projected(to dimension: Int, seed: UInt64) -> GradientFeatures {
        precondition(dimension >= 1, "projection dimension must be at least 1")
        let d = self.dimension
        var rng = SeededGenerator(seed: seed)
        let scale = 1 / Double(dimension).squareRoot()
        var r = [Double](repeating: 0, count: d * dimension)
        for k in r.indices { r[k] = rng.nextGaussian() * scale }
        func project(_ m: Matrix) -> Matrix {
            var out = Matrix(rows: m.rows, columns: dimension)
            for row in 0..<m.rows {
                for a in 0..<d {
                    let v = m.storage[row * d + a]
                    if v == 0 { continue }
                    let base = a * dimension, o = row * dimension
                    for b in 0..<dimension { out.storage[o + b] += v * r[base + b] }
                }
            }
            return out
        }
        var copy = self
        copy.checkpoints = checkpoints.map {
            GradientCheckpoint(step: $0.step, learningRate: $0.learningRate, stepsCovered: $0.stepsCovered,
                               train: project($0.train), test: project($0.test))
        }
        copy.metadata["projection"] = "gaussian"
        copy.metadata["projection_dimension"] = String(dimension)
        copy.metadata["projection_seed"] = String(seed)
        copy.metadata["original_dimension"] = String(metadata["original_dimension"].flatMap(Int.init) ?? d)
        return copy
    }
}

/// The gradients of one saved checkpoint of the reference run.
public struct GradientCheckpoint: Sendable, Equatable {
    /// Optimizer steps completed when the parameters were saved (0 = before the first update).
    public var step: Int
    /// The plain learning rate lr_k of the optimizer over the steps this checkpoint stands for
    /// (not multiplied by anything; momentum is not folded in).
    public var learningRate: Double
    /// How many of the reference run's steps this checkpoint stands for (usually the steps from
    /// ``step`` to the next checkpoint). 0 keeps the checkpoint out of TracIn-CP; a final
    /// checkpoint saved after the last step, used by Grad-Dot and influence functions, covers 0.
    public var stepsCovered: Int
    /// Per-example loss gradients of the training pool: `trainIDs.count` x dimension.
    public var train: Matrix
    /// Per-example loss gradients of the test examples: `testIDs.count` x dimension.
    public var test: Matrix

    public init(step: Int, learningRate: Double, stepsCovered: Int, train: Matrix, test: Matrix) {
        self.step = step
        self.learningRate = learningRate
        self.stepsCovered = stepsCovered
        self.train = train
        self.test = test
    }
}
