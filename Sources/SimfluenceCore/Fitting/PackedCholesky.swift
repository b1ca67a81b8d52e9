#if canImport(Glibc)
import Glibc
#endif

/// Dense Cholesky factorisation L L^T = M of a symmetric positive definite matrix held as a
/// packed lower triangle, row-major: element (i, j), j <= i, lives at `i * (i + 1) / 2 + j`.
///
/// The factorisation is left-looking and row-oriented (Cholesky-Crout): row i of L is computed
/// from rows 0..<i, so a caller that already knows the leading rows of the factor (for example a
/// block shared by many systems) can start at a later row. The hot loop is a 2 x 4 register-blocked
/// kernel of dot products over contiguous rows, with explicit `SIMD2<Double>` (one SSE register on
/// the baseline x86-64 target; no FMA is assumed). The result depends only on the input and on
/// `startRow`, never on timing or threads.
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
    /// the contents of `p` are then unspecified).
    static func factor(_ p: UnsafeMutablePointer<Double>, n: Int, startRow: Int = 0) -> Int? {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, n)) { buffer in
            let inv = buffer.baseAddress!
            for j in 0..<min(startRow, n) { inv[j] = 1 / p[rowStart(j) &+ j] }
            return factor(p, n: n, startRow: startRow, inverseDiagonal: inv)
        }
    }

    /// `factor` with a scratch array receiving 1 / L[j, j] (filled for rows < startRow).
    private static func factor(_ p: UnsafeMutablePointer<Double>, n: Int, startRow: Int,
                               inverseDiagonal inv: UnsafeMutablePointer<Double>) -> Int? {
        var i = startRow
        while i < n {
            let two = i &+ 1 < n
            let r0 = p + rowStart(i)
            let r1 = two ? p + rowStart(i &+ 1) : r0
            // Columns 0..<i of rows i and i + 1, four at a time.
            var j = 0
            while j &+ 4 <= i {
                let b0 = p + rowStart(j)
                let b1 = p + rowStart(j &+ 1)
                let b2 = p + rowStart(j &+ 2)
                let b3 = p + rowStart(j &+ 3)
                // Dot products over the common prefix k < j (j is a multiple of 4).
                let (s0, s1) = kernel2x4(r0, r1, b0, b1, b2, b3, j)
                finishBlock(r0, s0, b0, b1, b2, b3, inv, j)
                if two { finishBlock(r1, s1, b0, b1, b2, b3, inv, j) }
                j &+= 4
            }
            while j < i {
                let bj = p + rowStart(j)
                r0[j] = (r0[j] - dot(r0, bj, j)) * inv[j]
                if two { r1[j] = (r1[j] - dot(r1, bj, j)) * inv[j] }
                j &+= 1
            }
            // Diagonal of row i.
            let a0 = r0[i]
            let d0 = a0 - dot(r0, r0, i)
            guard a0 > 0, d0 > pivotTolerance * a0, d0.isFinite else { return i }
            let l0 = d0.squareRoot()
            r0[i] = l0
            inv[i] = 1 / l0
            if two {
                // Column i of row i + 1, then its diagonal.
                r1[i] = (r1[i] - dot(r1, r0, i)) * inv[i]
                let a1 = r1[i &+ 1]
                let d1 = a1 - dot(r1, r1, i &+ 1)
                guard a1 > 0, d1 > pivotTolerance * a1, d1.isFinite else { return i &+ 1 }
                let l1 = d1.squareRoot()
                r1[i &+ 1] = l1
                inv[i &+ 1] = 1 / l1
            }
            i &+= 2
        }
        return nil
    }

    /// Completes L[r, j..<j+4] from the prefix dot products `s` (over k < j): adds the
    /// triangular tail k in j..<j+c and divides by the diagonal.
    @inline(__always)
    private static func finishBlock(_ r: UnsafeMutablePointer<Double>, _ s: SIMD4<Double>,
                                    _ b0: UnsafeMutablePointer<Double>, _ b1: UnsafeMutablePointer<Double>,
                                    _ b2: UnsafeMutablePointer<Double>, _ b3: UnsafeMutablePointer<Double>,
                                    _ inv: UnsafeMutablePointer<Double>, _ j: Int) {
        let x0 = (r[j] - s[0]) * inv[j]
        r[j] = x0
        let x1 = (r[j &+ 1] - s[1] - x0 * b1[j]) * inv[j &+ 1]
        r[j &+ 1] = x1
        let x2 = (r[j &+ 2] - s[2] - x0 * b2[j] - x1 * b2[j &+ 1]) * inv[j &+ 2]
        r[j &+ 2] = x2
        let x3 = (r[j &+ 3] - s[3] - x0 * b3[j] - x1 * b3[j &+ 1] - x2 * b3[j &+ 2]) * inv[j &+ 3]
        r[j &+ 3] = x3
    }

    @inline(__always)
    private static func load2(_ p: UnsafePointer<Double>) -> SIMD2<Double> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD2<Double>.self)
    }

    @inline(__always)
    private static func load2(_ p: UnsafeMutablePointer<Double>) -> SIMD2<Double> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD2<Double>.self)
    }

    /// Dot products of rows a0, a1 with rows b0...b3 over k in 0..<len; `len` must be a multiple of 4.
    @inline(__always)
    private static func kernel2x4(_ a0: UnsafeMutablePointer<Double>, _ a1: UnsafeMutablePointer<Double>,
                                  _ b0: UnsafeMutablePointer<Double>, _ b1: UnsafeMutablePointer<Double>,
                                  _ b2: UnsafeMutablePointer<Double>, _ b3: UnsafeMutablePointer<Double>,
                                  _ len: Int) -> (SIMD4<Double>, SIMD4<Double>) {
        var c00 = SIMD2<Double>(), c01 = SIMD2<Double>(), c02 = SIMD2<Double>(), c03 = SIMD2<Double>()
        var c10 = SIMD2<Double>(), c11 = SIMD2<Double>(), c12 = SIMD2<Double>(), c13 = SIMD2<Double>()
        var k = 0
        // len is a multiple of 4: two SIMD2 steps per iteration.
        while k < len {
            var x0 = load2(a0 + k), x1 = load2(a1 + k)
            var y0 = load2(b0 + k), y1 = load2(b1 + k), y2 = load2(b2 + k), y3 = load2(b3 + k)
            c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3
            c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3
            let k2 = k &+ 2
            x0 = load2(a0 + k2); x1 = load2(a1 + k2)
            y0 = load2(b0 + k2); y1 = load2(b1 + k2); y2 = load2(b2 + k2); y3 = load2(b3 + k2)
            c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3
            c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3
            k &+= 4
        }
        let s0 = SIMD4(c00[0] + c00[1], c01[0] + c01[1], c02[0] + c02[1], c03[0] + c03[1])
        let s1 = SIMD4(c10[0] + c10[1], c11[0] + c11[1], c12[0] + c12[1], c13[0] + c13[1])
        return (s0, s1)
    }

    /// sum_{k < len} a[k] * b[k], with two SIMD accumulators; the summation order depends only on `len`.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ len: Int) -> Double {
        var c0 = SIMD2<Double>(), c1 = SIMD2<Double>()
        var k = 0
        while k &+ 4 <= len {
            c0 += load2(a + k) * load2(b + k)
            c1 += load2(a + (k &+ 2)) * load2(b + (k &+ 2))
            k &+= 4
        }
        if k &+ 2 <= len {
            c0 += load2(a + k) * load2(b + k)
            k &+= 2
        }
        let c = c0 + c1
        var s = c[0] + c[1]
        if k < len { s += a[k] * b[k] }
        return s
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
        // Forward: L y = b.
        for i in 0..<n {
            let r = p + rowStart(i)
            x[i] = (x[i] - dot(r, x, i)) / r[i]
        }
        // Backward: L^T x = y, column-oriented so every access runs along a row of L.
        var i = n &- 1
        while i >= 0 {
            let r = p + rowStart(i)
            let xi = x[i] / r[i]
            x[i] = xi
            var k = 0
            let v = SIMD2(repeating: xi)
            while k &+ 2 <= i {
                let y = load2(x + k) - load2(r + k) * v
                UnsafeMutableRawPointer(x + k).storeBytes(of: y, as: SIMD2<Double>.self)
                k &+= 2
            }
            if k < i { x[k] -= r[k] * xi }
            i &-= 1
        }
    }
}
