/// How a simulator was fitted: every choice the fit made and the facts a user needs to trust or
/// reproduce it. Model files store it as the header's `"metadata"` object of strings; the keys
/// are mapped in exactly one place, ``FitProvenance/metadata`` and
/// ``FitProvenance/init(metadata:)`` (FitProvenance+Keys.swift).
public struct FitProvenance: Sendable, Equatable {
    /// Whether lambda was given or chosen by cross-validation (nil for methods without lambda).
    public var lambdaChoice: LambdaChoiceKind?
    /// The cross-validation behind the chosen hyperparameters, when they were cross-validated.
    public var crossValidation: CrossValidationRecord?
    /// Smoothing strength mu of the step terms' second-difference penalty (extended methods).
    public var smoothing: Double?
    /// Carry-over decay rho of the additive effects, recorded when non-zero or cross-validated.
    public var carry: Double?
    /// Multiple of the largest observed loss used as the upper clamp (extended methods).
    public var clampMultiple: Double?
    /// A description of the solver that produced the parameters, for example "ridge normal
    /// equations, dense Cholesky".
    public var solver: String?
    /// Conjugate-gradient statistics, when the fit went through CG.
    public var iterative: IterativeSolveRecord?
    /// The gap k of a log recorded every k steps that the fit interpolated (nil: every step).
    public var observedEvery: Int?
    /// The least-squares scale of a classic `-scaled` method's scores.
    public var scale: ScaleRecord?
    /// The log the model was fitted from, as given on the command line.
    public var log: String?
    /// ``LogFingerprint`` of that log (written by every CLI fit; required by ``ShardMerge``).
    public var logFingerprint: String?
    /// The slice of the test set this part holds (`fit --shard`); nil for whole fits and merged models.
    public var shard: ShardSpec?
    /// The log's number of test examples, recorded by sharded fits (and kept by merged models).
    public var shardTotalTests: Int?
    /// The number of parts a merged model was joined from.
    public var mergedFromShards: Int?
    /// Method-specific facts (design size, rollout iterations, classic scores' inputs, the
    /// gradient features' metadata, ...), as key-value strings.
    public var details: [String: String]

    public init(lambdaChoice: LambdaChoiceKind? = nil, crossValidation: CrossValidationRecord? = nil,
                smoothing: Double? = nil, carry: Double? = nil, clampMultiple: Double? = nil, solver: String? = nil,
                iterative: IterativeSolveRecord? = nil, observedEvery: Int? = nil, scale: ScaleRecord? = nil,
                log: String? = nil, logFingerprint: String? = nil, shard: ShardSpec? = nil, shardTotalTests: Int? = nil,
                mergedFromShards: Int? = nil, details: [String: String] = [:]) {
        self.lambdaChoice = lambdaChoice
        self.crossValidation = crossValidation
        self.smoothing = smoothing
        self.carry = carry
        self.clampMultiple = clampMultiple
        self.solver = solver
        self.iterative = iterative
        self.observedEvery = observedEvery
        self.scale = scale
        self.log = log
        self.logFingerprint = logFingerprint
        self.shard = shard
        self.shardTotalTests = shardTotalTests
        self.mergedFromShards = mergedFromShards
        self.details = details
    }

    /// How lambda was chosen.
    public enum LambdaChoiceKind: String, Sendable, Equatable {
        case fixed
        case crossValidated = "cross-validated"
    }

    /// Records ``selection`` (or a fixed lambda when nil) as the lambda choice.
    public mutating func record(_ selection: LambdaSelection?) {
        lambdaChoice = selection == nil ? .fixed : .crossValidated
        if let s = selection {
            crossValidation = CrossValidationRecord(folds: s.folds, grid: s.grid, scores: s.scores)
        }
    }
}

/// The K-fold cross-validation over training runs behind a fit's hyperparameters.
public struct CrossValidationRecord: Sendable, Equatable {
    /// Number of folds.
    public var folds: Int
    /// The lambda grid, ascending.
    public var grid: [Double]
    /// Per lambda, the cross-validated all-steps MSE (the best over the other tuned values).
    public var scores: [Double]
    /// Smoothing strengths tried (extended methods with step terms).
    public var smoothingGrid: [Double]?
    /// Scores of every tried point (carry-over decay, then lambda, then smoothing), when more
    /// than lambda was tuned.
    public var scoresByPoint: [Double]?
    /// Carry-over decays tried (linear-carry).
    public var carryGrid: [Double]?

    public init(folds: Int, grid: [Double], scores: [Double], smoothingGrid: [Double]? = nil,
                scoresByPoint: [Double]? = nil, carryGrid: [Double]? = nil) {
        self.folds = folds
        self.grid = grid
        self.scores = scores
        self.smoothingGrid = smoothingGrid
        self.scoresByPoint = scoresByPoint
        self.carryGrid = carryGrid
    }
}

/// What conjugate gradients did in a fit.
public struct IterativeSolveRecord: Sendable, Equatable {
    /// The relative residual asked for.
    public var tolerance: Double
    /// The largest iteration count over test examples.
    public var maxIterations: Int
    /// The largest relative residual ||X^T y - (X^T X + lambda I) theta|| / ||X^T y|| reached.
    public var maxRelativeResidual: Double

    public init(tolerance: Double, maxIterations: Int, maxRelativeResidual: Double) {
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.maxRelativeResidual = maxRelativeResidual
    }
}

/// The global scale s of a classic `-scaled` method: s = sum(x y) / sum(x^2) over `pairs`
/// (step, test example) pairs of the training runs.
public struct ScaleRecord: Sendable, Equatable {
    public var scale: Double
    public var pairs: Int

    public init(scale: Double, pairs: Int) {
        self.scale = scale
        self.pairs = pairs
    }
}
