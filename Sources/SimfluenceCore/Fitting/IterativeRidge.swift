#if canImport(Glibc)
import Glibc
#endif
import SimfluenceKernels

/// The iterative ridge solver for large active sets: conjugate gradients on the normal equations
/// (X^T X + lambda I) theta = X^T y, matrix-free through the sparse design, sixteen test examples
/// at a time (one per lane of a 16-double vector).
///
/// Why it is fast:
/// - The design's sparsity pattern is shared by every test example; only the A-column values
///   (the observed L_{t-1}) differ. So one pass over the pattern serves 16 test examples, and every
///   gathered value is one 128-byte vector (two adjacent cache lines) instead of a scalar: the
///   products are bound by the number of random memory accesses, which this divides by 16.
/// - X p needs only batch sums: row r gives u_r = sum_{i in c_r} n_i (p_B[i] + L_{t-1} p_A[i]),
///   and X^T u is a gather by example over its appearances (a column-oriented copy of the pattern),
///   so neither product scatters and no product allocates. The loops are the C kernels of
///   `SimfluenceKernels`, compiled for AVX-512, AVX2 and the baseline (picked at load time).
/// - Preconditioner: per example the exact inverse of its 2 x 2 diagonal block
///   [[sum n^2 + lambda, sum n^2 L], [sum n^2 L, sum n^2 L^2 + lambda]] (block Jacobi), which
///   takes care of the near-collinearity of an example's A and B columns when the loss is flat.
///   On underdetermined designs (fewer rows than unknowns) it slows CG down (measured on the
///   large benchmark workload), so there the identity is used (see ``preconditioned``).
/// - Everything that does not depend on lambda (the losses, X^T y, the diagonal blocks) is
///   computed once per block by ``prepare(tests:runs:testIDs:_:)``, so a lambda path
///   (cross-validation) pays only for the iterations.
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
    /// Stop when ||X^T y - (X^T X + lambda I) theta|| <= tolerance * ||X^T y|| (per test example).
    let tolerance: Double
    /// A lane whose true relative residual ends above this is restarted (up to 3 times).
    let acceptance: Double
    let maxIterations: Int
    /// Block-Jacobi preconditioning (true) or none: none when the design has fewer rows than
    /// unknowns per test example, where the 2 x 2 blocks describe the spectrum poorly.
    let preconditioned: Bool
    /// Every multiplicity is 1 (no id repeated within a batch): the products skip the multiplies.
    let unitCounts: Bool
    /// Column-oriented pattern: example i's appearances are colStart[i] ..< colStart[i + 1],
    /// in increasing row order.
    let colStart: [Int]
    let colRow: [Int32]
    let colCount: [Double]
    /// Row-oriented pattern as Int32 (the design's entries).
    let rowLocal: [Int32]

    init(design: RidgeDesign, form: RecurrenceForm, tolerance: Double, acceptance: Double? = nil,
         maxIterations: Int? = nil, preconditioned: Bool? = nil) {
        self.design = design
        self.form = form
        self.tolerance = tolerance
        self.acceptance = max(tolerance, acceptance ?? tolerance)
        self.unitCounts = design.entryCount.allSatisfy { $0 == 1 }
        let m = design.activeCount
        self.preconditioned = preconditioned ?? IterativeRidge.preconditions(design: design, form: form)
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

    /// Whether CG on `design` uses the block preconditioner by default: when the design has at
    /// least as many rows as unknowns per test example.
    static func preconditions(design: RidgeDesign, form: RecurrenceForm) -> Bool {
        design.rowCount >= (form == .linear ? 2 * design.activeCount : design.activeCount)
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
        /// Per example, B lanes then A lanes (2 vectors per example); `b` is X^T y.
        let x, r, p, q, b: UnsafeMutablePointer<Lanes>
        /// Per example: inverse 2 x 2 block (bb, ba, aa), and the lambda-free diagonal block sums.
        let pre, diagonal: UnsafeMutablePointer<Lanes>
        /// Per row: L_{t-1} (0 for additive), target y; u and L u interleaved (2 per row).
        let lp, y, ul: UnsafeMutablePointer<Lanes>
        let prev, cur: UnsafeMutablePointer<Double>
        /// Per-lane scalars of an iteration: step size (or beta), r.z, r.r.
        let scalars: UnsafeMutablePointer<Lanes>
        /// The prepared test columns (at most `width`; missing lanes repeat the first), and their ids.
        var tests: [Int] = []
        var names: [String] = []

        init(m: Int, rows: Int) {
            self.m = m
            self.rows = rows
            let n = max(1, 2 * m), rr = max(1, rows)
            x = Workspace.allocate(n); r = Workspace.allocate(n)
            p = Workspace.allocate(n); q = Workspace.allocate(n); b = Workspace.allocate(n)
            pre = Workspace.allocate(max(1, 3 * m)); diagonal = Workspace.allocate(max(1, 3 * m))
            lp = Workspace.allocate(rr); y = Workspace.allocate(rr)
            ul = Workspace.allocate(2 * rr)
            prev = .allocate(capacity: rr); cur = .allocate(capacity: rr)
            scalars = .allocate(capacity: 3)
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
            for v in [x, r, p, q, b, pre, diagonal, lp, y, ul] {
                #if canImport(Glibc)
                free(UnsafeMutableRawPointer(v))
                #else
                v.deallocate()
                #endif
            }
            prev.deallocate(); cur.deallocate(); scalars.deallocate()
        }
    }

    /// Solves the test columns `tests` (at most `width`) at `lambda` from zero and writes A and B
    /// rows of `outRows[k]` into `aOut`/`bOut` (rows of `trainCount` doubles, global training
    /// indices). Throws on non-finite losses or when a preconditioner block is singular.
    func solveBlock(tests: [Int], outRows: [Int], lambda: Double, runs: [TrainingRun], testIDs: [String],
                    aOut: UnsafeMutablePointer<Double>, bOut: UnsafeMutablePointer<Double>,
                    _ ws: Workspace) throws -> BlockResult {
        try prepare(tests: tests, runs: runs, testIDs: testIDs, ws)
        let result = try solve(lambda: lambda, ws)
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

    /// Loads the test columns `tests` (at most `width`; missing lanes repeat the first) into `ws`:
    /// their losses, X^T y, and the lambda-free parts of the diagonal blocks. Any number of
    /// ``solve(lambda:_:warmStart:)`` calls may follow.
    func prepare(tests: [Int], runs: [TrainingRun], testIDs: [String], _ ws: Workspace) throws {
        let W = IterativeRidge.width
        let m = design.activeCount, rows = design.rowCount
        precondition(tests.count >= 1 && tests.count <= W)
        ws.tests = tests
        ws.names = tests.map { testIDs[$0] }
        let usesA = form.usesA, usesB = form.usesB
        for k in 0..<W {
            let z = tests[k < tests.count ? k : 0]
            try design.gather(z: z, runs: runs, testIDs: testIDs, prev: ws.prev, cur: ws.cur)
            for row in 0..<rows {
                let lp = ws.prev[row], c = ws.cur[row]
                ws.lp[row][k] = usesA ? lp : 0
                ws.y[row][k] = form == .additive ? c - lp : c
            }
        }
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
                ws.b[2 * i] = usesB ? rb : Lanes()
                ws.b[2 * i + 1] = usesA ? ra : Lanes()
                ws.diagonal[3 * i] = dbb
                ws.diagonal[3 * i + 1] = usesA && usesB ? dba : Lanes()
                ws.diagonal[3 * i + 2] = daa
            }
        }}}
    }

    /// Solves the prepared block at `lambda` (> 0 unless every block is invertible), leaving the
    /// solution in `ws.x` (per active example: B lanes, then A lanes). With `warmStart`, `ws.x`
    /// must hold a starting point for the same tests (for example the solution at a neighbouring
    /// lambda); otherwise CG starts from zero.
    func solve(lambda: Double, _ ws: Workspace, warmStart: Bool = false) throws -> BlockResult {
        let W = IterativeRidge.width
        let m = design.activeCount
        let tests = ws.tests
        let lanes = tests.count
        let usesA = form.usesA, usesB = form.usesB
        let lambdaV = Lanes(repeating: lambda)
        var bNorm2 = Lanes()
        for i in 0..<m {
            let dbb = ws.diagonal[3 * i] + lambdaV, dba = ws.diagonal[3 * i + 1], daa = ws.diagonal[3 * i + 2] + lambdaV
            var ibb: Lanes, iba: Lanes, iaa: Lanes
            if !usesA {
                ibb = 1 / dbb; iba = Lanes(); iaa = Lanes()
            } else if !usesB {
                ibb = Lanes(); iba = Lanes(); iaa = 1 / daa
            } else {
                let det = dbb * daa - dba * dba
                ibb = daa / det; iba = -dba / det; iaa = dbb / det
            }
            for k in 0..<W where !(ibb[k].isFinite && iba[k].isFinite && iaa[k].isFinite)
                || (usesB && !(ibb[k] > 0 && dbb[k] > 0)) || (usesA && !(iaa[k] > 0 && daa[k] > 0)) {
                throw SimfluenceError.singularSystem(testID: ws.names[k < lanes ? k : 0], lambda: lambda)
            }
            if !preconditioned {
                ibb = Lanes(repeating: usesB ? 1 : 0); iba = Lanes(); iaa = Lanes(repeating: usesA ? 1 : 0)
            }
            ws.pre[3 * i] = ibb; ws.pre[3 * i + 1] = iba; ws.pre[3 * i + 2] = iaa
            bNorm2 += ws.b[2 * i] * ws.b[2 * i] + ws.b[2 * i + 1] * ws.b[2 * i + 1]
        }
        let target2 = (tolerance * tolerance) * bNorm2
        let accept2 = (acceptance * acceptance) * bNorm2
        if warmStart {
            for i in 0..<(2 * m) where !(ws.x[i] == ws.x[i]) { ws.x[i] = Lanes() }   // drop NaNs
        } else {
            ws.x.update(repeating: Lanes(), count: 2 * m)
        }
        var iterations = [Int](repeating: 0, count: W)
        var active = SIMDMask<Lanes.MaskStorage>(repeating: true)
        for k in 0..<W where bNorm2[k] == 0 { active[k] = false }
        var restarts = 0
        var total = 0
        var trueRes2 = Lanes()
        // r = b - (X^T X + lambda I) x.
        func residual() -> Lanes {
            apply(ws.x, into: ws.q, lambda: lambda, ws)
            var rr = Lanes()
            for i in 0..<(2 * m) {
                let d = ws.b[i] - ws.q[i]
                ws.r[i] = d
                rr += d * d
            }
            return rr
        }
        if warmStart { _ = residual() } else { ws.r.update(from: ws.b, count: 2 * m) }
        let scalars = ws.scalars, s = d(scalars)
        var keep = SIMD16<Int64>()
        while true {
            // (Re)start: r holds the residual; p = M^-1 r; rz = r . M^-1 r.
            ws.p.update(repeating: Lanes(), count: 2 * m)
            keep = SIMD16<Int64>(repeating: -1)
            scalars[0] = Lanes()
            withUnsafeBytes(of: &keep) { k in
                sf_cg_direction(m, s, k.baseAddress!.assumingMemoryBound(to: Int64.self), d(ws.r), d(ws.pre), d(ws.p))
            }
            var rz = Lanes(), rr = Lanes()
            for i in 0..<m {
                let a = ws.pre[3 * i], b = ws.pre[3 * i + 1], c = ws.pre[3 * i + 2]
                let rb = ws.r[2 * i], ra = ws.r[2 * i + 1]
                rz += rb * (a * rb + b * ra) + ra * (b * rb + c * ra)
                rr += rb * rb + ra * ra
            }
            active = active .& (rr .> target2)
            while any(active) && total < maxIterations {
                let pq = apply(ws.p, into: ws.q, lambda: lambda, ws, dot: true)
                scalars[0] = Lanes(repeating: 0).replacing(with: rz / pq, where: active)
                sf_cg_update(m, s, d(ws.x), d(ws.r), d(ws.p), d(ws.q), d(ws.pre), s + 16, s + 32)
                let rzNew = scalars[1], rrNew = scalars[2]
                for k in 0..<W where active[k] { iterations[k] += 1 }
                let stillActive = active .& (rrNew .> target2)
                scalars[0] = Lanes(repeating: 0).replacing(with: rzNew / rz, where: stillActive)
                keep = SIMD16<Int64>(repeating: 0).replacing(with: -1, where: stillActive)
                withUnsafeBytes(of: &keep) { k in
                    sf_cg_direction(m, s, k.baseAddress!.assumingMemoryBound(to: Int64.self), d(ws.r), d(ws.pre), d(ws.p))
                }
                rz = rzNew
                active = stillActive
                total += 1
            }
            // The true residual (the recursive one drifts slightly).
            trueRes2 = residual()
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

    /// out = (X^T X + lambda I) v; with `dot`, returns v . out per lane (else zero).
    @discardableResult
    private func apply(_ v: UnsafeMutablePointer<Lanes>, into out: UnsafeMutablePointer<Lanes>, lambda: Double,
                       _ ws: Workspace, dot: Bool = false) -> Lanes {
        var result = Lanes()
        design.entryStart.withUnsafeBufferPointer { es in
        rowLocal.withUnsafeBufferPointer { el in
        design.entryCount.withUnsafeBufferPointer { ec in
            sf_ridge_rows(design.rowCount, es.baseAddress, el.baseAddress, unitCounts ? nil : ec.baseAddress,
                          d(v), d(ws.lp), d(ws.ul))
        }}}
        colStart.withUnsafeBufferPointer { cs in
        colRow.withUnsafeBufferPointer { cr in
        colCount.withUnsafeBufferPointer { cc in
            withUnsafeMutablePointer(to: &result) { rp in
                sf_ridge_columns(design.activeCount, cs.baseAddress, cr.baseAddress, unitCounts ? nil : cc.baseAddress,
                                 d(ws.ul), d(v), lambda, form.usesA ? 1 : 0, form.usesB ? 1 : 0, d(out),
                                 dot ? UnsafeMutableRawPointer(rp).assumingMemoryBound(to: Double.self) : nil)
            }
        }}}
        return result
    }
}

/// A lane array as the kernels' double pointer.
@inline(__always)
private func d(_ p: UnsafeMutablePointer<SIMD16<Double>>) -> UnsafeMutablePointer<Double> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self)
}
