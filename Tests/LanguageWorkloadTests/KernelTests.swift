import Testing
@testable import LanguageWorkload
import SimfluenceCore

@Suite struct KernelTests {
    /// The vector kernel (release builds) and the scalar reference kernel (debug builds) give
    /// the same bits for every shape, stride and triangular restriction the model uses, including
    /// leftover rows and columns; both match a plain triple loop in Double to rounding.
    @Test(arguments: [ProductShape.full, .innerThroughRow, .innerFromRow, .columnsThroughRow])
    func vectorAndReferenceKernelsAgreeBitForBit(shape: ProductShape) {
        var rng = SeededGenerator(seed: 11)
        for (m, n, k) in [(1, 1, 1), (4, 8, 3), (7, 13, 7), (9, 16, 9), (13, 21, 13), (5, 8, 0), (6, 8, 6), (17, 24, 17), (22, 9, 22)] {
            for transposedA in [false, true] {
                for accumulate in [false, true] {
                    var a = (0..<(m * max(k, m))).map { _ in Float(rng.nextGaussian()) }
                    let (aRow, aCol) = transposedA ? (1, m) : (max(k, m), 1)
                    // The triangular shapes promise zeros in A just outside the triangle (within
                    // tileRows - 1 of the diagonal); anything further out must never be read.
                    for i in 0..<m {
                        for p in 0..<k where (shape == .innerThroughRow && p > i) || (shape == .innerFromRow && p < i) {
                            a[i * aRow + p * aCol] = abs(p - i) < MatrixKernels.tileRows ? 0 : .nan
                        }
                    }
                    let b = (0..<(max(k, 1) * (n + 2))).map { _ in Float(rng.nextGaussian()) }
                    let c0 = (0..<(m * (n + 1))).map { _ in Float(rng.nextGaussian()) }
                    var vector = c0, reference = c0
                    MatrixKernels.multiplyVector(m: m, n: n, k: k, a: a, aRow: aRow, aCol: aCol, b: b, ldb: n + 2,
                                                 c: &vector, ldc: n + 1, accumulate: accumulate, shape: shape)
                    MatrixKernels.multiplyReference(m: m, n: n, k: k, a: a, aRow: aRow, aCol: aCol, b: b, ldb: n + 2,
                                                    c: &reference, ldc: n + 1, accumulate: accumulate, shape: shape)
                    for i in 0..<m {
                        for j in 0..<(n + 1) {
                            let needed = j < n && (shape != .columnsThroughRow || j <= i)
                            let idx = i * (n + 1) + j
                            if needed {
                                #expect(vector[idx] == reference[idx], "m \(m) n \(n) k \(k) at \(i), \(j)")
                                var exact = accumulate ? Double(c0[idx]) : 0
                                var p0 = 0, p1 = k
                                if shape == .innerThroughRow { p1 = min(k, i + 1) }
                                if shape == .innerFromRow { p0 = i }
                                if p0 < p1 { for p in p0..<p1 { exact += Double(a[i * aRow + p * aCol]) * Double(b[p * (n + 2) + j]) } }
                                #expect(abs(Double(reference[idx]) - exact) < 1e-5 * Double(max(k, 1)))
                            } else if j == n {
                                #expect(vector[idx] == c0[idx] && reference[idx] == c0[idx], "column past n written")
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func debugBuildsUseTheReferenceKernel() {
        #if DEBUG
        #expect(!MatrixKernels.usesVectorKernel)
        #else
        #expect(MatrixKernels.usesVectorKernel)
        #endif
    }

    /// The Float exponential: within 2 ulp of the exact value on the range softmaxes use,
    /// clamped (never 0 or infinite) outside it; the buffer form gives the scalar form's bits.
    @Test func floatExponentialIsAccurateAndItsFormsAgree() {
        var rng = SeededGenerator(seed: 12)
        var xs: [Float] = (0..<4000).map { _ in Float(rng.nextUniform() * 180 - 95) }
        xs += [0, -0.0, 1, -1, 88, -87, 100, -200, 0.34657359, -0.34657359, 1e-8]
        var applied = xs
        FloatExp.apply(&applied, count: applied.count)
        #expect(applied == xs.map(FloatExp.scalar))
        for x in xs {
            let y = FloatExp.scalar(x)
            let exact = Double.exp(Double(min(max(x, -87), 88)))
            #expect(abs(Double(y) - exact) <= 2 * Double(Float(exact).ulp), "exp(\(x)) = \(y), exact \(exact)")
            #expect(y > 0 && y.isFinite)
        }
        var buffer: [Float] = [0, 1, -2, 3, 0.5, -0.25, 4, -5, 6, 7, -8]
        let expected = buffer.map(FloatExp.scalar)
        Float.exponentiate(&buffer, count: buffer.count)
        #expect(buffer == expected)
    }
}
