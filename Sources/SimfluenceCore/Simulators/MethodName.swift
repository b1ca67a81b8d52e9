/// Every simulator simfluence can build from a log, by the name the CLI uses.
public enum MethodName: Hashable, Sendable, CustomStringConvertible {
    /// Simfluence-Linear and its variants, ridge-fitted from the log.
    case simfluence(SimulatorMethod)
    /// A classic TDA method run as an additive simulator; needs gradient features.
    case classic(ClassicMethod)
    /// Beyond the paper: pooled shrinkage, per-step terms, rollout fitting (Docs/Methods.md).
    case extended(ExtendedMethod)

    /// The method called `name` ("linear", "tracin-cp-scaled", ...), or nil.
    public init?(_ name: String) {
        if let m = SimulatorMethod(rawValue: name) {
            self = .simfluence(m)
        } else if let e = ExtendedMethod(rawValue: name) {
            self = .extended(e)
        } else if let c = ClassicMethod(rawValue: name) {
            self = .classic(c)
        } else {
            return nil
        }
    }

    /// Every method, Simfluence's first.
    public static var allCases: [MethodName] {
        SimulatorMethod.allCases.map { .simfluence($0) } + ExtendedMethod.allCases.map { .extended($0) }
            + ClassicMethod.allCases.map { .classic($0) }
    }

    /// The CLI name.
    public var name: String {
        switch self {
        case .simfluence(let m): m.rawValue
        case .classic(let c): c.rawValue
        case .extended(let e): e.rawValue
        }
    }

    public var description: String { name }

    /// Whether the method needs gradient features besides the log.
    public var needsGradients: Bool {
        if case .classic = self { return true }
        return false
    }
}

/// What methods need besides the log: how to choose lambda (Simfluence methods) and gradient
/// features with an optional damping (classic methods).
public struct MethodInputs: Sendable {
    /// Ridge penalty choice for the Simfluence methods.
    public var lambda: LambdaChoice
    /// Gradient features for the classic methods; nil when the log has none.
    public var gradients: GradientFeatures?
    /// Damping of the influence-function Hessian; nil for the default (see ``ClassicScores``).
    public var damping: Double?
    /// Losses were recorded only every k steps (see ``LossSubsampling``); nil = every step.
    public var every: Int? = nil
    /// Which solver fits the ridge methods (dense Cholesky or conjugate gradients).
    public var solver: RidgeSolverChoice = .automatic

    public init(lambda: LambdaChoice = .automatic, gradients: GradientFeatures? = nil, damping: Double? = nil) {
        self.lambda = lambda
        self.gradients = gradients
        self.damping = damping
    }
}
