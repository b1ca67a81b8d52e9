/// Simulators that go beyond the paper's Simfluence-Linear (see Docs/Methods.md for their exact
/// objectives). All of them simulate with the linear recurrence, optionally with per-step terms
/// shared by every training example, and clamp simulated losses to a stored range.
public enum ExtendedMethod: String, Sendable, CaseIterable, Codable {
    /// A_i = a + a_i, B_i = b + b_i: ridge on the deviations a_i, b_i only; the pooled means a, b
    /// are (almost) unpenalised. Teacher-forced.
    case linearPooled = "linear-pooled"
    /// L_t = (alpha(c_t) + u_t) L_{t-1} + beta(c_t) + v_t with smooth per-step terms u, v
    /// (piecewise linear in t, second-difference penalty). Their free constant part plays the role
    /// of the pooled means, so this nests linear-pooled (for a constant batch size) and mean-run.
    /// Teacher-forced.
    case linearTime = "linear-time"
    /// The linear-time model, started from its teacher-forced solution and refined by L-BFGS on
    /// the squared error of rolled-out trajectories (exact adjoint gradients), same penalties.
    /// Only the terms shared by all training examples (step terms) are refined; A_i and B_i keep
    /// their teacher-forced values (refining them too overfits: see Docs/Methods.md).
    case linearRollout = "linear-rollout"
    /// The linear-time model whose additive effects carry over to later steps with geometric
    /// decay: beta_t = sum_{s <= t} rho^(t - s) beta(c_s) (as an optimizer's momentum spreads a
    /// batch's update over the steps after it). rho is cross-validated with lambda over
    /// ``ExtendedConfiguration/defaultCarryGrid`` (0 included, where it is linear-time).
    /// Teacher-forced.
    case linearCarry = "linear-carry"

    /// The model structure and fitting recipe of the method.
    public var configuration: ExtendedConfiguration {
        switch self {
        case .linearPooled: ExtendedConfiguration(pooled: true, stepKnots: 0, rollout: false)
        case .linearTime: ExtendedConfiguration(pooled: false, stepKnots: ExtendedConfiguration.defaultKnots, rollout: false)
        case .linearRollout:
            ExtendedConfiguration(pooled: false, stepKnots: ExtendedConfiguration.defaultKnots, rollout: true, rolloutSharedOnly: true)
        case .linearCarry:
            ExtendedConfiguration(pooled: false, stepKnots: ExtendedConfiguration.defaultKnots, rollout: false,
                                  carryGrid: ExtendedConfiguration.defaultCarryGrid)
        }
    }
}

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
    /// Default carry-over decays rho cross-validated by ``ExtendedMethod/linearCarry``
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
    /// Candidate carry-over decays rho in [0, 1) of the additive effects (``ExtendedMethod/linearCarry``):
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
