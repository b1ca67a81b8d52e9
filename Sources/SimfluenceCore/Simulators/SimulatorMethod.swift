/// The simulators simfluence can fit from a log, by the name the CLI uses.
public enum SimulatorMethod: String, Sendable, CaseIterable, Codable {
    /// Simfluence-Linear: L_t = (sum A_i) L_{t-1} + sum B_i, ridge-fitted with teacher forcing.
    case linear
    /// Simfluence-Additive: L_t = L_{t-1} + sum B_i.
    case additive
    /// Simfluence-Multiplicative: L_t = (sum A_i) L_{t-1}.
    case multiplicative

    /// The recurrence the method's parameters plug into.
    public var form: RecurrenceForm {
        switch self {
        case .linear: .linear
        case .additive: .additive
        case .multiplicative: .multiplicative
        }
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
