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

/// A symmetric positive-definite matrix factored once with ``PackedCholesky`` and then solved
/// against many right-hand sides, possibly from several threads (the factor is read-only after
/// construction).
final class DenseCholesky: @unchecked Sendable {
    let n: Int
    private let packed: UnsafeMutablePointer<Double>

    /// Factors the symmetric matrix `a` (only its lower triangle is read). Returns nil if a pivot
    /// is not safely positive (the matrix is not numerically positive definite; see
    /// ``PackedCholesky/pivotTolerance``).
    init?(_ a: Matrix) {
        precondition(a.rows == a.columns, "Cholesky needs a square matrix")
        let n = a.rows
        let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, PackedCholesky.packedCount(n)))
        for i in 0..<n {
            let r = PackedCholesky.rowStart(i)
            for j in 0...i { p[r + j] = a.storage[i * n + j] }
        }
        guard PackedCholesky.factor(p, n: n) == nil else {
            p.deallocate()
            return nil
        }
        self.n = n
        self.packed = p
    }

    deinit { packed.deallocate() }

    /// Solves `A x = b` (`b.count == n`).
    func solve(_ b: [Double]) -> [Double] {
        precondition(b.count == n)
        var x = b
        x.withUnsafeMutableBufferPointer { PackedCholesky.solve(packed, n: n, $0.baseAddress!) }
        return x
    }
}
