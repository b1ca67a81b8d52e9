#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import SimfluenceKernels

/// The iterative ridge solver for large active sets: conjugate gradients on the normal equations
/// (X^T X + lambda I) theta = X^T y, matrix-free through the sparse design, eight test examples
/// at a time (one per lane of an 8-double vector, `SF_LANES` of the kernels).
///
/// Why it is fast:
/// - The design's sparsity pattern is shared by every test example; only the A-column values
///   (the observed L_{t-1}) differ. So one pass over the pattern serves 8 test examples, and every
///   gather reads one 128-byte record (the B and A lane vectors of an example, or u and L u of a
///   row) instead of a scalar: the products are bound by random memory accesses, which this
///   divides by 8. Eight rather than sixteen keeps the gathered vectors in the last-level cache
///   for 100,000 active examples (see `SF_LANES`).
/// - Mixed precision on large active sets (``usesMixedPrecision(design:tolerance:)``): the
///   passes gather float copies (64-byte records) and sum in double; convergence is judged on
///   residuals recomputed in double, and later restarts run entirely in double.
/// - X p needs only batch sums: row r gives u_r = sum_{i in c_r} n_i (p_B[i] + L_{t-1} p_A[i]),
///   and X^T u is a gather by example over its appearances (a column-oriented copy of the pattern),
///   so neither product scatters and no product allocates. The loops are the C kernels of
///   `SimfluenceKernels`, compiled for AVX-512, AVX2 and the baseline (picked at load time).
/// - Preconditioner: per example the exact inverse of its 2 x 2 diagonal block
///   [[sum n^2 + lambda, sum n^2 L], [sum n^2 L, sum n^2 L^2 + lambda]] (block Jacobi), which
///   takes care of the near-collinearity of an example's A and B columns when the loss is flat.
///   On clearly underdetermined designs (fewer than 3 rows per 4 unknowns) it slows CG down
///   (measured on the large benchmark workload), so there the identity is used (see
///   ``preconditions(rows:unknowns:)``).
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
/// zero (its right-hand side and its half of every product are zero, and so is its
/// preconditioner block, so it never moves).
///
/// Diagnostics: the core does no I/O; a solver reports every block's iterations to its
/// ``traceSink``, if any (by default the process-wide ``IterativeRidge/trace`` hook, nil unless set).
public struct IterativeRidge: @unchecked Sendable {
    typealias Lanes = SIMD8<Double>
    static let width = Int(SF_LANES)

    /// Receives one line per solved block (lambda, iterations per lane, restarts, largest
    /// relative residual) from every solver created while it is set; nil (the default) reports
    /// nothing. Diagnostics only: the command-line tool sets it when SIMFLUENCE_CG_TRACE is set.
    /// Set it before fitting starts (solvers read it once, when they are created); it may be
    /// called from several threads at once.
    public static var trace: (@Sendable (String) -> Void)? {
        get { traceHook.value }
        set { traceHook.value = newValue }
    }
    private static let traceHook = TraceHook()

    /// Where this solver reports each block (see ``IterativeRidge/trace``), or nil.
    let traceSink: (@Sendable (String) -> Void)?

    let design: RidgeDesign
    let form: RecurrenceForm
    /// Stop when ||X^T y - (X^T X + lambda I) theta|| <= tolerance * ||X^T y|| (per test example).
    let tolerance: Double
    /// A lane whose true relative residual ends above this is restarted (up to 3 times; in mixed
    /// precision the second and third restarts run in double).
    let acceptance: Double
    let maxIterations: Int
    /// Block-Jacobi preconditioning (true) or none: none when the design has fewer than 3 rows per
    /// 4 unknowns per test example, where the 2 x 2 blocks describe the spectrum poorly.
    let preconditioned: Bool
    /// Mixed precision: the products inside CG gather single-precision copies of the direction and
    /// of the row sums (half the bytes per random access; the passes are bound by those), while
    /// every vector, sum and dot product stays double and every residual that decides convergence
    /// is recomputed in double. See ``usesMixedPrecision(design:tolerance:)``.
    let mixedPrecision: Bool
    /// Every multiplicity is 1 (no id repeated within a batch): the products skip the multiplies.
    let unitCounts: Bool
    /// Column-oriented pattern: example i's appearances are colStart[i] ..< colStart[i + 1],
    /// in increasing row order.
    let colStart: [Int]
    let colRow: [Int32]
    let colCount: [Double]
    /// Preconditioned only (else empty): colCount squared (empty too when all counts are 1),
    /// and per example the sum of its squared counts, the test-independent entry of its block.
    let colCountSquared: [Double]
    let countSquaredSums: [Double]
    /// Row-oriented pattern as Int32 (the design's entries).
    let rowLocal: [Int32]

