import RealModule

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

/// The mutable state of one optimizer over one parameter vector (fresh for every run).
struct OptimizerState {
    let settings: OptimizerSettings
    /// SGD velocity, or Adam's first moment.
    private var first: [Double]
    /// Adam's second moment (empty for SGD).
    private var second: [Double]
    private var beta1Power = 1.0, beta2Power = 1.0

    init(settings: OptimizerSettings, parameterCount: Int) {
        self.settings = settings
        first = [Double](repeating: 0, count: parameterCount)
        second = settings.kind == .adam ? [Double](repeating: 0, count: parameterCount) : []
    }

    /// Applies one update with gradient `g` to the parameters `p` (both `first.count` long).
    mutating func step(parameters p: UnsafeMutablePointer<Double>, gradient g: UnsafePointer<Double>) {
        let n = first.count
        let lr = settings.learningRate
        switch settings.kind {
        case .sgdMomentum:
            let mu = settings.momentum
            first.withUnsafeMutableBufferPointer { vb in
                let v = vb.baseAddress!
                for k in 0..<n {
                    v[k] = mu * v[k] + g[k]
                    p[k] -= lr * v[k]
                }
            }
        case .adam:
            let b1 = settings.beta1, b2 = settings.beta2, eps = settings.epsilon
            beta1Power *= b1
            beta2Power *= b2
            let c1 = 1 / (1 - beta1Power), c2 = 1 / (1 - beta2Power)
            first.withUnsafeMutableBufferPointer { mb in
                second.withUnsafeMutableBufferPointer { sb in
                    let m = mb.baseAddress!, v = sb.baseAddress!
                    for k in 0..<n {
                        let gk = g[k]
                        m[k] = b1 * m[k] + (1 - b1) * gk
                        v[k] = b2 * v[k] + (1 - b2) * gk * gk
                        p[k] -= lr * (m[k] * c1) / ((v[k] * c2).squareRoot() + eps)
                    }
                }
            }
        }
    }
}
