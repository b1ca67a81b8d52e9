import SimfluenceKernels

/// Conjugate gradients for the extended methods' teacher-forced ridge problem (linear-pooled,
/// linear-time, linear-carry and linear-rollout's start; objective in Docs/Methods.md),
/// matrix-free through ``ExtendedStructure``, eight test examples at a time (one per lane of an
/// 8-double vector), as ``IterativeRidge`` does for Simfluence-Linear.
///
/// Unknowns per lane: per active example its (B_i, A_i) pair (2 lane vectors, example order),
/// then the q = (pooled ? 1 : 0) + K shared B-side terms (b, v_1..v_K), then the q A-side ones
/// (a, u_1..u_K). X p is, per row, a batch sum of the B and A lanes (the B side filtered by the
/// carry-over recurrence) plus the pooled and hat-function terms; X^T u a gather by example over
/// its appearances plus q sums over rows. Nothing is dense in the number of examples.
///
/// Preconditioner: block Jacobi, with per example the exact inverse of its 2 x 2 (B_i, A_i)
/// diagonal block when the design has enough rows (``IterativeRidge/preconditions(rows:unknowns:)``;
/// the identity otherwise) and, always, the exact inverse (per-lane Cholesky) of the block of the
/// 2q shared terms, whose columns are long (every row) and strongly coupled (neighbouring hat
/// functions, the smoothing penalty).
///
/// Deflation: with shared terms the design has (near-)null directions that the block
/// preconditioner cannot see: raising every example's B_i by c and lowering the pooled b by c
/// (or every knot value v_k by c times the batch size: the hat functions sum to one) leaves
/// X theta unchanged, and likewise on the A side, so only the small ridge lambda on the
/// examples holds them. CG spends hundreds of iterations on them: on the medium benchmark
/// workload at lambda = 0.01, 367 per block for linear-pooled and 502 for linear-time, against
/// 127 and 242 with those directions penalised away. The solver therefore runs deflated CG
/// (Saad, Yeung, Erhel and Guyomarc'h 2000) with the two directions Z = (Z_B, Z_A) solved
/// exactly in a 2 x 2 system per lane: the start is corrected so that the residual is
/// orthogonal to Z, and every search direction is made A-orthogonal to Z. It converges to the
/// same solution (the tests compare with the dense path to 1e-8), in fewer iterations.
///
/// Determinism: every lane runs its own CG and dot products sum in index order, so a test
/// example's result does not depend on its block neighbours, the thread count or the order of work.
struct ExtendedIterative: @unchecked Sendable {
    typealias Lanes = SIMD8<Double>
    static let width = 8

    let structure: ExtendedStructure
    /// Relative residual of the normal equations at which a lane stops.
    let tolerance: Double
    let maxIterations: Int
    /// Smoothing strength mu of the step terms.
    let smoothing: Double
    /// Example blocks preconditioned (true) or identity.
    let preconditioned: Bool
    /// Where each solved block is reported (``IterativeRidge/trace``, read when the solver is made).
    let traceSink: (@Sendable (String) -> Void)? = IterativeRidge.trace
    /// Active examples m, shared terms per side q, unknowns n = 2m + 2q.
    let m: Int, q: Int, n: Int
    /// The example part of both products runs in the C kernels of ``IterativeRidge`` (same lane
    /// layout): the row pattern as Int32, and with carry-over 1 at each row that starts a run.
    let rowLocal: [Int32]
    let runStartFlags: [UInt8]
    /// Every multiplicity is 1: the kernels skip the multiplies.
    let unitCounts: Bool
    /// The deflation directions' shared entries, per side (B then A, q each; empty without
    /// deflation): Z_B has 1 at every B_i and these at b, v_1..v_K; Z_A likewise on the A side.
    let deflationShared: [[Double]]

    init(structure: ExtendedStructure, smoothing: Double, tolerance: Double, maxIterations: Int? = nil, deflated: Bool = true) {
        self.structure = structure
        self.smoothing = smoothing
        self.tolerance = tolerance
        m = structure.layout.m
        q = structure.layout.p + structure.layout.knots
        n = 2 * m + 2 * q
        preconditioned = IterativeRidge.preconditions(rows: structure.design.rowCount, unknowns: n)
        rowLocal = structure.design.entryLocal.map { Int32($0) }
        runStartFlags = structure.carry != 0 ? structure.runStart.map { $0 ? 1 : 0 } : []
        unitCounts = structure.design.entryCount.allSatisfy { $0 == 1 }
        self.maxIterations = maxIterations ?? max(200, min(20 * n, 5000))
        deflationShared = ExtendedIterative.deflationShared(structure, deflated: deflated)
    }