    init(design: RidgeDesign, form: RecurrenceForm, tolerance: Double, acceptance: Double? = nil,
         maxIterations: Int? = nil, preconditioned: Bool? = nil, mixedPrecision: Bool? = nil,
         traceSink: (@Sendable (String) -> Void)? = IterativeRidge.trace) {
        self.design = design
        self.traceSink = traceSink
        self.form = form
        self.tolerance = tolerance
        self.acceptance = max(tolerance, acceptance ?? tolerance)
        self.unitCounts = design.entryCount.allSatisfy { $0 == 1 }
        let m = design.activeCount
        self.preconditioned = preconditioned ?? IterativeRidge.preconditions(design: design, form: form)
        self.mixedPrecision = mixedPrecision ?? IterativeRidge.usesMixedPrecision(design: design, tolerance: tolerance)
        self.maxIterations = maxIterations ?? max(100, min(20 * m, 5000))
        let (start, row, count) = design.columns()
        self.colStart = start
        self.colRow = row
        self.colCount = count
        self.colCountSquared = self.preconditioned && !unitCounts ? count.map { $0 * $0 } : []
        var sums = [Double](repeating: 0, count: self.preconditioned ? m : 0)
        for i in sums.indices {
            for e in start[i]..<start[i + 1] { sums[i] += count[e] * count[e] }
        }
        self.countSquaredSums = sums
        self.rowLocal = design.entryLocal.map { Int32($0) }
    }

    /// Whether CG on `design` uses the block preconditioner by default: when the design has at
    /// least three rows for every four unknowns per test example (``preconditions(rows:unknowns:)``).
    static func preconditions(design: RidgeDesign, form: RecurrenceForm) -> Bool {
        preconditions(rows: design.rowCount, unknowns: form.unknowns(examples: design.activeCount))
    }

    /// The block-Jacobi rule: precondition when rows >= 3/4 x unknowns. Measured (CG iterations to
    /// 1e-7): on the medium benchmark workload (rows = 0.995 x unknowns) the blocks cut linear's
    /// iterations from 517 to 256 at lambda = 0.01 and from 76 to 53 at lambda = 1; on the large
    /// one (rows = 0.5 x unknowns) they cost iterations (96 against 72 in a NumPy experiment).
    static func preconditions(rows: Int, unknowns: Int) -> Bool {
        4 * rows >= 3 * unknowns
    }

    /// Whether CG on `design` uses mixed precision by default: when the active examples are many
    /// enough that the double vectors the passes gather from outgrow a core's L2 cache (16,384
    /// examples: 2 MB at 8 lanes) and the tolerance is 1e-8 or looser. Single-precision products
    /// perturb each product by ~1e-7 relative, so CG's true residual levels off near 1e-7 x the
    /// condition number; the restart from the double residual then takes it the rest of the way
    /// in a few iterations, which is cheap for loose tolerances and not for 1e-10 (cross-validation)
    /// or 1e-12 (small fits).
    static func usesMixedPrecision(design: RidgeDesign, tolerance: Double) -> Bool {
        usesMixedPrecision(activeCount: design.activeCount, tolerance: tolerance)
    }

    /// The rule of ``usesMixedPrecision(design:tolerance:)`` for `activeCount` active examples.
    static func usesMixedPrecision(activeCount: Int, tolerance: Double) -> Bool {
        activeCount >= mixedPrecisionMinimumExamples && tolerance >= 1e-8
    }

    /// The smallest active set for which ``usesMixedPrecision(design:tolerance:)`` is true.
    static let mixedPrecisionMinimumExamples = 16_384

