/// Piecewise-linear ("hat") basis over steps 1...lastStep with `knots` evenly spaced knots:
/// a step term is u_t = sum_k h_k(t) u_k, where at most two h_k(t) are non-zero and they sum to 1.
/// Steps outside 1...lastStep are clamped into it (the last term is carried forward).
public struct StepBasis: Sendable, Equatable {
    /// Number of knots K (0 = no step terms). With K >= lastStep there is one knot per step.
    public let knots: Int
    /// The last step of the fitted runs.
    public let lastStep: Int

    public init(knots: Int, lastStep: Int) {
        let last = max(1, lastStep)
        self.lastStep = last
        self.knots = knots <= 0 ? 0 : min(knots, last)
    }

    /// The knot k and weight w with h_k(t) = 1 - w, h_{k+1}(t) = w (k + 1 < knots when w > 0).
    @inline(__always)
    public func locate(_ t: Int) -> (k: Int, w: Double) {
        if knots <= 1 { return (0, 0) }
        let tc = Double(min(max(t, 1), lastStep) - 1)
        let x = tc * Double(knots - 1) / Double(max(1, lastStep - 1))
        var k = Int(x)
        if k >= knots - 1 { k = knots - 2; return (k, 1) }
        return (k, x - Double(k))
    }

    /// u_t for knot values `u` (count K).
    public func value(_ u: UnsafePointer<Double>, at t: Int) -> Double {
        if knots == 0 { return 0 }
        if knots == 1 { return u[0] }
        let (k, w) = locate(t)
        return (1 - w) * u[k] + w * u[k + 1]
    }

    /// D2^T D2 for the second differences of K knot values, dense K x K.
    public static func secondDifferenceGram(_ k: Int) -> [Double] {
        var g = [Double](repeating: 0, count: k * k)
        if k < 3 { return g }
        for r in 0..<(k - 2) {
            let idx = [r, r + 1, r + 2], c = [1.0, -2.0, 1.0]
            for a in 0..<3 { for b in 0..<3 { g[idx[a] * k + idx[b]] += c[a] * c[b] } }
        }
        return g
    }
}

/// Layout of the unknowns of an extended fit of one test example, theta =
/// [B_dev (m) | b (1 if pooled) | v (K) || A_dev (m) | a (1 if pooled) | u (K)].
/// The first half ("shared", size s) has design columns that do not depend on the test
/// example's losses; the second half is the first half's columns times L_{t-1}.
struct ExtendedLayout: Sendable, Equatable {
    let m: Int, pooled: Bool, knots: Int
    var p: Int { pooled ? 1 : 0 }
    var s: Int { m + p + knots }
    var n: Int { 2 * s }
    var bPool: Int { m }
    var vStart: Int { m + p }
    var aDev: Int { s }
    var aPool: Int { s + m }
    var uStart: Int { s + m + p }
}

/// Penalty weights of one (lambda, mu) point for one test example; see Docs/Methods.md.
struct ExtendedPenalty: Sendable {
    var lambda: Double
    /// Absolute weights of the tiny ridges on b and a.
    var bTiny: Double, aTiny: Double
    /// Smoothing weights on v (shared) and u (per test example) times D2^T D2, and tiny ridges.
    var vSmooth: Double, uSmooth: Double
    var vTiny: Double, uTiny: Double

    /// theta^T R theta and its gradient 2 R theta (added to `grad`).
    func value(_ theta: UnsafePointer<Double>, layout l: ExtendedLayout, gram: [Double], grad: UnsafeMutablePointer<Double>?) -> Double {
        sharedValue(theta, layout: l, gram: gram, grad: grad, from: examplesValue(theta, layout: l, grad: grad))
    }

    /// The examples' part of ``value(_:layout:gram:grad:)``: sum over i of
    /// lambda (B_i^2 + A_i^2), its running sum from 0 in the examples' order, and its gradient
    /// (added to `grad`).
    func examplesValue(_ theta: UnsafePointer<Double>, layout l: ExtendedLayout, grad: UnsafeMutablePointer<Double>?) -> Double {
        var total = 0.0
        for i in 0..<l.m {
            total += lambda * (theta[i] * theta[i] + theta[l.aDev + i] * theta[l.aDev + i])
            grad?[i] += 2 * lambda * theta[i]
            grad?[l.aDev + i] += 2 * lambda * theta[l.aDev + i]
        }
        return total
    }

