#if canImport(Glibc)
import Glibc
#endif

/// The iterative ridge solver for large active sets: preconditioned conjugate gradients on the
/// normal equations (X^T X + lambda I) theta = X^T y, matrix-free through the sparse design,
/// sixteen test examples at a time in the lanes of a SIMD vector.
///
/// Why it is fast:
/// - The design's sparsity pattern is shared by every test example; only the A-column values
///   (the observed L_{t-1}) differ. So one pass over the pattern serves 16 test examples, and every
///   gathered value is one 128-byte vector (two adjacent cache lines) instead of a scalar: the
///   products are bound by the number of random memory accesses, which this divides by 16.
/// - X p needs only batch sums: row r gives u_r = sum_{i in c_r} n_i (p_B[i] + L_{t-1} p_A[i]),
///   and X^T u is a gather by example over its appearances (a column-oriented copy of the pattern),
///   so neither product scatters and no product allocates.
/// - Preconditioner: per example the exact inverse of its 2 x 2 diagonal block
///   [[sum n^2 + lambda, sum n^2 L], [sum n^2 L, sum n^2 L^2 + lambda]] (block Jacobi), which
///   takes care of the near-collinearity of an example's A and B columns when the loss is flat.
///
/// Determinism: every lane runs its own CG (its own step sizes, its own stopping test) with
/// lane-wise arithmetic, and a converged lane is frozen, so a test example's result does not
/// depend on which other test examples share its vector, on the thread count or on the order of
/// work. Dot products sum over examples in index order.
///
/// The additive and multiplicative forms reuse the same kernels with the unused half pinned at
/// zero (its preconditioner block is zero, so it never moves).
struct IterativeRidge: @unchecked Sendable {
    typealias Lanes = SIMD16<Double>
    static let width = 16
    /// SIMFLUENCE_CG_TRACE=1 prints every block's iterations (diagnostics only).
    static let trace: Bool = {
        #if canImport(Glibc)
        return getenv("SIMFLUENCE_CG_TRACE") != nil
        #else
        return false
        #endif
    }()

    let design: RidgeDesign
    let form: RecurrenceForm
    let lambda: Double
    /// Stop when ||X^T y - (X^T X + lambda I) theta|| <= tolerance * ||X^T y|| (per test example).
    let tolerance: Double
    /// A lane whose true relative residual ends above this is restarted (up to 3 times).
    let acceptance: Double
    let maxIterations: Int
    /// Every multiplicity is 1 (no id repeated within a batch): the products skip the multiplies.
    let unitCounts: Bool
    /// Column-oriented pattern: example i's appearances are colStart[i] ..< colStart[i + 1],
    /// in increasing row order.
    let colStart: [Int]
    let colRow: [Int32]
    let colCount: [Double]
    /// Row-oriented pattern as Int32 (the design's entries).
    let rowLocal: [Int32]

    init(design: RidgeDesign, form: RecurrenceForm, lambda: Double, tolerance: Double, acceptance: Double? = nil,
         maxIterations: Int? = nil) {
        self.design = design
        self.form = form
        self.lambda = lambda
        self.tolerance = tolerance
        self.acceptance = max(tolerance, acceptance ?? tolerance)
        self.unitCounts = design.entryCount.allSatisfy { $0 == 1 }
        let m = design.activeCount
        self.maxIterations = maxIterations ?? max(100, min(20 * m, 5000))
        var start = [Int](repeating: 0, count: m + 1)
        for l in design.entryLocal { start[l + 1] += 1 }
        for i in 0..<m { start[i + 1] += start[i] }
        var fill = start
        var row = [Int32](repeating: 0, count: design.entryLocal.count)
        var count = [Double](repeating: 0, count: design.entryLocal.count)
        for r in 0..<design.rowCount {
            for e in design.entryStart[r]..<design.entryStart[r + 1] {
                let l = design.entryLocal[e]
                row[fill[l]] = Int32(r)
                count[fill[l]] = design.entryCount[e]
                fill[l] += 1
            }
        }
        self.colStart = start
        self.colRow = row
        self.colCount = count
        self.rowLocal = design.entryLocal.map { Int32($0) }
    }

    /// Outcome of one block of test examples.
    struct BlockResult {
        /// Iterations used per lane, and the final true relative residual per lane.
        var iterations: [Int]
        var residuals: [Double]
    }

    /// Per-thread scratch space.
    final class Workspace {
        let m: Int, rows: Int
        /// Per example, B lanes then A lanes (2 vectors per example).
        let x, r, p, q: UnsafeMutablePointer<Lanes>
        /// Per example: inverse 2 x 2 block (bb, ba, aa).
        let pre: UnsafeMutablePointer<Lanes>
        /// Per row: L_{t-1} (0 for additive), target y; u and L u interleaved (2 per row).
        let lp, y, ul: UnsafeMutablePointer<Lanes>
        let prev, cur: UnsafeMutablePointer<Double>