    /// Positions into `tests` in the order to fill blocks with: increasing sum over the runs' loss
    /// rows (all but each run's last, i.e. the L_{t-1} of the design rows, up to steps the design
    /// skips) of the squared loss. That sum sets the scale of a test example's A columns and with
    /// it CG's iteration count (correlation 0.99 on the large benchmark workload), so neighbours in
    /// this order converge together and a block does not keep 7 finished lanes waiting for the
    /// eighth (15% of the lane-iterations there). Results do not depend on the order: every lane
    /// runs its own CG. Ties keep the given order.
    static func convergenceOrder(tests: [Int], runs: [TrainingRun]) -> [Int] {
        guard let columns = runs.first?.losses.columns, tests.count > 1 else { return Array(tests.indices) }
        var sums = [Double](repeating: 0, count: columns)
        for run in runs where run.losses.columns == columns {
            run.losses.storage.withUnsafeBufferPointer { l in
                for row in 0..<max(0, run.losses.rows - 1) {
                    let base = row * columns
                    for z in 0..<columns { sums[z] += l[base + z] * l[base + z] }
                }
            }
        }
        return tests.indices.sorted { a, b in
            let sa = sums[tests[a]], sb = sums[tests[b]]
            return sa < sb || (!(sb < sa) && a < b)
        }
    }

    /// Outcome of one block of test examples.
    struct BlockResult {
        /// Iterations used per lane, and the final true relative residual per lane.
        var iterations: [Int]
        var residuals: [Double]
        /// Restarts from the recomputed residual (0 when the first run of CG was enough).
        var restarts = 0
    }

    /// Per-thread scratch space.
    final class Workspace {
        let m: Int, rows: Int
        /// Per example, B lanes then A lanes (2 vectors per example); `b` is X^T y.
        let x, r, p, q, b: UnsafeMutablePointer<Lanes>
        /// Per example: inverse 2 x 2 block (bb, ba, aa), and the lambda-free diagonal block sums
        /// (both set only when `preconditioned`).
        let pre, diagonal: UnsafeMutablePointer<Lanes>
        /// Per row: L_{t-1} (0 for additive), target y; u and L u interleaved (2 per row).
        let lp, y, ul: UnsafeMutablePointer<Lanes>
        /// Mixed precision only (else nil): p and ul rounded to float, in the same layouts.
        let pSingle, ulSingle: UnsafeMutablePointer<Float>?
        let prev, cur: UnsafeMutablePointer<Double>
        /// Per-lane scalars of an iteration: step size (or beta), r.z, r.r.
        let scalars: UnsafeMutablePointer<Lanes>
        /// The prepared test columns (at most `width`; missing lanes repeat the first), and their ids.
        var tests: [Int] = []
        var names: [String] = []
        /// The lambda at which `q` holds (X^T X + lambda I) x for the current `x` (the last
        /// residual check of a solve), or nil; read by ``IterativeRidge/record(lambda:_:on:)``.
        var productLambda: Double?
        /// The lambda at which `r` holds b - (X^T X + lambda I) x for the current `x`, set by
        /// ``IterativeRidge/projectStart(lambda:_:_:)``: a warm-started solve at that lambda then
        /// starts from it instead of computing the product (one per solve on a walk down a grid).
        /// Cleared by every solve.
        var residualLambda: Double?

        init(m: Int, rows: Int, mixedPrecision: Bool = false) {
            self.m = m
            self.rows = rows
            let n = max(1, 2 * m), rr = max(1, rows)
            let w = IterativeRidge.width
            pSingle = mixedPrecision ? Workspace.allocate(n * w, of: Float.self) : nil
            ulSingle = mixedPrecision ? Workspace.allocate(2 * rr * w, of: Float.self) : nil
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
        static func allocate<T>(_ count: Int, of type: T.Type = Lanes.self) -> UnsafeMutablePointer<T> {
            let bytes = count * MemoryLayout<T>.stride
            #if canImport(Glibc)
            let huge = 1 << 21
            let size = (bytes + huge - 1) & ~(huge - 1)
            var raw: UnsafeMutableRawPointer? = nil
            if posix_memalign(&raw, bytes >= huge ? huge : 64, size) == 0, let raw {
                if bytes >= huge { _ = madvise(raw, size, 14 /* MADV_HUGEPAGE */) }
                return raw.bindMemory(to: T.self, capacity: count)
            }
            #endif
            return .allocate(capacity: count)
        }

        deinit {
            let vectors = [x, r, p, q, b, pre, diagonal, lp, y, ul].map { UnsafeMutableRawPointer($0) }
                + [pSingle, ulSingle].compactMap { $0.map { UnsafeMutableRawPointer($0) } }
            for v in vectors {
                #if canImport(Glibc)
                free(v)
                #else
                v.deallocate()
                #endif
            }
            prev.deallocate(); cur.deallocate(); scalars.deallocate()
        }
    }

