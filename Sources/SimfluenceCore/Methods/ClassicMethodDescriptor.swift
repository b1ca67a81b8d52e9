/// A classic attribution method (``ClassicMethod``: TracIn-CP, Grad-Dot, influence functions and
/// their `-scaled` forms) run as an additive simulator, its effects B_i computed from gradient
/// features (``ClassicScores``); only the `-scaled` forms fit anything (one global scale).
public struct ClassicMethodDescriptor: RecurrenceSimulated {
    /// The score and whether it is scaled.
    public let method: ClassicMethod
    public let summary: String

    public var name: String { method.rawValue }
    public var family: MethodFamily { .classic }
    public var needs: MethodNeeds { MethodNeeds(gradients: true, gappedLogs: .scaleOnly) }
    /// No ridge system is solved.
    public var solvers: Set<SolverKind> { [.auto] }
    public var sharding: ShardSupport {
        .unsupported("its scores come from gradient features for every test example at once, in seconds; fit the whole test set")
    }

    public func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        FitMemory.estimateClassic(log: request.log, features: request.inputs.gradients)
    }

    public func fit(_ request: FitRequest) throws -> MethodFit {
        guard let gradients = request.inputs.gradients else {
            throw SimfluenceError.missingGradients(method: name)
        }
        return try ClassicScores.fit(method, features: gradients, log: request.log, trainingRuns: request.runs,
                                     damping: request.inputs.damping, threads: request.threads)
    }

    /// Nothing is chosen by cross-validation: the refit is the fit.
    public func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        try fit(request).simulator
    }

    public static let tracinCP = ClassicMethodDescriptor(
        method: .tracinCP, summary: "TracIn-CP, B_i = -sum_k eta_k g_i(k) . g_z(k) over saved checkpoints (needs gradients)")
    public static let tracinCPScaled = ClassicMethodDescriptor(
        method: .tracinCPScaled, summary: "TracIn-CP times one global scale fitted on the training runs (needs gradients)")
    public static let gradDot = ClassicMethodDescriptor(
        method: .gradDot, summary: "Grad-Dot, B_i = -(lr / batch) g_i . g_z at the final checkpoint (needs gradients)")
    public static let gradDotScaled = ClassicMethodDescriptor(
        method: .gradDotScaled, summary: "Grad-Dot times one global scale fitted on the training runs (needs gradients)")
    public static let influence = ClassicMethodDescriptor(
        method: .influence, summary: "influence functions with a damped empirical Fisher, at the final checkpoint (needs gradients)")
    public static let influenceScaled = ClassicMethodDescriptor(
        method: .influenceScaled, summary: "influence functions times one global scale fitted on the training runs (needs gradients)")

    /// The registered descriptor of `method`.
    static func of(_ method: ClassicMethod) -> MethodName {
        MethodName(method.rawValue) ?? MethodName(ClassicMethodDescriptor(method: method, summary: method.rawValue))
    }
}