    /// The shared entries of the deflation directions (see the type's documentation): -1 at the
    /// pooled term, or without one -(mean batch size) at every knot (the B side's batch size
    /// filtered by the carry-over, as its example sums are); none without shared terms or when
    /// `deflated` is false.
    static func deflationShared(_ s: ExtendedStructure, deflated: Bool) -> [[Double]] {
        let l = s.layout, q = l.p + l.knots
        guard deflated && q > 0 && s.design.rowCount > 0 else { return [] }
        func side(_ sizes: [Double]) -> [Double] {
            if l.pooled { return [-1] + [Double](repeating: 0, count: l.knots) }
            let mean = sizes.reduce(0, +) / Double(sizes.count)
            return [Double](repeating: -mean, count: l.knots)
        }
        return [side(s.carriedSize), side(s.rowSize)]
    }

    /// Per-thread scratch space.
    final class Workspace {
        let x, r, z, p, ap, b, pre: UnsafeMutablePointer<Lanes>
        /// Deflation (n each): the lambda-free part of A Z_B and A Z_A (data and shared penalty,
        /// set by `prepare`), then A Z_B, A Z_A and M^-1 A Z_B, M^-1 A Z_A at the current lambda.
        let hzB, hzA, azB, azA, wB, wA: UnsafeMutablePointer<Lanes>
        /// The kernels' lane scalars: alpha or beta, then r.z and r.r.
        let scalars: UnsafeMutablePointer<Lanes>
        /// Per row: L_{t-1}, L_t, and the row records `ul` of a product (2 per row: u, L_{t-1} u;
        /// with carry-over the column pass writes the filtered B-side sums U over u).
        let lp, y, ul: UnsafeMutablePointer<Lanes>
        /// The shared block's Gram matrix (data only) and its penalised Cholesky factor, 2q x 2q.
        let sharedGram, sharedFactor: UnsafeMutablePointer<Lanes>
        /// Per example the lambda-free diagonal-block entries (B-A and A-A).
        let exampleBA, exampleAA: UnsafeMutablePointer<Lanes>
        let prev, cur: UnsafeMutablePointer<Double>
        /// The per-lane penalty weights of the prepared block.
        var penalty = LanePenalty()
        var tests: [Int] = []
        var names: [String] = []

        init(_ s: ExtendedIterative) {
            let n = max(1, s.n), rows = max(1, s.structure.design.rowCount), qq = max(1, 4 * s.q * s.q), m = max(1, s.m)
            func lanes(_ c: Int) -> UnsafeMutablePointer<Lanes> {
                let p = UnsafeMutablePointer<Lanes>.allocate(capacity: c)
                p.initialize(repeating: Lanes(), count: c)
                return p
            }
            x = lanes(n); r = lanes(n); z = lanes(n); p = lanes(n); ap = lanes(n); b = lanes(n); pre = lanes(3 * m); scalars = lanes(3)
            let dn = s.deflationShared.isEmpty ? 1 : n
            hzB = lanes(dn); hzA = lanes(dn); azB = lanes(dn); azA = lanes(dn); wB = lanes(dn); wA = lanes(dn)
            lp = lanes(rows); y = lanes(rows); ul = lanes(2 * rows)
            sharedGram = lanes(qq); sharedFactor = lanes(qq)
            exampleBA = lanes(m); exampleAA = lanes(m)
            prev = .allocate(capacity: rows); cur = .allocate(capacity: rows)
        }

        deinit {
            for v in [x, r, z, p, ap, b, pre, scalars, lp, y, ul, sharedGram, sharedFactor, exampleBA, exampleAA, hzB, hzA, azB, azA, wB, wA] {
                v.deallocate()
            }
            prev.deallocate(); cur.deallocate()
        }
    }

    /// Penalty weights of the prepared lanes (see ``ExtendedPenalty``); lambda is per solve.
    struct LanePenalty {
        var bTiny = Lanes(), aTiny = Lanes(), vSmooth = Lanes(), uSmooth = Lanes(), vTiny = Lanes(), uTiny = Lanes()

