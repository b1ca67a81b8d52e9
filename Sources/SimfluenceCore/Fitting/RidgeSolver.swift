/// Solves the per-test-example ridge normal equations (X^T X + lambda I) theta = X^T y of one
/// ``RidgeDesign`` for one recurrence form and a list of lambdas.
///
/// Unknown layout (theta):
/// - linear: B_0 ..< B_m, then A_0 ..< A_m (n = 2m). The leading B-B block C + lambda I is the
///   same for every test example, so its factor L_B is computed once per lambda and every test
///   example's factorisation starts at row m (saving m^3/6 of its 4m^3/3 multiply-adds).
/// - multiplicative: A_0 ..< A_m (n = m), factored per test example.
/// - additive: B_0 ..< B_m (n = m); the whole matrix C + lambda I is shared, factored once per
///   lambda; each test example only does two triangular solves.
final class RidgeSolver: @unchecked Sendable {
    let design: RidgeDesign
    let form: RecurrenceForm
    let lambdas: [Double]
    /// Active examples m and unknowns n.
    let m: Int, n: Int
    /// Shared factor of C + lambda I (packed, order m) per lambda, for linear and additive.
    private let shared: [UnsafeMutablePointer<Double>]
    /// sharedFailed[l]: C + lambdas[l] I is not (safely) positive definite.
    let sharedFailed: [Bool]

    init(_ design: RidgeDesign, form: RecurrenceForm, lambdas: [Double]) {
        self.design = design
        self.form = form
        self.lambdas = lambdas
        let m = design.activeCount
        self.m = m
        self.n = form.unknowns(examples: m)
        var shared: [UnsafeMutablePointer<Double>] = []
        var failed = [Bool](repeating: false, count: lambdas.count)
        if form.usesB {
            let c = design.cooccurrence()
            let size = PackedCholesky.packedCount(m)
            for (l, lambda) in lambdas.enumerated() {
                let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, size))
                p.initialize(from: c, count: size)
                for i in 0..<m { p[PackedCholesky.rowStart(i) + i] += lambda }
                failed[l] = PackedCholesky.factor(p, n: m) != nil
                shared.append(p)
            }
        }
        self.shared = shared
        self.sharedFailed = failed
    }

    deinit { for p in shared { p.deallocate() } }

    /// Per-thread scratch space.
    final class Workspace {
        let prev, cur: UnsafeMutablePointer<Double>
        /// The lambda-free part of the matrix this test example owns: the rows m ..< 2m of the
        /// packed matrix (linear) or the whole matrix (multiplicative); unused for additive.
        let base: UnsafeMutablePointer<Double>
        let baseCount: Int
        /// Matrix being factored, right-hand side X^T y, and solution theta.
        let work, rhs, theta: UnsafeMutablePointer<Double>

        init(solver: RidgeSolver) {
            let m = solver.m, n = solver.n
            prev = .allocate(capacity: max(1, solver.design.rowCount))
            cur = .allocate(capacity: max(1, solver.design.rowCount))
            switch solver.form {
            case .linear: baseCount = PackedCholesky.packedCount(n) - PackedCholesky.packedCount(m)
            case .multiplicative: baseCount = PackedCholesky.packedCount(n)
            case .additive: baseCount = 0
            }
            base = .allocate(capacity: max(1, baseCount))
            work = .allocate(capacity: max(1, solver.form == .additive ? 1 : PackedCholesky.packedCount(n)))
            rhs = .allocate(capacity: max(1, n))
            theta = .allocate(capacity: max(1, n))
        }

        deinit {
            for p in [prev, cur, base, work, rhs, theta] { p.deallocate() }
        }
    }

    /// Builds the lambda-free normal equations of test column `z` into `ws.base` and `ws.rhs`.
    func assemble(z: Int, runs: [TrainingRun], testIDs: [String], _ ws: Workspace) throws {
        let d = design
        try d.gather(z: z, runs: runs, testIDs: testIDs, prev: ws.prev, cur: ws.cur)
        let base = ws.base, rhs = ws.rhs, prev = ws.prev, cur = ws.cur
        let m = self.m
        base.update(repeating: 0, count: ws.baseCount)
        rhs.update(repeating: 0, count: n)
        d.entryLocal.withUnsafeBufferPointer { el in
        d.entryCount.withUnsafeBufferPointer { ec in
        d.entryStart.withUnsafeBufferPointer { es in
            switch form {
            case .linear:
                // base holds packed rows m ..< 2m: row m + i starts at rowStart(m + i) - rowStart(m);
                // its columns 0 ..< m are the A_i-B_j block, m ... m + i the A-A block.
                let shift = PackedCholesky.rowStart(m)
                for row in 0..<d.rowCount {
                    let lp = prev[row], y = cur[row]
                    let lo = es[row], hi = es[row + 1]
                    for e in lo..<hi {
                        let i = el[e], ci = ec[e]
                        rhs[i] += ci * y
                        rhs[m + i] += ci * lp * y
                        let r = base + (PackedCholesky.rowStart(m + i) - shift)
                        let cl = ci * lp
                        for f in lo..<hi {
                            let j = el[f], cj = ec[f]
                            r[j] += cl * cj
                            if j <= i { r[m + j] += cl * (cj * lp) }
                        }
                    }
                }
            case .multiplicative:
                for row in 0..<d.rowCount {
                    let lp = prev[row], y = cur[row]
                    let lo = es[row], hi = es[row + 1]
                    for e in lo..<hi {
                        let i = el[e]
                        let cl = ec[e] * lp
                        rhs[i] += cl * y
                        let r = base + PackedCholesky.rowStart(i)
                        for f in lo..<hi where el[f] <= i { r[el[f]] += cl * (ec[f] * lp) }
                    }
                }
            case .additive:
                for row in 0..<d.rowCount {
                    let y = cur[row] - prev[row]
                    for e in es[row]..<es[row + 1] { rhs[el[e]] += ec[e] * y }
                }
            }
        }}}
    }

    /// Solves for `lambdas[l]` from the assembled `ws`; on success `ws.theta` holds the solution
    /// and the result is true. False when the system is singular (or the solution not finite).
    func solve(lambda l: Int, _ ws: Workspace) -> Bool {
        if sharedFailed[l] { return false }
        let lambda = lambdas[l]
        ws.theta.update(from: ws.rhs, count: n)
        switch form {
        case .linear:
            let top = PackedCholesky.packedCount(m)
            ws.work.update(from: shared[l], count: top)
            (ws.work + top).update(from: ws.base, count: ws.baseCount)
            for i in m..<n { ws.work[PackedCholesky.rowStart(i) + i] += lambda }
            if PackedCholesky.factor(ws.work, n: n, startRow: m) != nil { return false }
            PackedCholesky.solve(ws.work, n: n, ws.theta)
        case .multiplicative:
            ws.work.update(from: ws.base, count: ws.baseCount)
            for i in 0..<n { ws.work[PackedCholesky.rowStart(i) + i] += lambda }
            if PackedCholesky.factor(ws.work, n: n) != nil { return false }
            PackedCholesky.solve(ws.work, n: n, ws.theta)
        case .additive:
            PackedCholesky.solve(shared[l], n: n, ws.theta)
        }
        for k in 0..<n where !ws.theta[k].isFinite { return false }
        return true
    }

    /// Offset of A_0 in theta, or nil for forms without A.
    var aOffset: Int? { form == .linear ? m : (form == .multiplicative ? 0 : nil) }
    /// Offset of B_0 in theta, or nil for forms without B.
    var bOffset: Int? { form.usesB ? 0 : nil }
}