    /// The rest of ``value(_:layout:gram:grad:)``, the shared terms' part (pooled ridges,
    /// smoothing and ridges of the knot values), added in order to the running sum `total`
    /// (the examples' part, ``examplesValue(_:layout:grad:)``, gives the whole penalty's bits),
    /// and its gradient (added to `grad`). `layout` may have no examples (m = 0): the shared
    /// terms alone.
    func sharedValue(_ theta: UnsafePointer<Double>, layout l: ExtendedLayout, gram: [Double], grad: UnsafeMutablePointer<Double>?,
                     from total: Double) -> Double {
        var total = total
        if l.pooled {
            total += bTiny * theta[l.bPool] * theta[l.bPool] + aTiny * theta[l.aPool] * theta[l.aPool]
            grad?[l.bPool] += 2 * bTiny * theta[l.bPool]
            grad?[l.aPool] += 2 * aTiny * theta[l.aPool]
        }
        let k = l.knots
        guard k > 0 else { return total }
        gram.withUnsafeBufferPointer { gram in
            // v, then u (two calls rather than a loop over an array of the pairs: no allocation).
            func knotValues(_ start: Int, _ smooth: Double, _ tiny: Double) {
                for i in 0..<k {
                    var row = tiny * theta[start + i]
                    for j in max(0, i - 2)..<min(k, i + 3) { row += smooth * gram[i * k + j] * theta[start + j] }
                    total += theta[start + i] * row
                    grad?[start + i] += 2 * row
                }
            }
            knotValues(l.vStart, vSmooth, vTiny)
            knotValues(l.uStart, uSmooth, uTiny)
        }
        return total
    }
}

/// The teacher-forced extended ridge problem of one ``RidgeDesign``: per test example,
/// minimise sum over rows (L_t - x_t^T theta)^2 + theta^T R theta. The leading block (the B/b/v
/// columns) is shared by every test example and factored once per penalty point with
/// ``PackedCholesky``; each test example factors only its own rows.
final class ExtendedSolver: @unchecked Sendable {
    let design: RidgeDesign
    let layout: ExtendedLayout
    let basis: StepBasis
    let gram: [Double]
    /// Penalty grid: (lambda, smoothing) pairs.
    let points: [(lambda: Double, mu: Double)]
    /// Per row: step t, batch size |c_t| (with multiplicity), knot and weight.
    let rowStep: [Int], rowSize: [Double], rowKnot: [Int], rowW: [Double]
    /// Carry-over decay rho of the additive effects (0: none).
    let carry: Double
    /// The additive (B) columns of every row: `bStart[r] ..< bStart[r + 1]` of `bLocal`/`bWeight`,
    /// and their sum per row. Without carry-over these are the design's own entries; with it,
    /// sum_{s <= t} rho^(t - s) count_i(c_s) over the run's rows up to this one.
    let bStart: [Int], bLocal: [Int], bWeight: [Double], bSize: [Double]
    /// Diagonal of the shared block's b and v columns (data part), for relative penalties.
    let bDiag: Double, vWeight: Double
    private let shared: [UnsafeMutablePointer<Double>]
    let sharedFailed: [Bool]