        /// Lane `k`'s ``ExtendedPenalty`` at `lambda`.
        func scalar(_ k: Int, lambda: Double) -> ExtendedPenalty {
            ExtendedPenalty(lambda: lambda, bTiny: bTiny[k], aTiny: aTiny[k], vSmooth: vSmooth[k], uSmooth: uSmooth[k],
                            vTiny: vTiny[k], uTiny: uTiny[k])
        }
    }

    /// Outcome of one block's solve: per lane iterations and final true relative residual.
    struct BlockResult {
        var iterations: [Int]
        var residuals: [Double]
    }

    /// Loads test columns `tests` (at most 8; missing lanes repeat the first), computes X^T y, the
    /// per-lane penalty weights (relative to the data, as the dense path) and the lambda-free
    /// parts of the preconditioner. Throws on a non-finite loss or a singular shared block.
    func prepare(tests: [Int], runs: [TrainingRun], testIDs: [String], _ ws: Workspace) throws {
        let W = Self.width, design = structure.design, rows = design.rowCount
        precondition(tests.count >= 1 && tests.count <= W)
        ws.tests = tests
        ws.names = tests.map { testIDs[$0] }
        for k in 0..<W {
            try design.gather(z: tests[k < tests.count ? k : 0], runs: runs, testIDs: testIDs, prev: ws.prev, cur: ws.cur)
            for row in 0..<rows { ws.lp[row][k] = ws.prev[row]; ws.y[row][k] = ws.cur[row] }
        }
        for row in 0..<rows {
            ws.ul[2 * row] = ws.y[row]
            ws.ul[2 * row + 1] = ws.lp[row] * ws.y[row]
        }
        _ = columnPass(nil, lambda: 0, ws)
        ws.b.update(from: ws.ap, count: n)
        // The shared block's Gram matrix, row by row (at most 3 + 3 non-zero shared columns).
        let qq = 2 * q
        ws.sharedGram.update(repeating: Lanes(), count: qq * qq)
        var idx = [Int](repeating: 0, count: 6), val = [Lanes](repeating: Lanes(), count: 6)
        for row in 0..<rows {
            let c = sharedEntries(row, lp: ws.lp[row], idx: &idx, val: &val)
            for e in 0..<c { for f in 0..<c { ws.sharedGram[idx[e] * qq + idx[f]] += val[e] * val[f] } }
        }
        // Penalty weights, as ExtendedSolver.penalty: relative to the diagonal of the data.
        let tiny = ExtendedConfiguration.tinyPenalty, l = structure.layout
        var pen = LanePenalty()
        let floor = Lanes(repeating: 1e-300)
        if l.pooled {
            pen.bTiny = tiny * ws.sharedGram[0].replacing(with: floor, where: ws.sharedGram[0] .< floor)
            let aa = ws.sharedGram[q * qq + q]
            pen.aTiny = tiny * aa.replacing(with: floor, where: aa .< floor)
        }
        if l.knots > 0 {
            var vw = Lanes(), uw = Lanes()
            for k in 0..<l.knots {
                let jv = l.p + k, ju = q + l.p + k
                vw += ws.sharedGram[jv * qq + jv]
                uw += ws.sharedGram[ju * qq + ju]
            }
            vw /= Lanes(repeating: Double(l.knots)); uw /= Lanes(repeating: Double(l.knots))
            pen.vSmooth = smoothing * vw; pen.uSmooth = smoothing * uw
            pen.vTiny = tiny * vw.replacing(with: floor, where: vw .< floor)
            pen.uTiny = tiny * uw.replacing(with: floor, where: uw .< floor)
        }
        ws.penalty = pen
        // The penalised shared block, factored (it does not depend on lambda).
        ws.sharedFactor.update(from: ws.sharedGram, count: qq * qq)
        addSharedPenalty(pen, into: ws.sharedFactor)
        if !Self.cholesky(ws.sharedFactor, order: qq) {
            throw SimfluenceError.singularSystem(testID: ws.names[0], lambda: 0)
        }
        // Lambda-free example blocks.
        if preconditioned {
            for i in 0..<m {
                var ba = Lanes(), aa = Lanes()
                for e in structure.colStart[i]..<structure.colStart[i + 1] {
                    let lpv = ws.lp[Int(structure.colRow[e])], c = structure.colCount[e]
                    ba += (structure.colCarried[e] * c) * lpv
                    aa += (c * c) * (lpv * lpv)
                }
                ws.exampleBA[i] = ba
                ws.exampleAA[i] = aa
            }
        }
        // The deflation directions' lambda-free products (a solve adds lambda Z on the examples).
        if !deflationShared.isEmpty {
            for (side, hz) in [(0, ws.hzB), (1, ws.hzA)] {
                ws.r.update(repeating: Lanes(), count: n)
                addDeflation(ws.r, Lanes(repeating: side == 0 ? 1 : 0), Lanes(repeating: side == 1 ? 1 : 0))
                _ = apply(ws.r, lambda: 0, ws)
                hz.update(from: ws.ap, count: n)
            }
        }
    }