        init(m: Int, rows: Int) {
            self.m = m
            self.rows = rows
            let n = max(1, 2 * m), rr = max(1, rows)
            x = Workspace.allocate(n); r = Workspace.allocate(n)
            p = Workspace.allocate(n); q = Workspace.allocate(n)
            pre = Workspace.allocate(max(1, 3 * m))
            lp = Workspace.allocate(rr); y = Workspace.allocate(rr)
            ul = Workspace.allocate(2 * rr)
            prev = .allocate(capacity: rr); cur = .allocate(capacity: rr)
        }

        /// Vectors are read at random positions (a gather per batch member), so on Linux they
        /// are 2 MB aligned and marked for transparent huge pages: with 4 KB pages nearly every
        /// access of a large problem would also miss the TLB.
        static func allocate(_ count: Int) -> UnsafeMutablePointer<Lanes> {
            let bytes = count * MemoryLayout<Lanes>.stride
            #if canImport(Glibc)
            let huge = 1 << 21
            let size = (bytes + huge - 1) & ~(huge - 1)
            var raw: UnsafeMutableRawPointer? = nil
            if posix_memalign(&raw, bytes >= huge ? huge : 64, size) == 0, let raw {
                if bytes >= huge { _ = madvise(raw, size, 14 /* MADV_HUGEPAGE */) }
                return raw.bindMemory(to: Lanes.self, capacity: count)
            }
            #endif
            return .allocate(capacity: count)
        }

        deinit {
            for v in [x, r, p, q, pre, lp, y, ul] {
                #if canImport(Glibc)
                free(UnsafeMutableRawPointer(v))
                #else
                v.deallocate()
                #endif
            }
            prev.deallocate(); cur.deallocate()
        }
    }

    /// Solves the test columns `tests` (at most `width`; missing lanes repeat the first test and
    /// are discarded) and writes A and B rows of `outRows[k]` into `aOut`/`bOut` (rows of
    /// `trainCount` doubles, global training indices). Throws on non-finite losses or when a
    /// preconditioner block is singular (lambda = 0 with an unidentified pair).
    func solveBlock(tests: [Int], outRows: [Int], runs: [TrainingRun], testIDs: [String],
                    aOut: UnsafeMutablePointer<Double>, bOut: UnsafeMutablePointer<Double>,
                    _ ws: Workspace) throws -> BlockResult {
        let result = try solve(tests: tests, runs: runs, testIDs: testIDs, ws)
        let lanes = tests.count
        let usesA = form.usesA, usesB = form.usesB
        let trainCount = design.trainCount
        for k in 0..<lanes {
            let aRow = aOut + outRows[k] * trainCount, bRow = bOut + outRows[k] * trainCount
            for (l, g) in design.active.enumerated() {
                if usesA { aRow[g] = ws.x[2 * l + 1][k] }
                if usesB { bRow[g] = ws.x[2 * l][k] }
                guard ws.x[2 * l][k].isFinite && ws.x[2 * l + 1][k].isFinite else {
                    throw SimfluenceError.singularSystem(testID: testIDs[tests[k]], lambda: lambda)
                }
            }
        }
        return result
    }

