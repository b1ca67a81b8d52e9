/// The weights of a stack: the convex combination of candidate predictions closest, in squared
/// error, to the truth,
///
///     minimise  w^T G w - 2 b^T w   subject to  w >= 0,  sum(w) = 1,
///
/// with G[c, d] = sum of P_c P_d and b[c] = sum of P_c Y over every predicted value (candidate c's
/// prediction P_c, truth Y; a squared error |sum_c w_c P_c - Y|^2 is this objective plus a
/// constant). The problem is convex, so its minimum is the best of the stationary points of the
/// supports: for each non-empty set S of candidates, the equality-constrained minimum
/// w_S = G_S^-1 (b_S - mu 1), mu = (1^T G_S^-1 b_S - 1) / (1^T G_S^-1 1), kept when every weight is
/// >= 0. Exhaustive over supports, so for the handful of candidates a stack has (at most
/// ``maxCandidates``).
public enum StackWeights {
    /// Most candidates the exhaustive search takes (2^12 supports).
    public static let maxCandidates = 12

    /// The weights (one per candidate, >= 0, summing to 1, zero outside the chosen support) and
    /// the objective w^T G w - 2 b^T w they reach. `gram` is candidates x candidates (row-major,
    /// symmetric), `rhs` one entry per candidate. Ties (objectives within 1e-12 of the scale of
    /// the problem) go to the smaller support, then to the earlier candidates: a stack is never
    /// more complicated than the data asks for.
    public static func solve(gram: [Double], rhs: [Double]) -> (weights: [Double], objective: Double) {
        let k = rhs.count
        precondition(k >= 1 && k <= maxCandidates && gram.count == k * k, "the stack weights need 1...\(maxCandidates) candidates and a k x k Gram matrix")
        let scale = max((0..<k).map { abs(gram[$0 * k + $0]) }.max() ?? 0, 1e-300)
        var best: (weights: [Double], objective: Double)?
        // Supports in order of size, then lexicographically by their candidates.
        let supports = (1..<(1 << k)).map { mask in (0..<k).filter { mask & (1 << $0) != 0 } }.sorted { a, b in
            a.count != b.count ? a.count < b.count : a.lexicographicallyPrecedes(b)
        }
        for members in supports {
            guard let w = stationaryPoint(gram: gram, rhs: rhs, k: k, members: members), w.allSatisfy({ $0 >= 0 }) else { continue }
            var full = [Double](repeating: 0, count: k)
            for (m, c) in members.enumerated() { full[c] = w[m] }
            let value = objective(full, gram: gram, rhs: rhs)
            if best == nil || value < best!.objective - 1e-12 * scale { best = (full, value) }
        }
        // A single candidate is always a stationary point with weight 1, so there is a best.
        return (best!.weights, best!.objective)
    }

    /// w^T G w - 2 b^T w.
    static func objective(_ w: [Double], gram: [Double], rhs: [Double]) -> Double {
        let k = w.count
        var value = 0.0
        for c in 0..<k {
            var row = 0.0
            for d in 0..<k { row += gram[c * k + d] * w[d] }
            value += w[c] * (row - 2 * rhs[c])
        }
        return value
    }

    /// The minimum on the hyperplane sum(w) = 1 of the candidates `members` (weights in their
    /// order), or nil when their Gram block is singular.
    static func stationaryPoint(gram: [Double], rhs: [Double], k: Int, members: [Int]) -> [Double]? {
        let m = members.count
        if m == 1 { return [1] }
        var packed = [Double](repeating: 0, count: PackedCholesky.packedCount(m))
        for p in 0..<m { for q in 0...p { packed[PackedCholesky.rowStart(p) + q] = gram[members[p] * k + members[q]] } }
        guard let gb = PackedCholesky.solveRidged(packed, members.map { rhs[$0] }, relativeRidge: 0),
              let g1 = PackedCholesky.solveRidged(packed, [Double](repeating: 1, count: m), relativeRidge: 0) else { return nil }
        let ones = g1.reduce(0, +)
        guard ones > 0 && ones.isFinite else { return nil }
        let mu = (gb.reduce(0, +) - 1) / ones
        return (0..<m).map { gb[$0] - mu * g1[$0] }
    }
}
