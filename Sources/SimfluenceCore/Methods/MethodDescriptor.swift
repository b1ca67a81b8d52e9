/// Everything the pipeline asks of a simulator method, in one place.
///
/// Every method simfluence can fit (Simfluence-Linear and its variants, the extended
/// simulators, the classic attribution methods run as simulators) is one value conforming to
/// this protocol, registered once in ``MethodRegistry/builtIn``. Fitting, cross-validation,
/// bootstrap refits, sharding, memory pre-flight, simulation and the model file all ask the
/// descriptor; nothing else switches over methods. The protocol has no default
/// implementations, so a new method that forgets one of these answers does not compile (methods
/// that simulate with the standard recurrence say so by conforming to ``RecurrenceSimulated``).
///
/// Units and signs follow ``FittedSimulator``: losses in the units of the log, a negative
/// additive effect B_i helps the test example.
public protocol MethodDescriptor: Sendable {
    /// The name users type (`--method NAME`) and model files record, for example "linear-carry".
    var name: String { get }
    /// Which family the method belongs to (for help texts and docs).
    var family: MethodFamily { get }
    /// One sentence for `--help` and docs: the model and how it is fitted.
    var summary: String { get }
    /// What the method needs besides the log, and what it does with gapped logs.
    var needs: MethodNeeds { get }
    /// The `--solver` values the method honours; any other is refused before fitting.
    var solvers: Set<SolverKind> { get }
    /// Whether a fit can be split over slices of the test set (`fit --shard`) and joined by
    /// ``ShardMerge``.
    var sharding: ShardSupport { get }

    /// Bytes the fit of `request` will allocate at its peak, estimated before allocating any of
    /// it (see ``FitMemory``), with a short breakdown for messages.
    func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate

    /// Fits the method on `request.runs`, choosing its hyperparameters (lambda and whatever else
    /// it tunes) by cross-validation over whole training runs unless the request fixes them.
    /// The returned simulator's ``FittedSimulator/provenance`` records every choice.
    func fit(_ request: FitRequest) throws -> MethodFit

    /// Refits the method on `request.runs` with every hyperparameter `fitted` chose held fixed
    /// (no cross-validation): what a bootstrap replicate does (see ``Bootstrap``).
    func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator

    /// Rolls the fitted model out autoregressively from `initial` (one loss per test example in
    /// `tests`, default all) through `batches` (indices into the model's training ids), the
    /// first of which is step `firstStep`. Row 0 of the result is `initial`, row t the loss after
    /// t batches; `clamped` counts simulated losses the model clamped to its stored range.
    func simulate<C: Collection<[Int]>>(_ model: FittedSimulator, _ batches: C, initial: [Double], tests: [Int]?,
                                        firstStep: Int) -> Rollout

    /// Final losses of many curricula at once (`curricula.count` x `tests.count`), bit-identical
    /// to the last row of ``simulate(_:_:initial:tests:firstStep:)`` for each curriculum started
    /// at the model's ``FittedSimulator/startingStep`` + 1.
    func finalLosses(_ model: FittedSimulator, curricula: [[[Int]]], initial: [Double], tests: [Int]?,
                     threads: Int) -> Matrix
}

/// A method that simulates with the linear recurrence of ``FittedSimulator`` (A, B, and the
/// extended terms the model stores): conforming says so explicitly, and supplies `simulate` and
/// `finalLosses` as ``FittedSimulator/recurrenceRollout(_:initial:tests:firstStep:)`` and
/// ``FittedSimulator/recurrenceFinalLosses(curricula:initial:tests:threads:)``. Every built-in
/// method does; a method with another rollout conforms to ``MethodDescriptor`` alone and writes
/// its own.
public protocol RecurrenceSimulated: MethodDescriptor {}

extension RecurrenceSimulated {
    public func simulate<C: Collection<[Int]>>(_ model: FittedSimulator, _ batches: C, initial: [Double], tests: [Int]?,
                                               firstStep: Int) -> Rollout {
        model.recurrenceRollout(batches, initial: initial, tests: tests, firstStep: firstStep)
    }

    public func finalLosses(_ model: FittedSimulator, curricula: [[[Int]]], initial: [Double], tests: [Int]?,
                            threads: Int) -> Matrix {
        model.recurrenceFinalLosses(curricula: curricula, initial: initial, tests: tests, threads: threads)
    }
}

/// Groups of methods.
public enum MethodFamily: String, Sendable, CaseIterable {
    /// Simfluence-Linear and its additive and multiplicative variants (Guu et al., 2023), ridge-fitted.
    case simfluence
    /// Simulators beyond the paper: pooled shrinkage, step terms, rollout fitting, carry-over.
    case extended
    /// Classic attribution scores (TracIn-CP, Grad-Dot, influence functions) run as additive
    /// simulators; they need gradient features.
    case classic
}

/// What a method needs besides the log.
public struct MethodNeeds: Sendable, Equatable {
    /// Whether the method reads gradient features (``GradientFeatures``).
    public var gradients: Bool
    /// What the method does with a log whose losses were recorded only every k steps.
    public var gappedLogs: GappedLogHandling
    /// Whether the method uses gradient features when the log has them, without needing them
    /// (`auto` and `stack` then add lag-kernel-tracin to their candidates).
    public var gradientsWhenGiven: Bool

