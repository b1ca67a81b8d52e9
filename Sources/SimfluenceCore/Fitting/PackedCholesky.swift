import SimfluenceKernels

/// Dense Cholesky factorisation L L^T = M of a symmetric positive definite matrix held as a
/// packed lower triangle, row-major: element (i, j), j <= i, lives at `i * (i + 1) / 2 + j`.
///
/// The factorisation is left-looking and row-oriented (Cholesky-Crout): row i of L is computed
/// from rows 0..<i, so a caller that already knows the leading rows of the factor (for example a
/// block shared by many systems) can start at a later row. It runs in the C kernels
/// (`sf_packed_cholesky_rows` and `_finish`, `sf_packed_solve`): rows are factored in panels of 32 that share each
/// pass over the earlier rows, with a 4 x 4 register-blocked kernel of dot products over
/// contiguous rows, compiled for AVX-512, AVX2 and the baseline without fused multiply-adds. Every
/// element of L is (M[i, j] - dot(L[i, ..<j], L[j, ..<j])) / L[j, j] with the dot product summed in
/// one fixed order, so the result depends only on the input: not on the instruction set, the
/// panel boundaries, `startRow`, timing or threads.
enum PackedCholesky {
    /// A pivot d_j (the diagonal left after eliminating the previous rows) counts as zero when
    /// d_j <= pivotTolerance * M[j, j]: column j is then (numerically) a combination of the earlier
    /// columns. Rounding in d_j is of order n * 1e-16 * M[j, j], well below this threshold.
    static let pivotTolerance = 1e-11

    /// Offset of row `i` in packed storage.
    @inline(__always)
    static func rowStart(_ i: Int) -> Int { (i &* (i &+ 1)) >> 1 }

    /// Number of stored elements for order `n`.
    @inline(__always)
    static func packedCount(_ n: Int) -> Int { (n &* (n &+ 1)) >> 1 }

    /// Factors `p` (order `n`) in place: on return the lower triangle holds L. Rows below
    /// `startRow` must already hold the factor's rows. Returns nil on success, or the index of the
    /// first pivot that is not safely positive (the matrix is singular or not positive definite;
    /// the contents of `p` are then unspecified). With `threads` > 1 each panel's rows are split
    /// between threads (worth it from a few hundred rows); L is the same bit for bit.
    static func factor(_ p: UnsafeMutablePointer<Double>, n: Int, startRow: Int = 0, threads: Int = 1) -> Int? {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, n)) { scratch in
            let inv = scratch.baseAddress!
            for j in 0..<min(startRow, n) { inv[j] = 1 / p[rowStart(j) + j] }
            let panel = Int(SF_CHOLESKY_PANEL)
            // Threads only where there are enough rows to pay for a hand-over per panel.
            let parts = n - startRow > 4 * panel ? max(1, min(threads, panel / 4)) : 1
            let (matrix, inverse) = (RidgeSharedPointer(base: p), RidgeSharedPointer(base: inv))
            var i0 = startRow
            while i0 < n {
                let i1 = min(i0 + panel, n), start = i0
                if parts == 1 {
                    sf_packed_cholesky_rows(p, start, start, i1, inv)
                } else {
                    // Groups of four rows to each thread (the kernel works four rows at a time);
                    // each writes only its own rows, and the rows it reads were finished before.
                    let quads = (i1 - i0 + 3) / 4
                    try? Parallel.forEach(parts, threads: parts) { part in
                        let begin = start + 4 * (quads * part / parts), end = min(i1, start + 4 * (quads * (part + 1) / parts))
                        if begin < end { sf_packed_cholesky_rows(matrix.base, start, begin, end, inverse.base) }
                    }
                }
                let failed = sf_packed_cholesky_finish(p, i0, i1, pivotTolerance, inv)
                if failed >= 0 { return failed }
                i0 = i1
            }
            return nil
        }
    }

    /// Solves a small symmetric positive semi-definite system `packed` x = `rhs` (order
    /// `rhs.count`, packed lower triangle) after adding `relativeRidge` times its largest diagonal
    /// entry (at least 1e-300) to the diagonal, so that directions without information come out 0
    /// instead of failing; nil if it still does not factor. For the handful of unknowns of a fit's
    /// inner step (lag-kernel weights, prior weights), not for large systems.
    static func solveRidged(_ packed: [Double], _ rhs: [Double], relativeRidge: Double) -> [Double]? {
        let n = rhs.count
        var m = packed, x = rhs
        let largest = (0..<n).map { m[rowStart($0) + $0] }.max() ?? 0
        for i in 0..<n { m[rowStart(i) + i] += relativeRidge * max(largest, 1e-300) }
        let failed = m.withUnsafeMutableBufferPointer { factor($0.baseAddress!, n: n) }
        guard failed == nil else { return nil }
        m.withUnsafeBufferPointer { f in x.withUnsafeMutableBufferPointer { solve(f.baseAddress!, n: n, $0.baseAddress!) } }
        return x
    }

    /// Solves L L^T x = b in place (`x` holds b on entry), with L the factor in `p` (only read, so
    /// one factor can serve many solves at once).
    static func solve(_ p: UnsafePointer<Double>, n: Int, _ x: UnsafeMutablePointer<Double>) {
        sf_packed_solve(p, n, x, 1)
    }

    /// Solves L L^T X = B in place for `count` right-hand sides, `x` row-major n x count (B on
    /// entry): one pass over the factor per 32 of them. Each column comes out bit for bit as
    /// ``solve(_:n:_:)`` gives it alone.
    static func solve(_ p: UnsafePointer<Double>, n: Int, _ x: UnsafeMutablePointer<Double>, count: Int) {
        sf_packed_solve(p, n, x, count)
    }
}
