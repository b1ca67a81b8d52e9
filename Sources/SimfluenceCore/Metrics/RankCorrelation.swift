/// Rank correlation used by the evaluation protocol.
public enum RankCorrelation {
    /// Spearman's rho of two equally long samples: the Pearson correlation of their average
    /// ranks (tied values share the mean of the ranks they span).
    ///
    /// Conventions where the textbook definition is undefined:
    /// - If any value on either side is non-finite (NaN or +-infinity), the result is NaN. A
    ///   diverged simulator must not receive a rank correlation that looks meaningful; the NaN
    ///   propagates into ``Summary`` so the whole score reads "not a number".
    /// - Otherwise, if either side is constant (all values tied, so zero rank variance), the
    ///   result is 0: a constant prediction carries no ranking information, and this is the value
    ///   a researcher expects from "knows nothing" (for example the persistence baseline over
    ///   runs that share their starting loss).
    ///
    /// The result is clamped to [-1, 1] against rounding. Requires `x.count == y.count >= 2`.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "spearman: samples differ in length (\(x.count) vs \(y.count))")
        precondition(x.count >= 2, "spearman: needs at least 2 paired values, got \(x.count)")
        if x.contains(where: { !$0.isFinite }) || y.contains(where: { !$0.isFinite }) { return .nan }
        let rx = averageRanks(x), ry = averageRanks(y)
        if rx.allSatisfy({ $0 == rx[0] }) || ry.allSatisfy({ $0 == ry[0] }) { return 0 }
        let n = Double(rx.count)
        var sumX = 0.0, sumY = 0.0
        for i in 0..<rx.count { sumX += rx[i]; sumY += ry[i] }
        let meanX = sumX / n, meanY = sumY / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<rx.count {
            let dx = rx[i] - meanX, dy = ry[i] - meanY
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        let rho = sxy / (sxx * syy).squareRoot()
        return min(1, max(-1, rho))
    }

    /// 1-based ranks of `x` in ascending order; tied values get the mean of the ranks they span
    /// (so [10, 20, 20, 30] ranks as [1, 2.5, 2.5, 4]).
    ///
    /// Ordering is total and deterministic: -infinity ranks lowest, +infinity above every finite
    /// value, and NaN values rank above everything and tie with each other; -0.0 ties with 0.0.
    public static func averageRanks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { i, j in
            let a = x[i], b = x[j]
            if a.isNaN || b.isNaN {
                if a.isNaN != b.isNaN { return b.isNaN }
                return i < j
            }
            if a != b { return a < b }
            return i < j
        }
        func tied(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        var ranks = [Double](repeating: 0, count: x.count)
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && tied(x[order[end]], x[order[start]]) { end += 1 }
            // Positions start..<end hold ranks start+1 ... end; their mean is (start + 1 + end) / 2.
            let rank = Double(start + 1 + end) / 2
            for k in start..<end { ranks[order[k]] = rank }
            start = end
        }
        return ranks
    }
}