    /// Solves the test columns `tests` (at most `width`; missing lanes repeat the first test),
    /// leaving the solution in `ws.x` (per active example: B lanes, then A lanes).
    /// With `warmStart`, `ws.x` must hold a starting point for the same tests (for example the
    /// solution at a neighbouring lambda); otherwise CG starts from zero.
    func solve(tests: [Int], runs: [TrainingRun], testIDs: [String], _ ws: Workspace,
               warmStart: Bool = false) throws -> BlockResult {
        let W = IterativeRidge.width
        let m = design.activeCount, rows = design.rowCount
        let lanes = tests.count
        precondition(lanes >= 1 && lanes <= W)
        let usesA = form.usesA, usesB = form.usesB
        // Gather the losses of every lane, row by row.
        for k in 0..<W {
            let z = tests[k < lanes ? k : 0]
            try design.gather(z: z, runs: runs, testIDs: testIDs, prev: ws.prev, cur: ws.cur)
            for row in 0..<rows {
                let lp = ws.prev[row], c = ws.cur[row]
                ws.lp[row][k] = usesA ? lp : 0
                ws.y[row][k] = form == .additive ? c - lp : c
            }
        }
        let lambdaV = Lanes(repeating: lambda)
        // Right-hand side b = X^T y into r, preconditioner blocks, and ||b||.
        var bNorm2 = Lanes()
        colStart.withUnsafeBufferPointer { cs in
        colRow.withUnsafeBufferPointer { cr in
        colCount.withUnsafeBufferPointer { cc in
            for i in 0..<m {
                var rb = Lanes(), ra = Lanes(), dbb = Lanes(), dba = Lanes(), daa = Lanes()
                for e in cs[i]..<cs[i + 1] {
                    let row = Int(cr[e]), n = cc[e]
                    let l = ws.lp[row], yy = ws.y[row]
                    rb += n * yy
                    ra += (n * l) * yy
                    let n2 = n * n
                    dbb += Lanes(repeating: n2)
                    dba += n2 * l
                    daa += (n2 * l) * l
                }
                if !usesB { rb = Lanes(); dba = Lanes() }
                if !usesA { ra = Lanes(); dba = Lanes() }
                dbb += lambdaV
                daa += lambdaV
                let det = dbb * daa - dba * dba
                var ibb = daa / det, iba = -dba / det, iaa = dbb / det
                if !usesA { ibb = 1 / dbb; iba = Lanes(); iaa = Lanes() }
                if !usesB { iaa = 1 / daa; iba = Lanes(); ibb = Lanes() }
                ws.pre[3 * i] = ibb; ws.pre[3 * i + 1] = iba; ws.pre[3 * i + 2] = iaa
                ws.r[2 * i] = rb; ws.r[2 * i + 1] = ra
                bNorm2 += rb * rb + ra * ra
            }
        }}}
        for i in 0..<m {
            let a = ws.pre[3 * i], b = ws.pre[3 * i + 1], c = ws.pre[3 * i + 2]
            for k in 0..<W where !(a[k].isFinite && b[k].isFinite && c[k].isFinite) || (usesB && a[k] <= 0) || (usesA && c[k] <= 0) {
                throw SimfluenceError.singularSystem(testID: testIDs[tests[k < lanes ? k : 0]], lambda: lambda)
            }
        }
        let target2 = (tolerance * tolerance) * bNorm2
        let accept2 = (acceptance * acceptance) * bNorm2
        if warmStart {
            for i in 0..<(2 * m) where !(ws.x[i] == ws.x[i]) { ws.x[i] = Lanes() }   // drop NaNs
            apply(ws.x, into: ws.q, ws)
            for i in 0..<(2 * m) { ws.r[i] -= ws.q[i] }
        } else {
            ws.x.update(repeating: Lanes(), count: 2 * m)
        }
        var iterations = [Int](repeating: 0, count: W)
        var active = SIMDMask<Lanes.MaskStorage>(repeating: true)
        for k in 0..<W where bNorm2[k] == 0 { active[k] = false }
        var restarts = 0
        var total = 0
        var trueRes2 = Lanes()
        while true {
            // (Re)start: r holds the residual; p = M^-1 r.
            var rz = Lanes()
            for i in 0..<m {
                let (zb, za) = preconditioned(i, ws)
                let rb = ws.r[2 * i], ra = ws.r[2 * i + 1]
                ws.p[2 * i] = zb; ws.p[2 * i + 1] = za
                rz += rb * zb + ra * za
            }
            var rr = Lanes()
            for i in 0..<(2 * m) { rr += ws.r[i] * ws.r[i] }
            active = active .& (rr .> target2)
            while any(active) && total < maxIterations {
                apply(ws.p, into: ws.q, ws)
                var pq = Lanes()
                for i in 0..<(2 * m) { pq += ws.p[i] * ws.q[i] }
                let alpha = Lanes(repeating: 0).replacing(with: rz / pq, where: active)
                var rzNew = Lanes(), rrNew = Lanes()
                for i in 0..<m {
                    let xb = ws.x[2 * i] + alpha * ws.p[2 * i]
                    let xa = ws.x[2 * i + 1] + alpha * ws.p[2 * i + 1]
                    ws.x[2 * i] = xb; ws.x[2 * i + 1] = xa
                    let rb = ws.r[2 * i] - alpha * ws.q[2 * i]
                    let ra = ws.r[2 * i + 1] - alpha * ws.q[2 * i + 1]
                    ws.r[2 * i] = rb; ws.r[2 * i + 1] = ra
                    let (zb, za) = preconditioned(i, ws)
                    rzNew += rb * zb + ra * za
                    rrNew += rb * rb + ra * ra
                }
                for k in 0..<W where active[k] { iterations[k] += 1 }
                let stillActive = active .& (rrNew .> target2)
                let beta = Lanes(repeating: 0).replacing(with: rzNew / rz, where: stillActive)
                for i in 0..<m {
                    let (zb, za) = preconditioned(i, ws)
                    // A frozen lane gets p = 0 so it contributes nothing further.
                    let pb = Lanes(repeating: 0).replacing(with: zb + beta * ws.p[2 * i], where: stillActive)
                    let pa = Lanes(repeating: 0).replacing(with: za + beta * ws.p[2 * i + 1], where: stillActive)
                    ws.p[2 * i] = pb; ws.p[2 * i + 1] = pa
                }
                rz = rzNew
                active = stillActive
                total += 1
            }
            // The true residual b - (X^T X + lambda I) x (the recursive one drifts slightly).
            apply(ws.x, into: ws.q, ws)
            trueRes2 = Lanes()
            try rhs(into: ws.p, ws)
            for i in 0..<(2 * m) {
                let d = ws.p[i] - ws.q[i]
                ws.r[i] = d
                trueRes2 += d * d
            }
            active = SIMDMask(repeating: true) .& (trueRes2 .> accept2) .& (bNorm2 .> 0)
            if !any(active) || total >= maxIterations || restarts >= 3 { break }
            restarts += 1
        }
        var residuals = [Double](repeating: 0, count: lanes)
        for k in 0..<lanes { residuals[k] = bNorm2[k] > 0 ? (trueRes2[k] / bNorm2[k]).squareRoot() : 0 }
        if IterativeRidge.trace {
            print("cg lambda=\(lambda) tests=\(tests.first ?? 0)... iterations=\(iterations.prefix(lanes)) restarts=\(restarts) residual=\(residuals.max() ?? 0)")
        }
        return BlockResult(iterations: Array(iterations.prefix(lanes)), residuals: residuals)
    }