    /// The non-zero shared columns of `row` (indices into the 2q shared unknowns, values per lane).
    @inline(__always)
    private func sharedEntries(_ row: Int, lp: Lanes, idx: inout [Int], val: inout [Lanes]) -> Int {
        let l = structure.layout
        var c = 0
        func add(_ j: Int, _ v: Double) {
            idx[c] = j; val[c] = Lanes(repeating: v); c += 1
            idx[c] = q + j; val[c] = lp * (j < l.p ? structure.rowSize[row] : v); c += 1
        }
        if l.pooled { add(0, structure.carriedSize[row]) }
        if l.knots == 1 {
            add(l.p, 1)
        } else if l.knots > 1 {
            let k = structure.rowKnot[row], w = structure.rowW[row]
            add(l.p + k, 1 - w)
            add(l.p + k + 1, w)
        }
        return c
    }

    /// Adds the shared terms' penalty (tiny ridges on b and a; smoothing and tiny ridges on the
    /// knots) to a 2q x 2q lane matrix.
    private func addSharedPenalty(_ pen: LanePenalty, into a: UnsafeMutablePointer<Lanes>) {
        let l = structure.layout, qq = 2 * q, k = l.knots
        if l.pooled { a[0] += pen.bTiny; a[q * qq + q] += pen.aTiny }
        for side in 0..<2 {
            let base = side * q + l.p
            let smooth = side == 0 ? pen.vSmooth : pen.uSmooth, tinyW = side == 0 ? pen.vTiny : pen.uTiny
            for i in 0..<k {
                for j in max(0, i - 2)..<min(k, i + 3) {
                    a[(base + i) * qq + base + j] += smooth * structure.gram[i * k + j]
                }
                a[(base + i) * qq + base + i] += tinyW
            }
        }
    }

    /// In-place lane-wise Cholesky of a dense `order` x `order` matrix (lower factor in the lower
    /// triangle); false if a lane's pivot is not positive.
    static func cholesky(_ a: UnsafeMutablePointer<Lanes>, order: Int) -> Bool {
        for j in 0..<order {
            var d = a[j * order + j]
            for k in 0..<j { d -= a[j * order + k] * a[j * order + k] }
            if any(.!(d .> 0)) { return false }
            let s = d.squareRoot()
            a[j * order + j] = s
            for i in (j + 1)..<max(j + 1, order) {
                var v = a[i * order + j]
                for k in 0..<j { v -= a[i * order + k] * a[j * order + k] }
                a[i * order + j] = v / s
            }
        }
        return true
    }

    /// The row pass, ws.ul = (u, L u) per row with u = X v, in the C kernels: the examples' batch
    /// sums (with carry-over, the B side filtered along each run), then the shared columns
    /// added per row (`sf_extended_rows`; the pooled B column is the filtered batch size).
    private func rowPass(_ v: UnsafeMutablePointer<Lanes>, _ ws: Workspace) {
        let s = structure, design = s.design, l = s.layout, rowCount = design.rowCount
        let dv = laneDoubles(v), dlp = laneDoubles(ws.lp), dul = laneDoubles(ws.ul)
        design.entryStart.withUnsafeBufferPointer { es in
        rowLocal.withUnsafeBufferPointer { el in
        design.entryCount.withUnsafeBufferPointer { ec in
            let counts = unitCounts ? nil : ec.baseAddress
            if s.carry != 0 {
                runStartFlags.withUnsafeBufferPointer { rs in
                    sf_ridge_rows_carried(rowCount, es.baseAddress, el.baseAddress, counts, dv, dlp, s.carry, rs.baseAddress, dul)
                }
            } else {
                sf_ridge_rows(rowCount, es.baseAddress, el.baseAddress, counts, dv, dlp, dul)
            }
        }}}
        if q > 0 {
            sf_extended_rows(rowCount, dlp, s.rowSize, s.carriedSize, s.rowKnot, s.rowW, l.knots, l.pooled ? 1 : 0, q,
                             laneDoubles(v + 2 * m), dul)
        }
    }

