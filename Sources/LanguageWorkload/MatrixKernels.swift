import RealModule

/// The floating-point types the transformer's arithmetic runs in: `Float` for training (the
/// workload) and `Double` for the finite-difference checks of the backward passes, which run the
/// same generic code.
public protocol ModelScalar: Real, BinaryFloatingPoint, SIMDScalar, Codable, Sendable {}
extension Float: ModelScalar {}
extension Double: ModelScalar {}

/// Which part of a product a causal (lower-triangular) operand lets a kernel skip. Row `i` and
/// column `j` are of the result, `p` the inner index. For the two triangular shapes, A's entries
/// outside the triangle must be zero within ``MatrixKernels/tileRows`` - 1 of the diagonal: the
/// vector kernel sums whole tiles of rows, adding those exact zeros, which change no sum.
enum ProductShape: Sendable {
    /// Every `p` and every column.
    case full
    /// Row `i` sums over `p <= i` only (A is lower-triangular: `A[i, p] = 0` for `p > i`).
    case innerThroughRow
    /// Row `i` sums over `p >= i` only (A is upper-triangular: `A[i, p] = 0` for `p < i`).
    case innerFromRow
    /// Only the entries `j <= i` are needed; others may or may not be written.
    case columnsThroughRow
}

/// The dense products of the transformer: `C = A B` or `C += A B` over raw buffers, with `A` read
/// through a row and a column stride (so `A` may be a transposed view), `B` and `C` row-major.
///
/// Every result entry is computed as `acc = 0; for p in order: acc = acc + A[i, p] * B[p, j]`,
/// then `C[i, j] = acc` or `C[i, j] = C[i, j] + acc`: one multiply and one add, never fused, in
/// ascending `p`. The vector kernel (6 x 8 register tiles) and the scalar reference
/// kernel therefore give the same bits, on any instruction set, whatever the tiling: the
/// triangular shapes may add exact zeros, which change no sum. Release builds use the vector
/// kernel; debug builds, where `SIMD` arithmetic is not optimised, the scalar one
/// (``usesVectorKernel``).
enum MatrixKernels {
    /// Rows of the vector kernel's main register tiles.
    static let tileRows = 6

    /// True when the products run through the `SIMD8` kernel (optimised builds).
    static var usesVectorKernel: Bool {
        #if DEBUG
        return false
        #else
        return true
        #endif
    }

    /// `C[i, j] (+)= sum_p A[i, p] * B[p, j]` for `i < m`, `j < n`, `p < k` (restricted by
    /// `shape`), with `A[i, p]` at `a[i * aRow + p * aCol]`, `B[p, j]` at `b[p * ldb + j]` and
    /// `C[i, j]` at `c[i * ldc + j]`. With `accumulate` false, C is overwritten.
    @inline(__always)
    static func multiply<S: ModelScalar>(m: Int, n: Int, k: Int, a: UnsafePointer<S>, aRow: Int, aCol: Int,
                                         b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int,
                                         accumulate: Bool, shape: ProductShape = .full) {
        #if DEBUG
        multiplyReference(m: m, n: n, k: k, a: a, aRow: aRow, aCol: aCol, b: b, ldb: ldb, c: c, ldc: ldc,
                          accumulate: accumulate, shape: shape)
        #else
        multiplyVector(m: m, n: n, k: k, a: a, aRow: aRow, aCol: aCol, b: b, ldb: ldb, c: c, ldc: ldc,
                       accumulate: accumulate, shape: shape)
        #endif
    }

    /// The scalar reference kernel: each entry on its own, only the terms `shape` allows.
    static func multiplyReference<S: ModelScalar>(m: Int, n: Int, k: Int, a: UnsafePointer<S>, aRow: Int, aCol: Int,
                                                  b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int,
                                                  accumulate: Bool, shape: ProductShape) {
        for i in 0..<m {
            var p0 = 0, p1 = k, columns = n
            switch shape {
            case .full: break
            case .innerThroughRow: p1 = min(k, i + 1)
            case .innerFromRow: p0 = i
            case .columnsThroughRow: columns = min(n, i + 1)
            }
            let ai = a + i * aRow, ci = c + i * ldc
            for j in 0..<columns {
                var acc: S = 0
                var p = p0
                while p < p1 {
                    acc += ai[p * aCol] * b[p * ldb + j]
                    p += 1
                }
                ci[j] = accumulate ? ci[j] + acc : acc
            }
        }
    }