    init(_ design: RidgeDesign, runs: [TrainingRun], pooled: Bool, basis: StepBasis, points: [(lambda: Double, mu: Double)],
         carry: Double = 0) {
        self.design = design
        self.carry = carry
        self.basis = basis
        self.points = points
        let layout = ExtendedLayout(m: design.activeCount, pooled: pooled, knots: basis.knots)
        self.layout = layout
        self.gram = StepBasis.secondDifferenceGram(basis.knots)
        let terms = ExtendedSolver.rowTerms(design, runs: runs, basis: basis)
        let rowSize = terms.size, rowKnot = terms.knot, rowW = terms.w
        self.rowStep = terms.step
        self.rowSize = rowSize
        self.rowKnot = rowKnot
        self.rowW = rowW
        let (bStart, bLocal, bWeight, bSize) = carry == 0 ? (design.entryStart, design.entryLocal, design.entryCount, rowSize)
            : ExtendedSolver.carried(design, rho: carry)
        (self.bStart, self.bLocal, self.bWeight, self.bSize) = (bStart, bLocal, bWeight, bSize)
        // Lambda-free shared block S^T S (packed, order s).
        let s = layout.s
        var base = [Double](repeating: 0, count: PackedCholesky.packedCount(s))
        var idx: [Int] = [], val: [Double] = []
        for row in 0..<design.rowCount {
            ExtendedSolver.entries(row: row, layout: layout, knot: rowKnot[row], w: rowW[row], start: bStart, local: bLocal,
                                   weight: bWeight, size: bSize[row], idx: &idx, val: &val)
            for e in 0..<idx.count {
                for f in 0..<idx.count where idx[f] <= idx[e] {
                    base[PackedCholesky.rowStart(idx[e]) + idx[f]] += val[e] * val[f]
                }
            }
        }
        let bDiag = pooled ? base[PackedCholesky.rowStart(layout.bPool) + layout.bPool] : 0
        var vWeight = 0.0
        for k in 0..<layout.knots { vWeight += base[PackedCholesky.rowStart(layout.vStart + k) + layout.vStart + k] }
        vWeight /= Double(max(1, layout.knots))
        self.bDiag = bDiag
        self.vWeight = vWeight
        var sharedFactors: [UnsafeMutablePointer<Double>] = []
        var failed: [Bool] = []
        for point in points {
            let q = UnsafeMutablePointer<Double>.allocate(capacity: max(1, base.count))
            q.initialize(from: base, count: base.count)
            let pen = ExtendedSolver.sharedPenalty(point, bDiag: bDiag, vWeight: vWeight)
            for i in 0..<layout.m { q[PackedCholesky.rowStart(i) + i] += pen.lambda }
            if pooled { q[PackedCholesky.rowStart(layout.bPool) + layout.bPool] += pen.bTiny }
            let k = layout.knots
            for i in 0..<k {
                for j in max(0, i - 2)...i {
                    var add = pen.vSmooth * gram[i * k + j]
                    if i == j { add += pen.vTiny }
                    q[PackedCholesky.rowStart(layout.vStart + i) + layout.vStart + j] += add
                }
            }
            failed.append(s > 0 && PackedCholesky.factor(q, n: s) != nil)
            sharedFactors.append(q)
        }
        self.shared = sharedFactors
        self.sharedFailed = failed
    }

    deinit { for p in shared { p.deallocate() } }

    /// Per design row: its step t, batch size |c_t| (with multiplicity), and the knot and weight
    /// of t in `basis`.
    static func rowTerms(_ design: RidgeDesign, runs: [TrainingRun], basis: StepBasis)
        -> (step: [Int], size: [Double], knot: [Int], w: [Double]) {
        let tests = runs.first?.losses.columns ?? 1
        var rowStep: [Int] = [], rowSize: [Double] = [], rowKnot: [Int] = [], rowW: [Double] = []
        for row in 0..<design.rowCount {
            let run = runs[design.rowRun[row]]
            let t = run.firstLossStep + design.rowPrevOffset[row] / max(1, tests) + 1
            rowStep.append(t)
            var size = 0.0
            for e in design.entryStart[row]..<design.entryStart[row + 1] { size += design.entryCount[e] }
            rowSize.append(size)
            let (k, w) = basis.locate(t)
            rowKnot.append(k)
            rowW.append(w)
        }
        return (rowStep, rowSize, rowKnot, rowW)
    }

    static func sharedPenalty(_ point: (lambda: Double, mu: Double), bDiag: Double, vWeight: Double) -> ExtendedPenalty {
        let tiny = ExtendedConfiguration.tinyPenalty
        return ExtendedPenalty(lambda: point.lambda, bTiny: tiny * max(bDiag, 1e-300), aTiny: 0,
                               vSmooth: point.mu * vWeight, uSmooth: 0, vTiny: tiny * max(vWeight, 1e-300), uTiny: 0)
    }

