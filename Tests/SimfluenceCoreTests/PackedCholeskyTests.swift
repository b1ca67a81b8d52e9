import Testing
@testable import SimfluenceCore

/// The dense Cholesky factorisation and solves (C kernels): checked against a textbook
/// factorisation and against the matrix itself, and for results that do not depend on how the
/// work is split (start row, threads, right-hand sides per solve).
@Suite struct PackedCholeskyTests {
    /// A random symmetric positive definite matrix, packed: G G^T / n + I, G n x n Gaussian.
    static func spd(_ n: Int, seed: UInt64) -> [Double] {
        var g = SeededGenerator(seed: seed)
        let gm = (0..<(n * n)).map { _ in g.nextGaussian() }
        var m = [Double](repeating: 0, count: PackedCholesky.packedCount(n))
        for i in 0..<n {
            for j in 0...i {
                var s = 0.0
                for k in 0..<n { s += gm[i * n + k] * gm[j * n + k] }
                m[PackedCholesky.rowStart(i) + j] = s / Double(n) + (i == j ? 1 : 0)
            }
        }
        return m
    }

    static func factored(_ m: [Double], n: Int, startRow: Int = 0, threads: Int = 1) -> ([Double], Int?) {
        var p = m
        let failed = p.withUnsafeMutableBufferPointer { PackedCholesky.factor($0.baseAddress!, n: n, startRow: startRow, threads: threads) }
        return (p, failed)
    }

    /// Sizes around the kernel's blocks of 4 and 8 columns and its panels of 32 rows.
    static let sizes = [1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 64, 65, 97, 130]

    @Test(arguments: sizes) func agreesWithTheTextbookFactorisation(n: Int) {
        let m = Self.spd(n, seed: UInt64(n))
        let (l, failed) = Self.factored(m, n: n)
        #expect(failed == nil)
        // Textbook column-by-column Cholesky, plain sums in index order.
        var t = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for j in 0..<n {
            var d = m[PackedCholesky.rowStart(j) + j]
            for k in 0..<j { d -= t[j][k] * t[j][k] }
            t[j][j] = d.squareRoot()
            for i in (j + 1)..<max(j + 1, n) {
                var s = m[PackedCholesky.rowStart(i) + j]
                for k in 0..<j { s -= t[i][k] * t[j][k] }
                t[i][j] = s / t[j][j]
            }
        }
        var worst = 0.0
        for i in 0..<n { for j in 0...i { worst = max(worst, abs(l[PackedCholesky.rowStart(i) + j] - t[i][j])) } }
        #expect(worst < 1e-12)
        // And L L^T is the matrix.
        var residual = 0.0
        for i in 0..<n {
            for j in 0...i {
                var s = 0.0
                for k in 0...j { s += l[PackedCholesky.rowStart(i) + k] * l[PackedCholesky.rowStart(j) + k] }
                residual = max(residual, abs(s - m[PackedCholesky.rowStart(i) + j]))
            }
        }
        #expect(residual < 1e-12)
    }

    /// Starting from rows already factored, or splitting each panel between threads, gives the
    /// same factor bit for bit.
    @Test func startRowsAndThreadsGiveTheSameBits() {
        let n = 300
        let m = Self.spd(n, seed: 42)
        let (whole, failed) = Self.factored(m, n: n)
        #expect(failed == nil)
        for start in [1, 5, 32, 33, 70, 129] {
            var p = m
            for i in 0..<start { for j in 0...i { p[PackedCholesky.rowStart(i) + j] = whole[PackedCholesky.rowStart(i) + j] } }
            let (rest, f) = Self.factored(p, n: n, startRow: start)
            #expect(f == nil)
            let same = rest == whole
            #expect(same, "start row \(start)")
            let (parallel, g) = Self.factored(p, n: n, startRow: start, threads: 2)
            #expect(g == nil)
            let sameInParallel = parallel == whole
            #expect(sameInParallel, "start row \(start), 2 threads")
        }
        for threads in [2, 3, 16] {
            let (p, f) = Self.factored(m, n: n, threads: threads)
            #expect(f == nil)
            let same = p == whole
            #expect(same, "\(threads) threads")
        }
    }

    /// A column that is a combination of earlier ones is reported at its index, with any threads.
    @Test func reportsTheFirstDependentColumn() {
        let n = 200, dependent = 150
        // Columns of a random 200 x 220 matrix, column 150 replaced by columns 3 + 2 x 77.
        var g = SeededGenerator(seed: 9)
        let rows = 220
        var x = (0..<(n * rows)).map { _ in g.nextGaussian() }
        for r in 0..<rows { x[dependent * rows + r] = x[3 * rows + r] + 2 * x[77 * rows + r] }
        var m = [Double](repeating: 0, count: PackedCholesky.packedCount(n))
        for i in 0..<n {
            for j in 0...i {
                var s = 0.0
                for r in 0..<rows { s += x[i * rows + r] * x[j * rows + r] }
                m[PackedCholesky.rowStart(i) + j] = s
            }
        }
        for threads in [1, 2] { #expect(Self.factored(m, n: n, threads: threads).1 == dependent) }
        var negative = Self.spd(40, seed: 1)
        negative[PackedCholesky.rowStart(9) + 9] = -1
        #expect(Self.factored(negative, n: 40).1 == 9)
    }

    /// Solving a block of right-hand sides gives each one's solution alone, bit for bit, and
    /// solves the system.
    @Test func blockSolvesMatchSingleSolves() {
        let n = 90
        let m = Self.spd(n, seed: 5)
        let (l, _) = Self.factored(m, n: n)
        var g = SeededGenerator(seed: 6)
        for count in [1, 2, 7, 8, 9, 11, 16] {
            let b = (0..<(n * count)).map { _ in g.nextGaussian() }
            var x = b
            l.withUnsafeBufferPointer { p in
                x.withUnsafeMutableBufferPointer { PackedCholesky.solve(p.baseAddress!, n: n, $0.baseAddress!, count: count) }
            }
            for c in 0..<count {
                var alone = (0..<n).map { b[$0 * count + c] }
                l.withUnsafeBufferPointer { p in alone.withUnsafeMutableBufferPointer { PackedCholesky.solve(p.baseAddress!, n: n, $0.baseAddress!) } }
                #expect((0..<n).allSatisfy { x[$0 * count + c] == alone[$0] }, "count \(count), column \(c)")
                var worst = 0.0
                for i in 0..<n {
                    var s = 0.0
                    for j in 0..<n { s += m[i >= j ? PackedCholesky.rowStart(i) + j : PackedCholesky.rowStart(j) + i] * alone[j] }
                    worst = max(worst, abs(s - b[i * count + c]))
                }
                #expect(worst < 1e-11)
            }
        }
    }
}