    /// The vector kernel: tiles of ``tileRows`` (6) rows x 8 columns held in 12 `SIMD4`
    /// registers, with the tile's rows of A first copied into a buffer with each value repeated
    /// 4 times (so the inner loop loads ready-made broadcasts instead of shuffling: baseline
    /// x86-64 has no broadcast instruction); leftover rows in tiles of 4 and 1 rows, leftover
    /// columns (fewer than 8) by scalar code in the same order.
    static func multiplyVector<S: ModelScalar>(m: Int, n: Int, k: Int, a: UnsafePointer<S>, aRow: Int, aCol: Int,
                                               b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int,
                                               accumulate: Bool, shape: ProductShape) {
        withUnsafeTemporaryAllocation(of: S.self, capacity: 4 * tileRows * max(k, 1)) { packed in
            let buffer = packed.baseAddress!
            var i0 = 0
            while i0 < m {
                let rows = min(tileRows, m - i0)
                var p0 = 0, p1 = k, columns = n
                switch shape {
                case .full: break
                case .innerThroughRow: p1 = min(k, i0 + rows)
                case .innerFromRow: p0 = i0
                case .columnsThroughRow: columns = min(n, i0 + rows)
                }
                let ai = a + i0 * aRow, ci = c + i0 * ldc
                var j0 = 0
                if rows == tileRows {
                    if columns >= 8 {
                        var q = buffer
                        var p = p0
                        while p < p1 {
                            let ap = ai + p * aCol
                            for r in 0..<tileRows {
                                let v = ap[r * aRow]
                                q[0] = v; q[1] = v; q[2] = v; q[3] = v
                                q += 4
                            }
                            p += 1
                        }
                    }
                    while j0 + 8 <= columns {
                        tile6x8(count: p1 - p0, packed: buffer, b: b + p0 * ldb + j0, ldb: ldb, c: ci + j0, ldc: ldc,
                                accumulate: accumulate)
                        j0 += 8
                    }
                } else {
                    while j0 + 8 <= columns {
                        var r = 0
                        if rows >= 4 {
                            tile4x8(p0: p0, p1: p1, a: ai, aRow: aRow, aCol: aCol, b: b + j0, ldb: ldb, c: ci + j0, ldc: ldc,
                                    accumulate: accumulate)
                            r = 4
                        }
                        while r < rows {
                            tile1x8(p0: p0, p1: p1, a: ai + r * aRow, aCol: aCol, b: b + j0, ldb: ldb, c: ci + r * ldc + j0,
                                    accumulate: accumulate)
                            r += 1
                        }
                        j0 += 8
                    }
                }
                if j0 < columns {
                    for r in 0..<rows {
                        let ar = ai + r * aRow, cr = ci + r * ldc
                        for j in j0..<columns {
                            var acc: S = 0
                            var p = p0
                            while p < p1 {
                                acc += ar[p * aCol] * b[p * ldb + j]
                                p += 1
                            }
                            cr[j] = accumulate ? cr[j] + acc : acc
                        }
                    }
                }
                i0 += rows
            }
        }
    }

    @inline(__always)
    private static func load4<S: ModelScalar>(_ p: UnsafeRawPointer) -> SIMD4<S> {
        p.loadUnaligned(as: SIMD4<S>.self)
    }

    @inline(__always)
    private static func store4<S: ModelScalar>(_ v: SIMD4<S>, _ p: UnsafeMutablePointer<S>, accumulate: Bool) {
        let raw = UnsafeMutableRawPointer(p)
        raw.storeBytes(of: accumulate ? raw.loadUnaligned(as: SIMD4<S>.self) + v : v, as: SIMD4<S>.self)
    }

    /// A 6 x 8 tile over `count` inner steps: `packed` holds, per step, the 6 rows' values of A
    /// each repeated 4 times; `b` points at `B[p0, j0]`.
    @inline(__always)
    private static func tile6x8<S: ModelScalar>(count: Int, packed: UnsafePointer<S>, b: UnsafePointer<S>, ldb: Int,
                                                c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool) {
        var c0l = SIMD4<S>(), c0h = SIMD4<S>(), c1l = SIMD4<S>(), c1h = SIMD4<S>(), c2l = SIMD4<S>(), c2h = SIMD4<S>()
        var c3l = SIMD4<S>(), c3h = SIMD4<S>(), c4l = SIMD4<S>(), c4h = SIMD4<S>(), c5l = SIMD4<S>(), c5h = SIMD4<S>()
        let width = MemoryLayout<S>.stride
        var bp = UnsafeRawPointer(b), ap = UnsafeRawPointer(packed)
        for _ in 0..<count {
            let bl: SIMD4<S> = load4(bp), bh: SIMD4<S> = load4(bp + 4 * width)
            let a0: SIMD4<S> = load4(ap), a1: SIMD4<S> = load4(ap + 4 * width)
            c0l += a0 * bl; c0h += a0 * bh
            c1l += a1 * bl; c1h += a1 * bh
            let a2: SIMD4<S> = load4(ap + 8 * width), a3: SIMD4<S> = load4(ap + 12 * width)
            c2l += a2 * bl; c2h += a2 * bh
            c3l += a3 * bl; c3h += a3 * bh
            let a4: SIMD4<S> = load4(ap + 16 * width), a5: SIMD4<S> = load4(ap + 20 * width)
            c4l += a4 * bl; c4h += a4 * bh
            c5l += a5 * bl; c5h += a5 * bh
            bp += ldb * width
            ap += 24 * width
        }
        store4(c0l, c, accumulate: accumulate); store4(c0h, c + 4, accumulate: accumulate)
        store4(c1l, c + ldc, accumulate: accumulate); store4(c1h, c + ldc + 4, accumulate: accumulate)
        store4(c2l, c + 2 * ldc, accumulate: accumulate); store4(c2h, c + 2 * ldc + 4, accumulate: accumulate)
        store4(c3l, c + 3 * ldc, accumulate: accumulate); store4(c3h, c + 3 * ldc + 4, accumulate: accumulate)
        store4(c4l, c + 4 * ldc, accumulate: accumulate); store4(c4h, c + 4 * ldc + 4, accumulate: accumulate)
        store4(c5l, c + 5 * ldc, accumulate: accumulate); store4(c5h, c + 5 * ldc + 4, accumulate: accumulate)
    }