    public init(gradients: Bool, gappedLogs: GappedLogHandling, gradientsWhenGiven: Bool = false) {
        self.gradients = gradients
        self.gappedLogs = gappedLogs
        self.gradientsWhenGiven = gradientsWhenGiven
    }
}

/// How a method uses a log whose losses were recorded only every k steps (see ``LossSubsampling``).
public enum GappedLogHandling: String, Sendable, Equatable {
    /// Fits on the log with unobserved rows linearly interpolated (teacher forcing sees them).
    case interpolated
    /// Fits on interpolated rows, then scores only the observed rows of rolled-out trajectories.
    case observedRowsOnly = "observed-rows-only"
    /// Only the classic scores' global scale sees the losses; it is fitted on interpolated rows.
    case scaleOnly = "scale-only"
}

/// The values of `fit --solver`.
public enum SolverKind: String, Sendable, CaseIterable, Comparable {
    /// Dense exact Cholesky for small systems, conjugate gradients for large ones.
    case auto
    /// Always the dense exact Cholesky factorisation.
    case dense
    /// Always conjugate gradients.
    case cg

    public static func < (a: SolverKind, b: SolverKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

extension RidgeSolverChoice {
    /// The `--solver` value this choice corresponds to.
    public var kind: SolverKind {
        switch self {
        case .automatic: .auto
        case .dense: .dense
        case .iterative: .cg
        }
    }
}

/// How a method's fit splits over the test set.
public enum ShardSupport: Sendable, Equatable {
    /// Test examples are fitted independently (hyperparameters are chosen on all of them), so a
    /// slice's rows are bit-identical to an unsharded fit's and ``ShardMerge`` concatenates them.
    case byTestRows
    /// The method cannot fit a slice of the test set; the text says why.
    case unsupported(String)
}

/// One fit asked of a method: the log, the runs to fit on, the method inputs, and optionally a
/// subset of test examples.
public struct FitRequest: Sendable {
    /// The log the runs belong to (training and test ids index its vocabulary).
    public var log: TrainingLog
    /// The runs to fit on (already interpolated if the log is gapped).
    public var runs: [TrainingRun]
    /// Lambda choice, gradient features, damping, gap and solver.
    public var inputs: MethodInputs
    /// Test-example columns to fit (nil = all), for sharded fits.
    public var tests: [Int]?
    /// Worker threads; results are bit-identical for every count.
    public var threads: Int

    public init(log: TrainingLog, runs: [TrainingRun], inputs: MethodInputs, tests: [Int]? = nil,
                threads: Int = Parallel.defaultThreads) {
        self.log = log
        self.runs = runs
        self.inputs = inputs
        self.tests = tests
        self.threads = threads
    }

    /// The number of penalties a fit tries (1 for a fixed lambda, the grid size for
    /// cross-validation) and the fixed penalty if there is one.
    var lambdaCount: (count: Int, fixed: Double?) {
        switch inputs.lambda {
        case .fixed(let value): (1, value)
        case .auto(let grid, _): (grid.count, nil)
        }
    }
}

/// A simulated trajectory matrix and how many of its losses were clamped.
public struct Rollout: Sendable {
    /// (steps + 1) x tests; row 0 is the starting loss.
    public var losses: Matrix
    /// Simulated losses clamped to the model's stored range (0 for unclamped models).
    public var clamped: Int

    public init(losses: Matrix, clamped: Int) {
        self.losses = losses
        self.clamped = clamped
    }
}

/// What methods need besides the log: how to choose lambda (ridge methods), gradient features
/// with an optional damping (classic methods), the gap of a gapped log, and the ridge solver.
public struct MethodInputs: Sendable {
    /// Ridge penalty choice for the ridge-fitted methods.
    public var lambda: LambdaChoice
    /// Gradient features for the classic methods; nil when the log has none.
    public var gradients: GradientFeatures?
    /// Damping of the influence-function Hessian; nil for the default (see ``ClassicScores``).
    public var damping: Double?
    /// Losses were recorded only every k steps (see ``LossSubsampling``); nil = every step.
    public var every: Int? = nil
    /// Which solver fits the ridge methods (dense Cholesky or conjugate gradients).
    public var solver: RidgeSolverChoice = .automatic
    /// Bytes a fit may keep in memory, or nil for no limit. `auto` and `stack` leave out the
    /// candidates whose memory estimate exceeds it instead of being refused for one of them;
    /// the library's `FitPipeline` sets it from the process's memory limit.
    public var memoryBudget: Int? = nil

    public init(lambda: LambdaChoice = .automatic, gradients: GradientFeatures? = nil, damping: Double? = nil) {
        self.lambda = lambda
        self.gradients = gradients
        self.damping = damping
    }
}

/// How the ridge penalty lambda is chosen.
public enum LambdaChoice: Sendable, Equatable {
    /// Use this lambda (>= 0).
    case fixed(Double)
    /// Choose from `grid` by K-fold cross-validation over whole training runs, scored by the
    /// all-steps MSE of rolled-out simulations (see ``LambdaSearch``).
    case auto(grid: [Double], folds: Int)

    /// Cross-validation over ``LambdaSearch/defaultGrid`` with 5 folds.
    public static var automatic: LambdaChoice { .auto(grid: LambdaSearch.defaultGrid, folds: 5) }
}