    /// The B columns of the design's rows under carry-over rho: per run (rows of one run are
    /// consecutive, in step order), the running sum w <- rho w + counts(c_t), its non-zero
    /// entries in order of first appearance in the run.
    static func carried(_ design: RidgeDesign, rho: Double) -> (start: [Int], local: [Int], weight: [Double], size: [Double]) {
        var start = [0], local: [Int] = [], weight: [Double] = [], size: [Double] = []
        var w = [Double](repeating: 0, count: design.activeCount)
        var order: [Int] = [], listed = [Bool](repeating: false, count: design.activeCount)
        var carriedSize = 0.0
        for row in 0..<design.rowCount {
            if row == 0 || design.rowRun[row] != design.rowRun[row - 1] {
                for i in order { w[i] = 0; listed[i] = false }
                order.removeAll(keepingCapacity: true)
                carriedSize = 0
            }
            for i in order { w[i] *= rho }
            carriedSize *= rho
            for e in design.entryStart[row]..<design.entryStart[row + 1] {
                let i = design.entryLocal[e]
                if !listed[i] { listed[i] = true; order.append(i) }
                w[i] += design.entryCount[e]
                carriedSize += design.entryCount[e]
            }
            for i in order where w[i] != 0 { local.append(i); weight.append(w[i]) }
            start.append(local.count)
            size.append(carriedSize)
        }
        return (start, local, weight, size)
    }

    /// The non-zero shared-block (B, b, v) entries of row `row` (distinct indices).
    @inline(__always)
    func sharedEntries(row: Int, idx: inout [Int], val: inout [Double]) {
        ExtendedSolver.entries(row: row, layout: layout, knot: rowKnot[row], w: rowW[row], start: bStart, local: bLocal,
                               weight: bWeight, size: bSize[row], idx: &idx, val: &val)
    }

    /// The entries of row `row` among the first half's columns for the given example columns:
    /// the B columns (``sharedEntries(row:idx:val:)``), or the design's own batch counts, which
    /// multiplied by L_{t-1} are the A columns.
    @inline(__always)
    static func entries(row: Int, layout: ExtendedLayout, knot: Int, w: Double, start: [Int], local: [Int], weight: [Double],
                        size: Double, idx: inout [Int], val: inout [Double]) {
        idx.removeAll(keepingCapacity: true)
        val.removeAll(keepingCapacity: true)
        for e in start[row]..<start[row + 1] {
            idx.append(local[e])
            val.append(weight[e])
        }
        if layout.pooled { idx.append(layout.bPool); val.append(size) }
        if layout.knots == 1 {
            idx.append(layout.vStart); val.append(1)
        } else if layout.knots > 1 {
            idx.append(layout.vStart + knot); val.append(1 - w)
            idx.append(layout.vStart + knot + 1); val.append(w)
        }
    }

    final class Workspace {
        let prev, cur, base, work, rhs, theta: UnsafeMutablePointer<Double>
        let baseCount: Int
        var idx: [Int] = [], val: [Double] = []
        /// The A-side entries of a row when they differ from the shared ones (carry-over).
        var aIdx: [Int] = [], aVal: [Double] = []
        /// Per-test-example penalty weights (filled by assemble).
        var aDiag = 0.0, uWeight = 0.0

        init(solver: ExtendedSolver) {
            let l = solver.layout
            prev = .allocate(capacity: max(1, solver.design.rowCount))
            cur = .allocate(capacity: max(1, solver.design.rowCount))
            baseCount = PackedCholesky.packedCount(l.n) - PackedCholesky.packedCount(l.s)
            base = .allocate(capacity: max(1, baseCount))
            work = .allocate(capacity: max(1, PackedCholesky.packedCount(l.n)))
            rhs = .allocate(capacity: max(1, l.n))
            theta = .allocate(capacity: max(1, l.n))
        }

        deinit { for p in [prev, cur, base, work, rhs, theta] { p.deallocate() } }
    }

    /// Builds test column z's lambda-free rows s ..< n and right-hand side.
    func assemble(z: Int, runs: [TrainingRun], testIDs: [String], _ ws: Workspace) throws {
        try design.gather(z: z, runs: runs, testIDs: testIDs, prev: ws.prev, cur: ws.cur)
        try assemble(prev: ws.prev, cur: ws.cur, ws)
    }