    /// The column pass from the row records ws.ul = (u, L u): ws.ap = X^T u + lambda v (v nil:
    /// X^T u alone). With carry-over the B side reads the reverse filter U_r = u_r + rho U_{r+1}
    /// (written over u in ws.ul); the shared columns summed over rows (`sf_extended_columns`) and
    /// the examples' part gathered (`sf_ridge_columns`) in the C kernels. Returns the examples' v . ws.ap per lane (zero
    /// without v); the shared part's penalty and dot product are the caller's.
    private func columnPass(_ v: UnsafeMutablePointer<Lanes>?, lambda: Double, _ ws: Workspace) -> Lanes {
        let s = structure, l = s.layout, rowCount = s.design.rowCount, carry = s.carry
        if q > 0 || carry != 0 {
            runStartFlags.withUnsafeBufferPointer { rs in
                sf_extended_columns(rowCount, s.rowSize, s.rowKnot, s.rowW, l.knots, l.pooled ? 1 : 0, q, carry,
                                    carry != 0 ? rs.baseAddress : nil, laneDoubles(ws.ul), laneDoubles(ws.ap + 2 * m))
            }
        }
        var dot = Lanes()
        s.colStart.withUnsafeBufferPointer { cs in
        s.colRow.withUnsafeBufferPointer { cr in
        s.colCount.withUnsafeBufferPointer { cc in
            withUnsafeMutablePointer(to: &dot) { dp in
                sf_ridge_columns(m, cs.baseAddress, cr.baseAddress, unitCounts ? nil : cc.baseAddress, laneDoubles(ws.ul),
                                 v.map(laneDoubles), lambda, 1, 1, laneDoubles(ws.ap), v == nil ? nil : laneDoubles(dp))
            }
        }}}
        return dot
    }

    /// ws.ap = (X^T X + R(lambda)) v; returns v . ws.ap per lane (examples first, in order).
    @discardableResult
    private func apply(_ v: UnsafeMutablePointer<Lanes>, lambda: Double, _ ws: Workspace) -> Lanes {
        rowPass(v, ws)
        return columnPass(v, lambda: lambda, ws) + applySharedPenalty(v, ws)
    }

    /// Adds the shared terms' penalty times v to ws.ap's shared part; returns the shared part's
    /// v . ws.ap per lane.
    private func applySharedPenalty(_ v: UnsafeMutablePointer<Lanes>, _ ws: Workspace) -> Lanes {
        // The shared penalty as a (banded) product.
        let l = structure.layout, k = l.knots, pen = ws.penalty
        if l.pooled {
            ws.ap[2 * m] += pen.bTiny * v[2 * m]
            ws.ap[2 * m + q] += pen.aTiny * v[2 * m + q]
        }
        for side in 0..<2 {
            let base = 2 * m + side * q + l.p
            let smooth = side == 0 ? pen.vSmooth : pen.uSmooth, tinyW = side == 0 ? pen.vTiny : pen.uTiny
            for i in 0..<k {
                var add = tinyW * v[base + i]
                for j in max(0, i - 2)..<min(k, i + 3) { add += smooth * (structure.gram[i * k + j] * v[base + j]) }
                ws.ap[base + i] += add
            }
        }
        var dot = Lanes()
        for i in (2 * m)..<n { dot += v[i] * ws.ap[i] }
        return dot
    }

    /// The example blocks' inverses at `lambda` into ws.pre (preconditioned designs only).
    private func invertExampleBlocks(lambda: Double, _ ws: Workspace) throws {
        guard preconditioned else { return }
        let lam = Lanes(repeating: lambda)
        for i in 0..<m {
            let bb = Lanes(repeating: structure.carriedSquares[i]) + lam, ba = ws.exampleBA[i], aa = ws.exampleAA[i] + lam
            let det = bb * aa - ba * ba
            if any(.!(det .> 0)) || any(.!(bb .> 0)) {
                throw SimfluenceError.singularSystem(testID: ws.names[0], lambda: lambda)
            }
            ws.pre[3 * i] = aa / det; ws.pre[3 * i + 1] = -ba / det; ws.pre[3 * i + 2] = bb / det
        }
    }

