/// K^T K for the lag-kernel design of one run of `steps` steps, K the steps x steps
/// lower-triangular matrix K[k, s] = kappa(k - s) (k >= s) of ``LagKernel``: the weight with which
/// the batches of steps s and s2 meet in the normal equations,
///
///     W(s, s2) = sum_{k = max(s, s2)}^{steps - 1} kappa(k - s) kappa(k - s2).
///
/// It depends only on d = |s - s2| and m = steps - 1 - max(s, s2), W = P_d(m) with
/// P_d(m) = sum_{j <= m} kappa(j) kappa(j + d), so it is built in O(steps^2) from running sums.
struct LagGram: Sendable {
    /// kappa(d) for every lag d < steps.
    let kappa: [Double]
    /// partial[d * steps + m] = P_d(m), for d + m < steps.
    private let partial: [Double]
    let steps: Int

    init(_ kernel: LagKernel, steps: Int) {
        self.steps = steps
        let kappa = (0..<steps).map { kernel.weight(lag: $0) }
        var partial = [Double](repeating: 0, count: steps * steps)
        for d in 0..<steps {
            var sum = 0.0
            for m in 0..<(steps - d) {
                sum += kappa[m] * kappa[m + d]
                partial[d * steps + m] = sum
            }
        }
        self.kappa = kappa
        self.partial = partial
    }

    /// W(s, s2) for s2 <= s < steps.
    @inline(__always)
    func value(_ s: Int, _ s2: Int) -> Double {
        partial[(s - s2) * steps + (steps - 1 - s)]
    }
}