    /// Builds the rows from given L_{t-1} (`prev`) and L_t (`cur`) per design row.
    func assemble(prev: UnsafeMutablePointer<Double>, cur: UnsafeMutablePointer<Double>, _ ws: Workspace) throws {
        let l = layout, s = l.s
        let shift = PackedCholesky.rowStart(s)
        ws.base.update(repeating: 0, count: ws.baseCount)
        ws.rhs.update(repeating: 0, count: l.n)
        for row in 0..<design.rowCount {
            let lp = prev[row], y = cur[row]
            sharedEntries(row: row, idx: &ws.idx, val: &ws.val)
            let cnt = ws.idx.count
            if carry != 0 {
                ExtendedSolver.entries(row: row, layout: l, knot: rowKnot[row], w: rowW[row], start: design.entryStart,
                                       local: design.entryLocal, weight: design.entryCount, size: rowSize[row],
                                       idx: &ws.aIdx, val: &ws.aVal)
            }
            // A-side entries: the shared ones unless carry-over makes them differ.
            ws.idx.withUnsafeBufferPointer { bi in ws.val.withUnsafeBufferPointer { bv in
            ws.aIdx.withUnsafeBufferPointer { ai0 in ws.aVal.withUnsafeBufferPointer { av0 in
                let ai = carry == 0 ? bi : ai0, av = carry == 0 ? bv : av0
                for e in 0..<cnt { ws.rhs[bi[e]] += bv[e] * y }
                for e in 0..<ai.count {
                    let i = ai[e], vi = av[e]
                    ws.rhs[s + i] += vi * lp * y
                    let r = ws.base + (PackedCholesky.rowStart(s + i) - shift)
                    let cl = vi * lp
                    for f in 0..<cnt { r[bi[f]] += cl * bv[f] }
                    for f in 0..<ai.count where ai[f] <= i { r[s + ai[f]] += cl * (av[f] * lp) }
                }
            }}}}
        }
        ws.aDiag = l.pooled ? ws.base[PackedCholesky.rowStart(l.aPool) - shift + l.aPool] : 0
        var uw = 0.0
        for k in 0..<l.knots { uw += ws.base[PackedCholesky.rowStart(l.uStart + k) - shift + l.uStart + k] }
        ws.uWeight = uw / Double(max(1, l.knots))
    }

    /// The full penalty of point `pt` for the test example assembled in `ws`.
    func penalty(_ pt: Int, _ ws: Workspace) -> ExtendedPenalty {
        var pen = ExtendedSolver.sharedPenalty(points[pt], bDiag: bDiag, vWeight: vWeight)
        let tiny = ExtendedConfiguration.tinyPenalty
        pen.aTiny = tiny * max(ws.aDiag, 1e-300)
        pen.uSmooth = points[pt].mu * ws.uWeight
        pen.uTiny = tiny * max(ws.uWeight, 1e-300)
        return pen
    }

    /// Solves for penalty point `pt`; `ws.theta` holds the solution. False when singular.
    func solve(_ pt: Int, _ ws: Workspace) -> Bool {
        if sharedFailed[pt] { return false }
        let l = layout, s = l.s, n = l.n
        let top = PackedCholesky.packedCount(s)
        ws.work.update(from: shared[pt], count: top)
        (ws.work + top).update(from: ws.base, count: ws.baseCount)
        let pen = penalty(pt, ws)
        for i in 0..<l.m { ws.work[PackedCholesky.rowStart(l.aDev + i) + l.aDev + i] += pen.lambda }
        if l.pooled { ws.work[PackedCholesky.rowStart(l.aPool) + l.aPool] += pen.aTiny }
        let k = l.knots
        for i in 0..<k {
            for j in max(0, i - 2)...i {
                var add = pen.uSmooth * gram[i * k + j]
                if i == j { add += pen.uTiny }
                ws.work[PackedCholesky.rowStart(l.uStart + i) + l.uStart + j] += add
            }
        }
        ws.theta.update(from: ws.rhs, count: n)
        if PackedCholesky.factor(ws.work, n: n, startRow: s) != nil { return false }
        PackedCholesky.solve(ws.work, n: n, ws.theta)
        for i in 0..<n where !ws.theta[i].isFinite { return false }
        return true
    }
}