    /// Solves the test columns `tests` (at most `width`) at `lambda` from zero and writes A and B
    /// rows of `outRows[k]` into `aOut`/`bOut` (rows of `trainCount` doubles, global training
    /// indices; the whole rows, 0 for examples that never occur and for a half the form does not
    /// use, so the storage may start uninitialised). Throws on non-finite losses, when a
    /// preconditioner block is singular, and at lambda = 0 without the preconditioner.
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
            aRow.update(repeating: 0, count: trainCount)
            bRow.update(repeating: 0, count: trainCount)
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
        // X^T y is the column pass of the row records (y_r, L_{t-1} y_r); the diagonal blocks'
        // A-entries are the column pass of (L_{t-1}, L_{t-1}^2) weighted by n^2 (into q, then
        // spread to three lanes per example).
        for row in 0..<rows {
            ws.ul[2 * row] = ws.y[row]
            ws.ul[2 * row + 1] = ws.lp[row] * ws.y[row]
        }
        columns(ws.ul, weights: unitCounts ? nil : colCount, into: ws.b)
        guard preconditioned else { return }
        for row in 0..<rows {
            ws.ul[2 * row] = ws.lp[row]
            ws.ul[2 * row + 1] = ws.lp[row] * ws.lp[row]
        }
        columns(ws.ul, weights: unitCounts ? nil : colCountSquared, into: ws.q)
        for i in 0..<m {
            ws.diagonal[3 * i] = Lanes(repeating: countSquaredSums[i])
            ws.diagonal[3 * i + 1] = usesA && usesB ? ws.q[2 * i] : Lanes()
            ws.diagonal[3 * i + 2] = ws.q[2 * i + 1]
        }
    }

    /// out = X^T (row records `ul`) with multiplicities `weights` (nil: all ones), the halves the
    /// form does not use set to zero.
    private func columns(_ ul: UnsafeMutablePointer<Lanes>, weights: [Double]?, into out: UnsafeMutablePointer<Lanes>) {
        colStart.withUnsafeBufferPointer { cs in
        colRow.withUnsafeBufferPointer { cr in
        (weights ?? []).withUnsafeBufferPointer { w in
            sf_ridge_columns(design.activeCount, cs.baseAddress, cr.baseAddress, weights == nil ? nil : w.baseAddress,
                             laneDoubles(ul), nil, 0, form.usesA ? 1 : 0, form.usesB ? 1 : 0, laneDoubles(out), nil)
        }}}
    }

    /// Solves the prepared block at `lambda` (> 0 unless every block is invertible), leaving the
    /// solution in `ws.x` (per active example: B lanes, then A lanes). With `warmStart`, `ws.x`
    /// must hold a starting point for the same tests (for example the solution at a neighbouring
    /// lambda); otherwise CG starts from zero.
    ///
    /// Cycles of CG: each (re)starts from the residual in `ws.r` (``restart(_:_:)``), iterates
    /// until every lane meets the tolerance or the budget is spent (``iterate(_:_:)``), then
    /// recomputes the true residual and decides whether to restart (``endCycle(_:_:)``).
    func solve(lambda: Double, _ ws: Workspace, warmStart: Bool = false) throws -> BlockResult {
        precondition(!mixedPrecision || ws.pSingle != nil, "a mixed-precision solve needs a Workspace(mixedPrecision: true)")
        ws.productLambda = nil
        var cg = try setUp(lambda: lambda, ws, warmStart: warmStart)
        while true {
            restart(&cg, ws)
            while any(cg.active) && cg.total < maxIterations { iterate(&cg, ws) }
            if endCycle(&cg, ws) { break }
        }
        return result(cg, ws)
    }