    /// ws.z = M^-1 ws.r.
    private func applyPreconditioner(_ ws: Workspace) {
        if preconditioned {
            for i in 0..<m {
                let rb = ws.r[2 * i], ra = ws.r[2 * i + 1]
                ws.z[2 * i] = ws.pre[3 * i] * rb + ws.pre[3 * i + 1] * ra
                ws.z[2 * i + 1] = ws.pre[3 * i + 1] * rb + ws.pre[3 * i + 2] * ra
            }
        } else {
            ws.z.update(from: ws.r, count: 2 * m)
        }
        applySharedPreconditioner(ws)
    }

    /// ws.z = M^-1 ws.r on the shared terms: forward and back substitution with the shared
    /// block's Cholesky factor.
    private func applySharedPreconditioner(_ ws: Workspace) {
        let qq = 2 * q, f = ws.sharedFactor, z = ws.z + 2 * m, r = ws.r + 2 * m
        for i in 0..<qq {
            var v = r[i]
            for k in 0..<i { v -= f[i * qq + k] * z[k] }
            z[i] = v / f[i * qq + i]
        }
        for i in stride(from: qq - 1, through: 0, by: -1) {
            var v = z[i]
            for k in (i + 1)..<max(i + 1, qq) { v -= f[k * qq + i] * z[k] }
            z[i] = v / f[i * qq + i]
        }
    }

    /// One CG iteration on the `active` lanes: x += alpha p and r -= alpha (X^T X + R) p, the
    /// examples' part with its block preconditioner in the C kernels (`sf_cg_update`,
    /// `sf_cg_direction`), the shared terms' here; lanes whose residual meets `target2` leave
    /// `active` (their p becomes 0). Returns the new r . M^-1 r.
    private func iterate(rz: Lanes, active: inout SIMDMask<Lanes.MaskStorage>, target2: Lanes, lambda: Double,
                         deflation: Deflation?, _ ws: Workspace) -> Lanes {
        let W = Self.width, s = laneDoubles(ws.scalars)
        let pre = preconditioned ? UnsafePointer(laneDoubles(ws.pre)) : nil
        let pq = apply(ws.p, lambda: lambda, ws)
        let alpha = Lanes(repeating: 0).replacing(with: rz / pq, where: active)
        ws.scalars[0] = alpha
        sf_cg_update(m, s, laneDoubles(ws.x), laneDoubles(ws.r), laneDoubles(ws.p), laneDoubles(ws.ap), pre, s + W, s + 2 * W)
        var rzNew = ws.scalars[1], rrNew = ws.scalars[2]
        for i in (2 * m)..<n {
            ws.x[i] += alpha * ws.p[i]
            ws.r[i] -= alpha * ws.ap[i]
            rrNew += ws.r[i] * ws.r[i]
        }
        applySharedPreconditioner(ws)
        for i in (2 * m)..<n { rzNew += ws.r[i] * ws.z[i] }
        active = active .& (rrNew .> target2)
        let beta = Lanes(repeating: 0).replacing(with: rzNew / rz, where: active)
        ws.scalars[0] = beta
        var keep = SIMD8<Int64>(repeating: 0).replacing(with: -1, where: active)
        withUnsafeBytes(of: &keep) { k in
            sf_cg_direction(m, s, k.baseAddress!.assumingMemoryBound(to: Int64.self), laneDoubles(ws.r), pre, laneDoubles(ws.p), nil)
        }
        let keepShared = Lanes(repeating: 0).replacing(with: 1, where: active)
        for i in (2 * m)..<n { ws.p[i] = keepShared * (ws.z[i] + beta * ws.p[i]) }
        if let deflation { project(deflation, active: active, ws) }
        return rzNew
    }

    /// The tightest tolerance solved with deflation: on tiny underdetermined test logs deflated
    /// CG levels off near a relative residual of 1e-12 (rounding along the deflated directions,
    /// which only lambda holds), so the small fits' 1e-12 and 1e-13 run plain PCG; the large
    /// systems' 1e-7 (fits) and 1e-5 (cross-validation folds) are far above it.
    static let deflationTolerance = 1e-10

    /// The deflation system at one lambda: per lane the inverse of E = Z^T A Z (entries BB, BA, AA).
    struct Deflation {
        let bb, ba, aa: Lanes

        /// E^-1 (u, v).
        func solve(_ u: Lanes, _ v: Lanes) -> (Lanes, Lanes) { (bb * u + ba * v, ba * u + aa * v) }
    }

    /// (Z_B . v, Z_A . v) per lane.
    private func deflationDots(_ v: UnsafeMutablePointer<Lanes>) -> (Lanes, Lanes) {
        var zb = Lanes(), za = Lanes()
        for i in 0..<m { zb += v[2 * i]; za += v[2 * i + 1] }
        for j in 0..<q {
            zb += deflationShared[0][j] * v[2 * m + j]
            za += deflationShared[1][j] * v[2 * m + q + j]
        }
        return (zb, za)
    }

