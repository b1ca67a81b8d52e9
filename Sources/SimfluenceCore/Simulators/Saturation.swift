import RealModule

/// The saturation weights of the lag-kernel simulator (Docs/Methods.md, "Saturation"): with an
/// exponent e > 0 (``LagKernel/saturation``) the entry of training example i in the batch of
/// step s counts
///
///     psi_i(s) = (g_i(s) / mean_j g_j(s))^e,   g_i(s) = 1 - exp(-l_i(s)),   l_i(s) = sum_z w_iz L_z(s - 1),
///
/// times its effects B_i(z) on every test example z, instead of 1. l_i(s) estimates example i's
/// own loss before step s (in the log's loss units, read as nats): the mean of the losses of the
/// test examples it helps, weighted by how much, w_iz = max(0, -B_iz) / sum_z' max(0, -B_iz')
/// (an example that helps no test example weighs them all alike). 1 - exp(-l) is the size of a
/// cross-entropy gradient at that loss, so an example whose test examples are already learnt
/// moves them less; dividing by the mean over the members j keeps the average count 1, so psi
/// moves effect between examples and steps rather than scaling every batch. When every g is 0
/// (every loss 0), psi = 1. Losses that are not finite count as 0.
///
/// The fit reads L from the recorded losses (teacher forcing) and w from a fit without psi; a
/// rollout reads L from its own simulated losses of every test example and w from the model's B.
/// Members are indices into whatever `effect` is indexed by (the fit's active examples, or a
/// model's seen training examples).
public struct Saturation: Sendable {
    /// The exponent e (> 0; 0 would make every psi 1).
    public let exponent: Double
    /// The training examples psi is defined for (their indices, ascending); the mean runs over them.
    public let members: [Int]
    /// The number of test examples (the length of the loss vectors psi reads).
    public let width: Int
    /// w[k * width + z]: the weight of test example z in member k's loss estimate.
    let w: [Double]

    /// The weights of `members` from their effects: `effect(k, z)` is B of the k-th member on
    /// test example z (loss units; negative helps).
    public init(exponent: Double, members: [Int], width: Int, effect: (Int, Int) -> Double) {
        self.exponent = exponent
        self.members = members
        self.width = width
        var w = [Double](repeating: 0, count: members.count * width)
        for k in members.indices {
            var total = 0.0
            for z in 0..<width {
                let h = max(0, -effect(k, z))
                w[k * width + z] = h
                total += h
            }
            if total > 0 {
                for z in 0..<width { w[k * width + z] /= total }
            } else if width > 0 {
                for z in 0..<width { w[k * width + z] = 1 / Double(width) }
            }
        }
        self.w = w
    }

    /// The weights of a fitted simulator: members its seen training examples, effects its B.
    public init(_ model: FittedSimulator, exponent: Double) {
        let n = model.trainIDs.count, b = model.b
        let members = (0..<n).filter { model.seen[$0] }
        self.init(exponent: exponent, members: members, width: model.testIDs.count) { k, z in b[z, members[k]] }
    }

    /// psi of every member (in ``members`` order) given every test example's loss before the step
    /// (`losses[z]`, z < ``width``).
    public func psi(_ losses: UnsafeBufferPointer<Double>) -> [Double] {
        precondition(losses.count >= width, "one loss per test example")
        var g = [Double](repeating: 0, count: members.count)
        var total = 0.0
        w.withUnsafeBufferPointer { w in
            for k in members.indices {
                var l = 0.0
                let row = k * width
                for z in 0..<width {
                    let x = losses[z]
                    if x.isFinite { l += w[row + z] * x }
                }
                let gk = -Double.expMinusOne(-max(l, 0))
                g[k] = gk
                total += gk
            }
        }
        guard total > 0 else { return [Double](repeating: 1, count: members.count) }
        let mean = total / Double(members.count)
        for k in members.indices {
            let r = g[k] / mean
            g[k] = exponent == 1 ? r : Double.pow(r, exponent)
        }
        return g
    }

    /// ``psi(_:)`` of an array of losses.
    public func psi(_ losses: [Double]) -> [Double] {
        losses.withUnsafeBufferPointer { psi($0) }
    }
}