    /// The state of one block's CG between steps of ``solve(lambda:_:warmStart:)`` (vectors: one
    /// value per lane).
    private struct CGState {
        let lambda: Double
        /// ||X^T y||^2, and the squared residual norms at which a lane stops iterating (`target2`)
        /// and at which its recomputed residual is accepted (`accept2`).
        let bNorm2, target2, accept2: Lanes
        /// Lanes still iterating.
        var active: SIMDMask<Lanes.MaskStorage>
        /// r . M^-1 r for the current direction.
        var rz = Lanes()
        /// Iterations per lane, and of the block (every lane's count is at most `total`).
        var iterations: [Int]
        var total = 0
        var restarts = 0
        /// Products in single precision: mixed precision for the first cycle and the first
        /// restart; any later restart runs in double, so a system whose condition number defeats
        /// single-precision products still converges as far as the double solver would.
        var single: Bool
        /// The last recomputed (true) squared residual norm.
        var trueRes2 = Lanes()
    }

    /// Setup: the norms of X^T y, the preconditioner at `lambda` (refusing singular blocks), the
    /// stopping thresholds, the starting point and its residual in `ws.r`.
    private func setUp(lambda: Double, _ ws: Workspace, warmStart: Bool) throws -> CGState {
        let W = IterativeRidge.width
        let m = design.activeCount
        let residualReady = warmStart && ws.residualLambda == lambda
        ws.residualLambda = nil
        var bNorm2 = Lanes()
        for i in 0..<m { bNorm2 += ws.b[2 * i] * ws.b[2 * i] + ws.b[2 * i + 1] * ws.b[2 * i + 1] }
        if preconditioned {
            try invertDiagonalBlocks(lambda: lambda, ws)
        } else if !(lambda > 0) {
            // No blocks to check; and by default no preconditioner means fewer rows than
            // unknowns, where X^T X is rank deficient and only a ridge makes it invertible.
            throw SimfluenceError.singularSystem(testID: ws.names[0], lambda: lambda)
        }
        let target2 = (tolerance * tolerance) * bNorm2
        let accept2 = (acceptance * acceptance) * bNorm2
        var dropped = false
        if warmStart {
            for i in 0..<(2 * m) where !(ws.x[i] == ws.x[i]) { ws.x[i] = Lanes(); dropped = true }   // drop NaNs
        } else {
            ws.x.update(repeating: Lanes(), count: 2 * m)
        }
        var active = SIMDMask<Lanes.MaskStorage>(repeating: true)
        for k in 0..<W where bNorm2[k] == 0 { active[k] = false }
        if residualReady && !dropped {
            // ws.r holds the start's residual (projectStart).
        } else if warmStart {
            _ = residual(lambda: lambda, ws)
        } else {
            ws.r.update(from: ws.b, count: 2 * m)
        }
        return CGState(lambda: lambda, bNorm2: bNorm2, target2: target2, accept2: accept2, active: active,
                       iterations: [Int](repeating: 0, count: W), single: mixedPrecision)
    }

    /// The block-Jacobi preconditioner at `lambda` into `ws.pre`: per example the inverse of its
    /// 2 x 2 diagonal block (or of its one used entry); throws if a block is not positive definite.
    private func invertDiagonalBlocks(lambda: Double, _ ws: Workspace) throws {
        let W = IterativeRidge.width
        let lanes = ws.tests.count
        let usesA = form.usesA, usesB = form.usesB
        let lambdaV = Lanes(repeating: lambda)
        for i in 0..<design.activeCount {
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
            ws.pre[3 * i] = ibb; ws.pre[3 * i + 1] = iba; ws.pre[3 * i + 2] = iaa
        }
    }

    /// r = b - (X^T X + lambda I) x into `ws.r`; returns r . r per lane.
    func residual(lambda: Double, _ ws: Workspace) -> Lanes {
        apply(ws.x, into: ws.q, lambda: lambda, ws)
        var rr = Lanes()
        for i in 0..<(2 * design.activeCount) {
            let d = ws.b[i] - ws.q[i]
            ws.r[i] = d
            rr += d * d
        }
        return rr
    }