    /// v += Z_B cb + Z_A ca.
    private func addDeflation(_ v: UnsafeMutablePointer<Lanes>, _ cb: Lanes, _ ca: Lanes) {
        for i in 0..<m { v[2 * i] += cb; v[2 * i + 1] += ca }
        for j in 0..<q {
            v[2 * m + j] += deflationShared[0][j] * cb
            v[2 * m + q + j] += deflationShared[1][j] * ca
        }
    }

    /// Sets up deflation at `lambda`: A Z (the prepared lambda-free part plus lambda Z on the
    /// examples, so no product per solve: a warm-started walk down a grid solves in a few
    /// iterations per lambda) and M^-1 A Z into the workspace (ws.r and ws.z are overwritten),
    /// and E^-1. Nil without deflation. Call after the preconditioner's setup.
    private func deflationSetUp(lambda: Double, _ ws: Workspace) throws -> Deflation? {
        guard !deflationShared.isEmpty else { return nil }
        let lam = Lanes(repeating: lambda)
        for (side, hz, az, w) in [(0, ws.hzB, ws.azB, ws.wB), (1, ws.hzA, ws.azA, ws.wA)] {
            az.update(from: hz, count: n)
            for i in 0..<m { az[2 * i + side] += lam }
            ws.r.update(from: az, count: n)
            applyPreconditioner(ws)
            w.update(from: ws.z, count: n)
        }
        let (ebb, eab) = deflationDots(ws.azB), (eba, eaa) = deflationDots(ws.azA)
        let ba = (eab + eba) / 2, det = ebb * eaa - ba * ba
        if any(.!(det .> 0)) || any(.!(ebb .> 0)) {
            throw SimfluenceError.singularSystem(testID: ws.names[0], lambda: lambda)
        }
        return Deflation(bb: eaa / det, ba: -ba / det, aa: ebb / det)
    }

    /// The deflated start on the `active` lanes: x += Z E^-1 Z^T r and r -= A Z E^-1 Z^T r, so
    /// that Z^T r = 0 (the other lanes, done, do not move).
    private func deflateStart(_ d: Deflation, active: SIMDMask<Lanes.MaskStorage>, _ ws: Workspace) {
        let (u, v) = deflationDots(ws.r)
        let zero = Lanes(repeating: 0)
        let (cb, ca) = d.solve(u, v)
        let (b, a) = (zero.replacing(with: cb, where: active), zero.replacing(with: ca, where: active))
        addDeflation(ws.x, b, a)
        for i in 0..<n { ws.r[i] -= ws.azB[i] * b + ws.azA[i] * a }
    }

    /// p += Z E^-1 (Z^T r - (A Z)^T M^-1 r) on the `active` lanes (ws.r is the current
    /// residual): the direction made A-orthogonal to Z, plus the correction of whatever part of
    /// r along Z rounding has brought back (zero in exact arithmetic; without it, lanes solved
    /// to 1e-13 could drift off and diverge). Tang, Nabben, Vuik and Erlangga's A-DEF2.
    private func project(_ d: Deflation, active: SIMDMask<Lanes.MaskStorage>, _ ws: Workspace) {
        var u = Lanes(), v = Lanes()
        for i in 0..<n { u += ws.wB[i] * ws.r[i]; v += ws.wA[i] * ws.r[i] }
        let (zb, za) = deflationDots(ws.r)
        let (cb, ca) = d.solve(zb - u, za - v)
        let zero = Lanes(repeating: 0)
        addDeflation(ws.p, zero.replacing(with: cb, where: active), zero.replacing(with: ca, where: active))
    }

