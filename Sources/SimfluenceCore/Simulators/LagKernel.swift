import RealModule

/// How a batch's additive effect spreads over the steps after it (the lag-kernel simulator,
/// Docs/Methods.md): the additive term of step t is
///
///     beta_t = sum_{s <= t} kappa(t - s) beta(c_s),   beta(c_s) = sum of B_i over the batch of step s,
///
/// over the simulated batches, with kappa piecewise constant in the lag d = t - s (in steps):
/// kappa(d) = weights[m] for starts[m] <= d < starts[m + 1], the last bin open-ended. weights[0]
/// is the weight of lag 0 (the step the batch is trained on); the lag-kernel fit fixes it to 1,
/// so B_i is an example's immediate effect and the kernel says how much of it later steps add
/// (positive: momentum keeps pushing) or take back (negative: later updates forget it).
///
/// With a ``lossScale`` tau > 0, beta(c_s) is multiplied by the gain phi(L_{s-1}) = 1 - exp(-L_{s-1} / tau)
/// of the test example's loss just before step s: the size of a cross-entropy gradient (1 - p, with
/// p = exp(-L) the probability of the right answer, when tau = 1 nat), so an example moves a test
/// loss that is already small less than a large one. tau = 0 means no gain (phi = 1).
///
/// With a ``saturation`` exponent e > 0, each batch entry i also counts psi_i(s) (``Saturation``)
/// instead of 1: an estimate of how much training example i still has to teach at step s, from
/// the losses of the test examples it helps. e = 0 means psi = 1.
public struct LagKernel: Sendable, Equatable {
    /// First lag of every bin, strictly increasing, starting at 0.
    public var starts: [Int]
    /// The kernel value of every bin (dimensionless multiples of B).
    public var weights: [Double]
    /// tau, in the loss's units (nats for cross-entropy), >= 0: effects scale with
    /// 1 - exp(-L / tau) of the loss before the step that trains on them; 0 = no scaling.
    public var lossScale: Double
    /// The exponent e of the saturation weights psi_i(s) = (g_i(s) / mean_j g_j(s))^e that
    /// multiply every batch entry's count (``Saturation``), >= 0; 0 = every entry counts 1.
    public var saturation: Double

    /// A kernel; `starts` must be strictly increasing from 0 and as long as `weights`; `lossScale`
    /// and `saturation` finite and >= 0.
    public init(starts: [Int], weights: [Double], lossScale: Double = 0, saturation: Double = 0) {
        precondition(lossScale >= 0 && lossScale.isFinite, "a lag kernel's loss scale must be finite and >= 0")
        precondition(saturation >= 0 && saturation.isFinite, "a lag kernel's saturation exponent must be finite and >= 0")
        self.lossScale = lossScale
        self.saturation = saturation
        precondition(starts.first == 0 && starts.count == weights.count, "a lag kernel needs one weight per bin, the first bin at lag 0")
        precondition(zip(starts, starts.dropFirst()).allSatisfy { $0 < $1 }, "lag-kernel bins must start at increasing lags")
        self.starts = starts
        self.weights = weights
    }

    /// The default bins for runs of `lastStep` steps: lags 0, 1, 2, 3, 4, then each bin half as
    /// long again as the lag it starts at (6, 9, 13, 19, 28, 42, 63, 94, ...), every bin starting
    /// before `lastStep` (later lags never occur in the fitted runs; the last bin is open-ended).
    public static func defaultStarts(lastStep: Int) -> [Int] {
        var starts = [0]
        while true {
            let s = starts[starts.count - 1]
            let next = s < 4 ? s + 1 : s + s / 2
            guard next < max(1, lastStep) else { return starts }
            starts.append(next)
        }
    }

    /// The kernel of a batch that acts only on its own step (kappa = 1 at lag 0, 0 after).
    public static func immediate(starts: [Int], lossScale: Double = 0) -> LagKernel {
        LagKernel(starts: starts, weights: starts.indices.map { $0 == 0 ? 1 : 0 }, lossScale: lossScale)
    }

    /// The gain phi(`loss`) = 1 - exp(-max(loss, 0) / ``lossScale``) that multiplies the effects of
    /// a batch trained when the test loss is `loss`; 1 when ``lossScale`` is 0.
    @inline(__always)
    public func gain(_ loss: Double) -> Double {
        guard lossScale > 0 else { return 1 }
        return -Double.expMinusOne(-max(loss, 0) / lossScale)
    }

    /// The kernel value at lag `d` >= 0.
    public func weight(lag d: Int) -> Double {
        var m = 0
        while m + 1 < starts.count && starts[m + 1] <= d { m += 1 }
        return weights[m]
    }

    /// The rows s that bin `m` reaches from row `k` (starts[m] <= k - s < starts[m + 1]) as a
    /// half-open range lo..<hi of prefix-sum indices, or nil when the bin reaches no row yet.
    @inline(__always)
    func binRows(_ m: Int, row k: Int) -> (lo: Int, hi: Int)? {
        let hi = k - starts[m] + 1
        guard hi > 0 else { return nil }
        return (m + 1 < starts.count ? max(0, k - starts[m + 1] + 1) : 0, hi)
    }

    /// The sum over bin `m` of the values `prefix` accumulates, as seen from row `k` (the rows of
    /// ``binRows(_:row:)``), from prefix sums (prefix[j] = sum of rows < j; indexed up to k + 1).
    @inline(__always)
    func binSum(_ m: Int, row k: Int, prefix: (Int) -> Double) -> Double {
        guard let rows = binRows(m, row: k) else { return 0 }
        return prefix(rows.hi) - prefix(rows.lo)
    }

    /// beta_t at row `k` (0-based simulated step) from the prefix sums of beta(c_s).
    @inline(__always)
    func apply(row k: Int, prefix: (Int) -> Double) -> Double {
        var sum = 0.0
        for m in starts.indices { sum += weights[m] * binSum(m, row: k, prefix: prefix) }
        return sum
    }
}