    /// Restart: `ws.r` holds the residual; p = M^-1 r, rz = r . M^-1 r, and lanes whose residual
    /// already meets the target stop.
    private func restart(_ cg: inout CGState, _ ws: Workspace) {
        let m = design.activeCount
        ws.p.update(repeating: Lanes(), count: 2 * m)
        ws.scalars[0] = Lanes()
        nextDirection(updating: SIMD8<Int64>(repeating: -1), ws, single: cg.single)
        var rz = Lanes(), rr = Lanes()
        for i in 0..<m {
            let rb = ws.r[2 * i], ra = ws.r[2 * i + 1]
            if preconditioned {
                let a = ws.pre[3 * i], b = ws.pre[3 * i + 1], c = ws.pre[3 * i + 2]
                rz += rb * (a * rb + b * ra) + ra * (b * rb + c * ra)
            }
            rr += rb * rb + ra * ra
        }
        if !preconditioned { rz = rr }
        cg.rz = rz
        cg.active = cg.active .& (rr .> cg.target2)
    }

    /// One CG iteration on the active lanes: x += alpha p, r -= alpha q (q = (X^T X + lambda I) p),
    /// the new rz, and the next direction; lanes that reach the target stop (their p becomes 0).
    private func iterate(_ cg: inout CGState, _ ws: Workspace) {
        let W = IterativeRidge.width
        let scalars = ws.scalars, s = laneDoubles(scalars)
        let pq = apply(ws.p, into: ws.q, lambda: cg.lambda, ws, dot: true, single: cg.single)
        scalars[0] = Lanes(repeating: 0).replacing(with: cg.rz / pq, where: cg.active)
        sf_cg_update(design.activeCount, s, laneDoubles(ws.x), laneDoubles(ws.r), laneDoubles(ws.p), laneDoubles(ws.q),
                     preconditioner(ws), s + W, s + 2 * W)
        let rzNew = scalars[1], rrNew = scalars[2]
        for k in 0..<W where cg.active[k] { cg.iterations[k] += 1 }
        let stillActive = cg.active .& (rrNew .> cg.target2)
        scalars[0] = Lanes(repeating: 0).replacing(with: rzNew / cg.rz, where: stillActive)
        nextDirection(updating: SIMD8<Int64>(repeating: 0).replacing(with: -1, where: stillActive), ws, single: cg.single)
        cg.rz = rzNew
        cg.active = stillActive
        cg.total += 1
    }

    /// Convergence check at the end of a cycle: recomputes the true residual (the recursive one
    /// drifts slightly) and returns true when every lane is accepted or the budget (iterations,
    /// 3 restarts) is spent; otherwise marks the lanes to restart and counts the restart.
    private func endCycle(_ cg: inout CGState, _ ws: Workspace) -> Bool {
        cg.trueRes2 = residual(lambda: cg.lambda, ws)
        ws.productLambda = cg.lambda
        cg.active = SIMDMask(repeating: true) .& (cg.trueRes2 .> cg.accept2) .& (cg.bNorm2 .> 0)
        if !any(cg.active) || cg.total >= maxIterations || cg.restarts >= 3 { return true }
        cg.restarts += 1
        if cg.restarts >= 2 { cg.single = false }
        return false
    }

    /// Write-out: the block's iteration counts and true relative residuals (reported to
    /// ``traceSink`` when set).
    private func result(_ cg: CGState, _ ws: Workspace) -> BlockResult {
        let lanes = ws.tests.count
        var residuals = [Double](repeating: 0, count: lanes)
        for k in 0..<lanes { residuals[k] = cg.bNorm2[k] > 0 ? (cg.trueRes2[k] / cg.bNorm2[k]).squareRoot() : 0 }
        let iterations = Array(cg.iterations.prefix(lanes))
        if let traceSink {
            traceSink("cg lambda=\(cg.lambda)\(mixedPrecision ? " mixed" : "") tests=\(ws.tests.first ?? 0)... iterations=\(iterations) restarts=\(cg.restarts) residual=\(residuals.max() ?? 0)")
        }
        return BlockResult(iterations: iterations, residuals: residuals, restarts: cg.restarts)
    }