    @inline(__always)
    private func preconditioned(_ i: Int, _ ws: Workspace) -> (Lanes, Lanes) {
        let a = ws.pre[3 * i], b = ws.pre[3 * i + 1], c = ws.pre[3 * i + 2]
        let rb = ws.r[2 * i], ra = ws.r[2 * i + 1]
        return (a * rb + b * ra, b * rb + c * ra)
    }

    /// b = X^T y (recomputed; cheap compared with a product).
    private func rhs(into out: UnsafeMutablePointer<Lanes>, _ ws: Workspace) throws {
        let m = design.activeCount
        let usesA = form.usesA, usesB = form.usesB
        colStart.withUnsafeBufferPointer { cs in
        colRow.withUnsafeBufferPointer { cr in
        colCount.withUnsafeBufferPointer { cc in
            for i in 0..<m {
                var rb = Lanes(), ra = Lanes()
                for e in cs[i]..<cs[i + 1] {
                    let row = Int(cr[e]), n = cc[e]
                    let yy = ws.y[row]
                    rb += n * yy
                    ra += (n * ws.lp[row]) * yy
                }
                out[2 * i] = usesB ? rb : Lanes()
                out[2 * i + 1] = usesA ? ra : Lanes()
            }
        }}}
    }

    /// out = (X^T X + lambda I) v.
    private func apply(_ v: UnsafeMutablePointer<Lanes>, into out: UnsafeMutablePointer<Lanes>, _ ws: Workspace) {
        let m = design.activeCount, rows = design.rowCount
        let lambdaV = Lanes(repeating: lambda)
        let usesA = form.usesA, usesB = form.usesB
        let ul = ws.ul, lp = ws.lp
        let unit = unitCounts
        design.entryStart.withUnsafeBufferPointer { es in
        rowLocal.withUnsafeBufferPointer { el in
        design.entryCount.withUnsafeBufferPointer { ec in
            for row in 0..<rows {
                var sb = Lanes(), sa = Lanes()
                if unit {
                    for e in es[row]..<es[row + 1] {
                        let i = Int(el[e])
                        sb += v[2 * i]
                        sa += v[2 * i + 1]
                    }
                } else {
                    for e in es[row]..<es[row + 1] {
                        let i = Int(el[e]), n = ec[e]
                        sb += n * v[2 * i]
                        sa += n * v[2 * i + 1]
                    }
                }
                let l = lp[row]
                let u = sb + l * sa
                ul[2 * row] = u
                ul[2 * row + 1] = l * u
            }
        }}}
        colStart.withUnsafeBufferPointer { cs in
        colRow.withUnsafeBufferPointer { cr in
        colCount.withUnsafeBufferPointer { cc in
            for i in 0..<m {
                var qb = Lanes(), qa = Lanes()
                if unit {
                    for e in cs[i]..<cs[i + 1] {
                        let row = Int(cr[e])
                        qb += ul[2 * row]
                        qa += ul[2 * row + 1]
                    }
                } else {
                    for e in cs[i]..<cs[i + 1] {
                        let row = Int(cr[e]), n = cc[e]
                        qb += n * ul[2 * row]
                        qa += n * ul[2 * row + 1]
                    }
                }
                out[2 * i] = usesB ? qb + lambdaV * v[2 * i] : Lanes()
                out[2 * i + 1] = usesA ? qa + lambdaV * v[2 * i + 1] : Lanes()
            }
        }}}
    }
}
