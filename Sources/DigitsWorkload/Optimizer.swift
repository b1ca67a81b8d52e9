import SimfluenceCore

/// The optimizer a fine-tuning run uses.
public enum OptimizerKind: String, Sendable, CaseIterable, Equatable {
    /// Stochastic gradient descent with heavy-ball momentum: `v = momentum * v + g; p -= lr * v`.
    case sgdMomentum = "sgd-momentum"
    /// Adam (Kingma & Ba) with bias correction.
    case adam

    /// The learning rate used when a protocol does not set one.
    public var defaultLearningRate: Double {
        switch self {
        case .sgdMomentum: return 0.01
        case .adam: return 0.003
        }
    }
}

/// Optimizer hyperparameters.
public struct OptimizerSettings: Sendable, Equatable {
    public var kind: OptimizerKind
    public var learningRate: Double
    /// Momentum of SGD (ignored by Adam).
    public var momentum: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double

    public init(kind: OptimizerKind, learningRate: Double? = nil, momentum: Double = 0.9,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        self.kind = kind
        self.learningRate = learningRate ?? kind.defaultLearningRate
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

/// The mutable state of one optimizer over one parameter vector (fresh for every run). Adam is
/// the shared ``AdamState`` of the core (without weight decay).
struct OptimizerState {
    let settings: OptimizerSettings
    /// SGD velocity (empty for Adam).
    private var velocity: [Double]
    /// Adam's moments (nil for SGD).
    private var adam: AdamState<Double>?

    init(settings: OptimizerSettings, parameterCount: Int) {
        self.settings = settings
        switch settings.kind {
        case .sgdMomentum:
            velocity = [Double](repeating: 0, count: parameterCount)
            adam = nil
        case .adam:
            velocity = []
            adam = AdamState(parameterCount: parameterCount, beta1: settings.beta1, beta2: settings.beta2,
                             epsilon: settings.epsilon)
        }
    }

    /// Applies one update with gradient `g` to the parameters `p` (both `parameterCount` long).
    mutating func step(parameters p: UnsafeMutablePointer<Double>, gradient g: UnsafePointer<Double>) {
        let lr = settings.learningRate
        switch settings.kind {
        case .sgdMomentum:
            let n = velocity.count, mu = settings.momentum
            velocity.withUnsafeMutableBufferPointer { vb in
                let v = vb.baseAddress!
                for k in 0..<n {
                    v[k] = mu * v[k] + g[k]
                    p[k] -= lr * v[k]
                }
            }
        case .adam:
            adam!.step(parameters: p, gradient: g, learningRate: lr)
        }
    }
}
