/// Which parts of the Simfluence-Linear recurrence L_t = alpha(c_t) L_{t-1} + beta(c_t) a
/// simulator uses.
public enum RecurrenceForm: String, Sendable, CaseIterable, Codable {
    /// alpha(c_t) = sum of A_i over the batch, beta(c_t) = sum of B_i (Simfluence-Linear).
    case linear
    /// alpha = 1, so L_t - L_{t-1} = beta(c_t) (Simfluence-Additive, and TracIn-style methods).
    case additive
    /// beta = 0, so L_t = alpha(c_t) L_{t-1} (Simfluence-Multiplicative).
    case multiplicative

    /// Whether the multiplicative factors A_i are parameters of this form.
    public var usesA: Bool { self != .additive }
    /// Whether the additive terms B_i are parameters of this form.
    public var usesB: Bool { self != .multiplicative }
}

/// What to do when a curriculum names a training example the simulator has no parameters for.
public enum UnseenPolicy: String, Sendable, CaseIterable, Codable {
    /// Reject the curriculum with ``SimfluenceError/unseenExample(id:step:source:)``.
    case error
    /// Treat the example as having no effect: it contributes nothing to alpha or beta.
    case zero
}
