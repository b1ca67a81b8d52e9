import Testing
@testable import SimfluenceCore

/// RidgeFit against the normal equations built the slow, obvious way.
@Suite struct FittingClosedFormTests {
    /// Solves M x = v by Gaussian elimination with partial pivoting (M square, dense).
    static func gaussianSolve(_ m: [[Double]], _ v: [Double]) -> [Double] {
        var a = m, b = v
        let n = b.count
        for col in 0..<n {
            var piv = col
            for r in col..<n where abs(a[r][col]) > abs(a[piv][col]) { piv = r }
            a.swapAt(col, piv); b.swapAt(col, piv)
            for r in (col + 1)..<max(col + 1, n) {
                let f = a[r][col] / a[col][col]
                if f == 0 { continue }
                for c in col..<n { a[r][c] -= f * a[col][c] }
                b[r] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = b[r]
            for c in (r + 1)..<max(r + 1, n) { s -= a[r][c] * x[c] }
            x[r] = s / a[r][r]
        }
        return x
    }

    /// Reference parameters of test column z: (A over the whole pool, B over the whole pool),
    /// from the explicit design matrix X with one column per pool example and parameter kind.
    static func reference(log: TrainingLog, runs: [TrainingRun], form: RecurrenceForm, lambda: Double, z: Int) -> ([Double], [Double]) {
        let p = log.trainIDs.count
        let kinds = (form.usesA ? 1 : 0) + (form.usesB ? 1 : 0)
        let n = kinds * p
        var x: [[Double]] = [], y: [Double] = []
        for run in runs {
            for r in 1..<run.losses.rows {
                let t = run.firstLossStep + r
                let prev = run.losses[r - 1, z], cur = run.losses[r, z]
                var row = [Double](repeating: 0, count: n)
                for i in run.batches[t - 1] {
                    switch form {
                    case .linear: row[i] += prev; row[p + i] += 1
                    case .multiplicative: row[i] += prev
                    case .additive: row[i] += 1
                    }
                }
                x.append(row)
                y.append(form == .additive ? cur - prev : cur)
            }
        }
        var m = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        var v = [Double](repeating: 0, count: n)
        for (row, target) in zip(x, y) {
            for i in 0..<n where row[i] != 0 {
                v[i] += row[i] * target
                for j in 0..<n { m[i][j] += row[i] * row[j] }
            }
        }
        for i in 0..<n { m[i][i] += lambda }
        let theta = gaussianSolve(m, v)
        switch form {
        case .linear: return (Array(theta[0..<p]), Array(theta[p...]))
        case .multiplicative: return (theta, [Double](repeating: 0, count: p))
        case .additive: return ([Double](repeating: 0, count: p), theta)
        }
    }

    @Test(arguments: RecurrenceForm.allCases)
    func matchesDenseNormalEquations(form: RecurrenceForm) throws {
        for seed in 1...6 as ClosedRange<UInt64> {
            var g = SeededGenerator(seed: seed)
            // Pool 7, but only 0..<6 ever used: example 6 must come out 0 (and the dense reference,
            // whose column for it is all zeros, agrees because lambda > 0).
            let log = FittingFixtures.randomLog(&g, pool: 7, usedPool: 6, tests: 3, runs: 4, steps: 9, batch: 2...3)
            for lambda in [0.05, 1.0, 20.0] {
                let fit = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: lambda, threads: 2)
                for z in 0..<3 {
                    let (ra, rb) = Self.reference(log: log, runs: log.runs, form: form, lambda: lambda, z: z)
                    let scale = (ra + rb).map(abs).max()!
                    var worst = 0.0
                    for i in 0..<7 {
                        worst = max(worst, abs(fit.a[z, i] - ra[i]), abs(fit.b[z, i] - rb[i]))
                    }
                    #expect(worst <= 1e-8 * scale, "seed \(seed) lambda \(lambda) z \(z): error \(worst) vs scale \(scale)")
                }
                #expect(fit.seen == [true, true, true, true, true, true, false])
                #expect(fit.a.row(0)[6] == 0 && fit.b.row(0)[6] == 0)
                #expect(fit.method.name == form.rawValue && fit.lambda == lambda && fit.fittedOn == log.runs.map(\.name))
            }
        }
    }

    @Test func largerProblemMatchesReference() throws {
        // Big enough (m = 24, n = 48 for linear) for the blocked 2 x 4 kernel to do most of the work.
        var g = SeededGenerator(seed: 99)
        let log = FittingFixtures.randomLog(&g, pool: 24, usedPool: 24, tests: 2, runs: 6, steps: 30, batch: 2...4)
        for form in RecurrenceForm.allCases {
            let fit = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.5)
            for z in 0..<2 {
                let (ra, rb) = Self.reference(log: log, runs: log.runs, form: form, lambda: 0.5, z: z)
                let scale = (ra + rb).map(abs).max()!
                for i in 0..<24 {
                    #expect(abs(fit.a[z, i] - ra[i]) <= 1e-8 * scale)
                    #expect(abs(fit.b[z, i] - rb[i]) <= 1e-8 * scale)
                }
            }
        }
    }

    @Test func testSubsetSelectsRowsInOrder() throws {
        var g = SeededGenerator(seed: 5)
        let log = FittingFixtures.randomLog(&g, pool: 6, usedPool: 6, tests: 4, runs: 3, steps: 10, batch: 2...3)
        let all = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.3)
        let some = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.3, method: .linear, tests: [3, 1])
        #expect(some.testIDs == ["z3", "z1"])
        #expect(some.method == .linear)
        #expect(some.a.row(0) == all.a.row(3) && some.a.row(1) == all.a.row(1))
        #expect(some.b.row(0) == all.b.row(3) && some.b.row(1) == all.b.row(1))
    }
}