    /// p = M^-1 r + scalars[0] p in the lanes of `updating` that are all ones, 0 in the others
    /// (`sf_cg_direction`); with `single`, also p rounded to float into `ws.pSingle`. M is the
    /// identity when `preconditioned` is false (the shifted solve's seed).
    func nextDirection(updating keep: SIMD8<Int64>, _ ws: Workspace, single: Bool, preconditioned: Bool = true) {
        var keep = keep
        withUnsafeBytes(of: &keep) { k in
            sf_cg_direction(design.activeCount, laneDoubles(ws.scalars), k.baseAddress!.assumingMemoryBound(to: Int64.self), laneDoubles(ws.r),
                            preconditioned ? preconditioner(ws) : nil, laneDoubles(ws.p), single ? ws.pSingle : nil)
        }
    }

    /// The preconditioner for the kernels: nil for the identity, which saves reading it.
    private func preconditioner(_ ws: Workspace) -> UnsafePointer<Double>? {
        preconditioned ? UnsafePointer(laneDoubles(ws.pre)) : nil
    }

    /// out = (X^T X + lambda I) v; with `dot`, returns v . out per lane (else zero). With `single`,
    /// X^T X v is computed from `ws.pSingle` (which must hold v rounded to float) through
    /// `ws.ulSingle`; lambda v and the dot product use the double v.
    @discardableResult
    func apply(_ v: UnsafeMutablePointer<Lanes>, into out: UnsafeMutablePointer<Lanes>, lambda: Double,
                       _ ws: Workspace, dot: Bool = false, single: Bool = false) -> Lanes {
        var result = Lanes()
        design.entryStart.withUnsafeBufferPointer { es in
        rowLocal.withUnsafeBufferPointer { el in
        design.entryCount.withUnsafeBufferPointer { ec in
            let count = unitCounts ? nil : ec.baseAddress
            if single, let pSingle = ws.pSingle, let ulSingle = ws.ulSingle {
                sf_ridge_rows_single(design.rowCount, es.baseAddress, el.baseAddress, count, pSingle, laneDoubles(ws.lp), ulSingle)
            } else {
                sf_ridge_rows(design.rowCount, es.baseAddress, el.baseAddress, count, laneDoubles(v), laneDoubles(ws.lp), laneDoubles(ws.ul))
            }
        }}}
        colStart.withUnsafeBufferPointer { cs in
        colRow.withUnsafeBufferPointer { cr in
        colCount.withUnsafeBufferPointer { cc in
            withUnsafeMutablePointer(to: &result) { rp in
                let count = unitCounts ? nil : cc.baseAddress
                let dotOut = dot ? UnsafeMutableRawPointer(rp).assumingMemoryBound(to: Double.self) : nil
                let usesA: Int32 = form.usesA ? 1 : 0, usesB: Int32 = form.usesB ? 1 : 0
                if single, let ulSingle = ws.ulSingle {
                    sf_ridge_columns_single(design.activeCount, cs.baseAddress, cr.baseAddress, count, ulSingle, laneDoubles(v), lambda,
                                            usesA, usesB, laneDoubles(out), dotOut)
                } else {
                    sf_ridge_columns(design.activeCount, cs.baseAddress, cr.baseAddress, count, laneDoubles(ws.ul), laneDoubles(v), lambda,
                                     usesA, usesB, laneDoubles(out), dotOut)
                }
            }
        }}}
        return result
    }
}

/// The storage of ``IterativeRidge/trace``, behind a lock.
private final class TraceHook: @unchecked Sendable {
    private let lock = DispatchSemaphore(value: 1)
    private var sink: (@Sendable (String) -> Void)?

    var value: (@Sendable (String) -> Void)? {
        get { lock.wait(); defer { lock.signal() }; return sink }
        set { lock.wait(); defer { lock.signal() }; sink = newValue }
    }
}

/// A lane array as the kernels' double pointer.
@inline(__always)
func laneDoubles(_ p: UnsafeMutablePointer<IterativeRidge.Lanes>) -> UnsafeMutablePointer<Double> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self)
}
