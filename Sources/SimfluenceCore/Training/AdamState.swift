/// The state of Adam (Kingma and Ba, 2015; with bias correction) over one flat parameter vector,
/// with optional decoupled weight decay (AdamW, Loshchilov and Hutter, 2019): the optimizer of
/// one training run of a built-in workload (create a fresh one for every run).
///
/// One ``step(parameters:gradient:learningRate:weightDecay:)`` with gradient g (the gradient of
/// the loss to be *minimised*), at step t = 1, 2, ...:
///
///     p <- p * (1 - lr * weightDecay)                  (only when weightDecay != 0)
///     m <- beta1 * m + (1 - beta1) * g
///     v <- beta2 * v + (1 - beta2) * g * g
///     p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
///
/// Moments are kept in `Scalar` (the model's precision); the bias corrections and the constant
/// factors are computed in `Double` and rounded to `Scalar` once per step. Element by element,
/// in index order, so the update does not depend on threads.
public struct AdamState<Scalar: BinaryFloatingPoint & Sendable>: Sendable {
    /// Decay rate of the first moment (0 <= beta1 < 1).
    public let beta1: Double
    /// Decay rate of the second moment (0 <= beta2 < 1).
    public let beta2: Double
    /// Added to the root of the second moment, in the parameters' units.
    public let epsilon: Double
    /// Updates applied so far.
    public var steps: Int { storedSteps }
    @usableFromInline var storedSteps = 0
    @usableFromInline var first: [Scalar]
    @usableFromInline var second: [Scalar]
    @usableFromInline var beta1Power = 1.0
    @usableFromInline var beta2Power = 1.0

    /// A fresh state (zero moments) for `parameterCount` parameters.
    public init(parameterCount: Int, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        precondition(parameterCount >= 0 && beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && epsilon > 0)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        first = [Scalar](repeating: 0, count: parameterCount)
        second = [Scalar](repeating: 0, count: parameterCount)
    }

    /// Number of parameters this state is for.
    public var parameterCount: Int { first.count }

    /// Applies one update (see the type's description) to `p` with gradient `g`, both
    /// ``parameterCount`` long. `learningRate` is in parameter units per step; `weightDecay` is
    /// the decoupled decay rate per unit of learning rate (PyTorch's `AdamW(weight_decay:)`).
    @inlinable
    public mutating func step(parameters p: UnsafeMutablePointer<Scalar>, gradient g: UnsafePointer<Scalar>,
                              learningRate: Double, weightDecay: Double = 0) {
        storedSteps += 1
        beta1Power *= beta1
        beta2Power *= beta2
        let n = first.count
        guard n > 0 else { return }
        let b1 = Scalar(beta1), b2 = Scalar(beta2), a1 = Scalar(1 - beta1), a2 = Scalar(1 - beta2)
        let c1 = Scalar(1 / (1 - beta1Power)), c2 = Scalar(1 / (1 - beta2Power))
        let lr = Scalar(learningRate), eps = Scalar(epsilon)
        let decay = Scalar(1 - learningRate * weightDecay)
        let decays = weightDecay != 0
        first.withUnsafeMutableBufferPointer { mb in
            second.withUnsafeMutableBufferPointer { vb in
                let m = mb.baseAddress!, v = vb.baseAddress!
                for k in 0..<n {
                    let gk = g[k]
                    if decays { p[k] *= decay }
                    m[k] = b1 * m[k] + a1 * gk
                    v[k] = b2 * v[k] + a2 * gk * gk
                    p[k] -= lr * (m[k] * c1) / ((v[k] * c2).squareRoot() + eps)
                }
            }
        }
    }
}