    @inline(__always)
    private static func load<S: ModelScalar>(_ p: UnsafePointer<S>) -> SIMD8<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self)
    }

    @inline(__always)
    private static func store<S: ModelScalar>(_ v: SIMD8<S>, _ p: UnsafeMutablePointer<S>, accumulate: Bool) {
        let raw = UnsafeMutableRawPointer(p)
        raw.storeBytes(of: accumulate ? raw.loadUnaligned(as: SIMD8<S>.self) + v : v, as: SIMD8<S>.self)
    }

    @inline(__always)
    private static func tile4x8<S: ModelScalar>(p0: Int, p1: Int, a: UnsafePointer<S>, aRow: Int, aCol: Int,
                                                b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int,
                                                accumulate: Bool) {
        var c0 = SIMD8<S>(), c1 = SIMD8<S>(), c2 = SIMD8<S>(), c3 = SIMD8<S>()
        var ap = a + p0 * aCol, bp = b + p0 * ldb
        var p = p0
        while p < p1 {
            let bv = load(bp)
            c0 += ap[0] * bv
            c1 += ap[aRow] * bv
            c2 += ap[2 * aRow] * bv
            c3 += ap[3 * aRow] * bv
            ap += aCol
            bp += ldb
            p += 1
        }
        store(c0, c, accumulate: accumulate)
        store(c1, c + ldc, accumulate: accumulate)
        store(c2, c + 2 * ldc, accumulate: accumulate)
        store(c3, c + 3 * ldc, accumulate: accumulate)
    }

    @inline(__always)
    private static func tile1x8<S: ModelScalar>(p0: Int, p1: Int, a: UnsafePointer<S>, aCol: Int,
                                                b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>,
                                                accumulate: Bool) {
        var c0 = SIMD8<S>()
        var ap = a + p0 * aCol, bp = b + p0 * ldb
        var p = p0
        while p < p1 {
            c0 += ap[0] * load(bp)
            ap += aCol
            bp += ldb
            p += 1
        }
        store(c0, c, accumulate: accumulate)
    }

    /// `dst[j * ldDst + i] = src[i * ldSrc + j]` for `i < rows`, `j < columns`.
    static func transpose<S: ModelScalar>(rows: Int, columns: Int, src: UnsafePointer<S>, ldSrc: Int,
                                          dst: UnsafeMutablePointer<S>, ldDst: Int) {
        for i in 0..<rows {
            let s = src + i * ldSrc
            for j in 0..<columns { dst[j * ldDst + i] = s[j] }
        }
    }
}

/// The transformer's matrix product, public for benchmarks and checks: what every dense layer
/// of ``Transformer`` runs.
public enum LanguageKernels {
    /// `C = A B` for row-major `Float` matrices: `a` is `m x k`, `b` is `k x n`, `c` is `m x n`
    /// (overwritten). Each entry sums its `k` products in ascending order without fused
    /// multiply-adds (see the kernel's documentation), so the bits do not depend on the build's
    /// instruction set.
    public static func multiply(m: Int, k: Int, n: Int, a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>,
                                c: UnsafeMutableBufferPointer<Float>) {
        precondition(m >= 0 && k >= 0 && n >= 0 && a.count >= m * k && b.count >= k * n && c.count >= m * n)
        guard m > 0 && n > 0 else { return }
        guard k > 0 else { c.update(repeating: 0); return }
        MatrixKernels.multiply(m: m, n: n, k: k, a: a.baseAddress!, aRow: k, aCol: 1, b: b.baseAddress!, ldb: n,
                               c: c.baseAddress!, ldc: n, accumulate: false)
    }
}
