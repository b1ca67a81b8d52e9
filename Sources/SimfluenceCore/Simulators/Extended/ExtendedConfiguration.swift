/// What an extended fit contains. With `pooled == false`, `stepKnots == 0`, `rollout == false`
/// and no clamping the fit is exactly Simfluence-Linear's ridge fit.
public struct ExtendedConfiguration: Sendable, Equatable {
    /// Default number of knots of the piecewise-linear step terms.
    public static let defaultKnots = 16
    /// Default smoothing strength of the step terms (relative; see ``ExtendedFit``).
    public static let defaultSmoothing = 100.0
    /// Default multiple of the largest observed loss used as the upper clamp.
    public static let defaultClampMultiple = 2.0
    /// The weight of the near-zero ridge on the pooled means and on the step terms' values, so the
    /// normal equations stay positive definite when they are collinear (relative to lambda = 1).
    public static let tinyPenalty = 1e-6
    /// Default carry-over decays rho cross-validated by ``ExtendedRidgeMethod/linearCarry``
    /// (0 = no carry-over; 0.9 is the usual momentum of SGD and Adam's beta1).
    public static let defaultCarryGrid: [Double] = [0, 0.5, 0.7, 0.8, 0.9]

    /// Whether A and B are shrunk towards pooled means (a, b) instead of towards zero.
    public var pooled: Bool
    /// Knots of the per-step terms u_t, v_t (0 = no step terms). Knots are spread evenly over
    /// steps 1...T of the fitted runs; with T or more knots there is one term per step.
    public var stepKnots: Int
    /// Whether to refine the teacher-forced solution by rollout fitting.
    public var rollout: Bool
    /// Smoothing strength mu of the second-difference penalty on the step terms.
    public var smoothing: Double
    /// Simulated losses are clamped to [min(0, smallest observed), clampMultiple x largest
    /// observed] per test example; nil = no clamping.
    public var clampMultiple: Double?
    /// L-BFGS iterations of rollout fitting.
    public var rolloutIterations: Int
    /// Rollout fitting refines only the terms shared by all training examples (pooled means and
    /// step terms), keeping A_i, B_i at their teacher-forced values.
    public var rolloutSharedOnly: Bool
    /// Candidate carry-over decays rho in [0, 1) of the additive effects (``ExtendedRidgeMethod/linearCarry``):
    /// beta_t = sum_{s <= t} rho^(t - s) beta(c_s). One value is used as given; several are
    /// cross-validated jointly with lambda. [0] = no carry-over.
    public var carryGrid: [Double]

    public init(pooled: Bool, stepKnots: Int, rollout: Bool, smoothing: Double = defaultSmoothing,
                clampMultiple: Double? = defaultClampMultiple, rolloutIterations: Int = 150, rolloutSharedOnly: Bool = false,
                carryGrid: [Double] = [0]) {
        self.rolloutSharedOnly = rolloutSharedOnly
        self.carryGrid = carryGrid
        self.pooled = pooled
        self.stepKnots = stepKnots
        self.rollout = rollout
        self.smoothing = smoothing
        self.clampMultiple = clampMultiple
        self.rolloutIterations = rolloutIterations
    }

    /// Simfluence-Linear: no pooling, no step terms, no rollout fitting, no clamping.
    public static var plainLinear: ExtendedConfiguration {
        ExtendedConfiguration(pooled: false, stepKnots: 0, rollout: false, clampMultiple: nil)
    }
}
