/// Small dense kernels for the classic TDA scores (dot products of gradient rows and a
/// symmetric positive-definite solve).
enum DenseKernels {
    /// `sum_k a[k] * b[k]` over `count` values, with four accumulators combined in a fixed order
    /// (so `dot(a, b) == dot(b, a)` bit for bit, and the result does not depend on threads).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var k = 0
        while k + 4 <= count {
            s0 += a[k] * b[k]
            s1 += a[k + 1] * b[k + 1]
            s2 += a[k + 2] * b[k + 2]
            s3 += a[k + 3] * b[k + 3]
            k += 4
        }
        while k < count { s0 += a[k] * b[k]; k += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// Dot product of row `i` of `a` and row `j` of `b` (same number of columns).
    static func rowDot(_ a: Matrix, _ i: Int, _ b: Matrix, _ j: Int) -> Double {
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                dot(pa.baseAddress! + i * a.columns, pb.baseAddress! + j * b.columns, a.columns)
            }
        }
    }
}

/// The Cholesky factor L (lower triangular, row-major, `n` x `n`) of a symmetric positive-definite
/// matrix, and solves with it. Plain O(n^3 / 3) dense factorisation: the classic scores only
/// factor one matrix (n x n with Woodbury, or d x d) per call.
struct DenseCholesky {
    let n: Int
    private var l: [Double]

    /// Factors the symmetric matrix `a` (only its lower triangle is read). Returns nil if a pivot
    /// is not positive (the matrix is not numerically positive definite).
    init?(_ a: Matrix) {
        precondition(a.rows == a.columns, "Cholesky needs a square matrix")
        let n = a.rows
        self.n = n
        var l = a.storage
        let ok: Bool = l.withUnsafeMutableBufferPointer { buf in
            let m = buf.baseAddress!
            for j in 0..<n {
                let rowJ = m + j * n
                let d = rowJ[j] - DenseKernels.dot(rowJ, rowJ, j)
                guard d > 0 && d.isFinite else { return false }
                let pivot = d.squareRoot()
                rowJ[j] = pivot
                let inv = 1 / pivot
                for i in (j + 1)..<max(j + 1, n) {
                    let rowI = m + i * n
                    rowI[j] = (rowI[j] - DenseKernels.dot(rowI, rowJ, j)) * inv
                }
            }
            return true
        }
        guard ok else { return nil }
        // Clear the strict upper triangle so `l` is exactly L.
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { l[i * n + j] = 0 } }
        self.l = l
    }

    /// Solves `A x = b` (`b.count == n`).
    func solve(_ b: [Double]) -> [Double] {
        precondition(b.count == n)
        var x = b
        l.withUnsafeBufferPointer { lb in
            x.withUnsafeMutableBufferPointer { xb in
                let m = lb.baseAddress!, v = xb.baseAddress!
                // L y = b
                for i in 0..<n {
                    v[i] = (v[i] - DenseKernels.dot(m + i * n, v, i)) / m[i * n + i]
                }
                // L^T x = y
                for i in stride(from: n - 1, through: 0, by: -1) {
                    var s = v[i]
                    for k in (i + 1)..<max(i + 1, n) { s -= m[k * n + i] * v[k] }
                    v[i] = s / m[i * n + i]
                }
            }
        }
        return x
    }
}