    /// Solves the prepared block at `lambda` > 0; the solution is left in ws.x. With `warmStart`,
    /// ws.x must hold a starting point for the same tests (the solution at another lambda).
    func solve(lambda: Double, _ ws: Workspace, warmStart: Bool = false) throws -> BlockResult {
        guard lambda > 0 else { throw SimfluenceError.singularSystem(testID: ws.names[0], lambda: lambda) }
        try invertExampleBlocks(lambda: lambda, ws)
        let deflation = tolerance >= Self.deflationTolerance ? try deflationSetUp(lambda: lambda, ws) : nil
        var bNorm2 = Lanes()
        for i in 0..<n { bNorm2 += ws.b[i] * ws.b[i] }
        let target2 = (tolerance * tolerance) * bNorm2
        if !warmStart { ws.x.update(repeating: Lanes(), count: n) }
        var iterations = [Int](repeating: 0, count: Self.width)
        var restarts = 0
        var trueRes2 = Lanes()
        // Deflated first; any lane it leaves above the tolerance is finished by plain PCG, with a
        // budget of its own (the others, done, do not move).
        for pass in deflation == nil ? [nil] : [deflation, nil] {
            var total = 0, cycles = 0
            while true {
                // (Re)start from the true residual.
                _ = apply(ws.x, lambda: lambda, ws)
                var rr = Lanes()
                for i in 0..<n { ws.r[i] = ws.b[i] - ws.ap[i]; rr += ws.r[i] * ws.r[i] }
                var active = (rr .> target2) .& (bNorm2 .> 0)
                trueRes2 = rr
                if !any(active) || total >= maxIterations || cycles > 4 { break }
                if cycles > 0 { restarts += 1 }
                cycles += 1
                if let pass { deflateStart(pass, active: active, ws) }
                applyPreconditioner(ws)
                var rz = Lanes()
                for i in 0..<n { rz += ws.r[i] * ws.z[i] }
                let keep0 = Lanes(repeating: 1).replacing(with: 0, where: .!active)
                for i in 0..<n { ws.p[i] = keep0 * ws.z[i] }
                if let pass { project(pass, active: active, ws) }
                while any(active) && total < maxIterations {
                    for k in 0..<Self.width where active[k] { iterations[k] += 1 }
                    rz = iterate(rz: rz, active: &active, target2: target2, lambda: lambda, deflation: pass, ws)
                    total += 1
                }
            }
            if !any((trueRes2 .> target2) .& (bNorm2 .> 0)) { break }
        }
        var residuals = [Double](repeating: 0, count: ws.tests.count)
        for k in 0..<ws.tests.count { residuals[k] = bNorm2[k] > 0 ? (trueRes2[k] / bNorm2[k]).squareRoot() : 0 }
        if let trace = traceSink {
            trace("extended cg lambda=\(lambda) carry=\(structure.carry) tests=\(ws.tests.first ?? 0)... iterations=\(Array(iterations.prefix(ws.tests.count))) restarts=\(restarts) residual=\(residuals.max() ?? 0)")
        }
        return BlockResult(iterations: Array(iterations.prefix(ws.tests.count)), residuals: residuals)
    }

    /// Lane `k`'s solution in the ``ExtendedLayout`` order [B_dev | b | v || A_dev | a | u].
    func theta(lane k: Int, _ ws: Workspace) -> [Double] {
        let l = structure.layout
        var t = [Double](repeating: 0, count: l.n)
        for i in 0..<m { t[i] = ws.x[2 * i][k]; t[l.aDev + i] = ws.x[2 * i + 1][k] }
        for j in 0..<q { t[m + j] = ws.x[2 * m + j][k]; t[l.aDev + m + j] = ws.x[2 * m + q + j][k] }
        return t
    }

    /// Lane `k`'s normal-matrix diagonal (data + penalty at `lambda`) in the ``ExtendedLayout``
    /// order: rollout fitting's variable scaling, as ``ExtendedSolver/fullDiagonal(sharedDiag:_:penalty:)``.
    func diagonal(lane k: Int, lambda: Double, _ ws: Workspace) -> [Double] {
        let l = structure.layout, qq = 2 * q
        var d = [Double](repeating: 0, count: l.n)
        for i in 0..<m {
            var aa = 0.0
            for e in structure.colStart[i]..<structure.colStart[i + 1] {
                let lpv = ws.lp[Int(structure.colRow[e])][k], c = structure.colCount[e]
                aa += c * c * lpv * lpv
            }
            d[i] = structure.carriedSquares[i] + lambda
            d[l.aDev + i] = aa + lambda
        }
        var shared = [Lanes](repeating: Lanes(), count: qq * qq)
        shared.withUnsafeMutableBufferPointer { sp in
            sp.baseAddress!.update(from: ws.sharedGram, count: qq * qq)
            addSharedPenalty(ws.penalty, into: sp.baseAddress!)
        }
        for j in 0..<q {
            d[m + j] = shared[j * qq + j][k]
            d[l.aDev + m + j] = shared[(q + j) * qq + q + j][k]
        }
        return d
    }
}
