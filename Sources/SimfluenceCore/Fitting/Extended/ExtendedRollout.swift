/// A run prepared for rolling out extended parameters in a design's local (active) indexing:
/// ids the design never saw are dropped (no effect), as under `--unseen zero`.
struct LocalRun: Sendable {
    let run: TrainingRun
    /// Per simulated step j (0-based; absolute step firstLossStep + 1 + j): entries
    /// `stepStart[j] ..< stepStart[j + 1]` of `idx`/`cnt`, batch size, knot and weight.
    let stepStart: [Int]
    let idx: [Int]
    let cnt: [Double]
    let size: [Double]
    let knot: [Int]
    let w: [Double]
    /// observed[r]: loss row r counts in the error (row 0 is always the starting point).
    let observed: [Bool]

    var steps: Int { stepStart.count - 1 }

    /// The run's arrays as pointers, for the rollout loops (which L-BFGS runs hundreds of times
    /// per test example: array accesses there cost a bounds check and a retain each).
    struct View {
        let stepStart: UnsafePointer<Int>, idx: UnsafePointer<Int>, cnt: UnsafePointer<Double>
        let size: UnsafePointer<Double>, knot: UnsafePointer<Int>, w: UnsafePointer<Double>
        let observed: UnsafePointer<Bool>
        let steps: Int
    }

    /// Calls `body` with a ``View`` of the run, valid only inside it.
    func withView<R>(_ body: (View) throws -> R) rethrows -> R {
        try stepStart.withUnsafeBufferPointer { st in
        try idx.withUnsafeBufferPointer { ix in
        try cnt.withUnsafeBufferPointer { cn in
        try size.withUnsafeBufferPointer { sz in
        try knot.withUnsafeBufferPointer { kn in
        try w.withUnsafeBufferPointer { ww in
        try observed.withUnsafeBufferPointer { ob in
            // An empty array's buffer may have no address; nothing is read from it then.
            func base<T>(_ b: UnsafeBufferPointer<T>) -> UnsafePointer<T> {
                b.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<T>.alignment)!
            }
            return try body(View(stepStart: base(st), idx: base(ix), cnt: base(cn), size: base(sz), knot: base(kn), w: base(ww),
                                 observed: base(ob), steps: steps))
        }}}}}}}
    }

    init(run: TrainingRun, local: [Int], basis: StepBasis, every: Int?) {
        self.run = run
        var stepStart = [0], idx: [Int] = [], cnt: [Double] = [], size: [Double] = [], knot: [Int] = [], w: [Double] = []
        var t = run.firstLossStep + 1
        for batch in run.simulatedBatches {
            var sz = 0.0
            let first = idx.count
            for g in batch where g >= 0 && g < local.count && local[g] >= 0 {
                let l = local[g]
                if let e = idx[first...].firstIndex(of: l) { cnt[e] += 1 } else { idx.append(l); cnt.append(1) }
                sz += 1
            }
            stepStart.append(idx.count)
            size.append(sz)
            let (k, ww) = basis.locate(t)
            knot.append(k)
            w.append(ww)
            t += 1
        }
        self.stepStart = stepStart
        self.idx = idx
        self.cnt = cnt
        self.size = size
        self.knot = knot
        self.w = w
        self.observed = LossSubsampling.observedRows(run, every: every)
    }
}

/// Rollouts, their error and its exact gradient (adjoint of the linear recurrence) for the
/// extended parameter layout of one test example.
///
/// A second rollout of the recurrence beside ``FittedSimulator/recurrenceRollout(_:initial:tests:firstStep:)``,
/// kept because fitting needs what a simulation does not: it runs on the solver's unknowns theta
/// (local indices, knot values rather than per-step terms) without building a simulator per
/// L-BFGS evaluation, records the states the adjoint pass reads backwards, and scores only
/// observed rows of gapped logs. Tests check both against each other.
struct ExtendedRollout {
    let layout: ExtendedLayout
    let basisKnots: Int
    /// Carry-over decay rho of the additive effects: beta_t = rho beta_{t-1} + beta(c_t) (0: none).
    var carry: Double = 0

    /// alpha_t (with its step term) and beta(c_t) (without carry-over) of step j of `r` under
    /// theta, and the additive step term v_t.
    /// With `sums` (from ``exampleSums(_:theta:)``), the examples' part is read from it instead.
    @inline(__always)
    func coefficients(_ r: LocalRun.View, _ j: Int, _ theta: UnsafePointer<Double>,
                      sums: UnsafePointer<Double>? = nil) -> (alpha: Double, beta: Double, v: Double) {
        let l = layout
        var alpha = 0.0, beta = 0.0
        if let sums {
            alpha = sums[2 * j]
            beta = sums[2 * j + 1]
        } else {
            for e in r.stepStart[j]..<r.stepStart[j + 1] {
                alpha += r.cnt[e] * theta[l.aDev + r.idx[e]]
                beta += r.cnt[e] * theta[r.idx[e]]
            }
        }
        if l.pooled {
            alpha += r.size[j] * theta[l.aPool]
            beta += r.size[j] * theta[l.bPool]
        }
        var v = 0.0
        if l.knots == 1 {
            alpha += theta[l.uStart]
            v = theta[l.vStart]
        } else if l.knots > 1 {
            let k = r.knot[j], w = r.w[j]
            alpha += (1 - w) * theta[l.uStart + k] + w * theta[l.uStart + k + 1]
            v = (1 - w) * theta[l.vStart + k] + w * theta[l.vStart + k + 1]
        }
        return (alpha, beta, v)
    }

    /// beta_t = beta(c_t) + v_t, or with carry-over the running sum `carried` (updated) plus v_t.
    @inline(__always)
    func beta(_ c: (alpha: Double, beta: Double, v: Double), carried: inout Double) -> Double {
        if carry == 0 { return c.beta + c.v }
        carried = carry * carried + c.beta
        return carried + c.v
    }

    /// All-steps MSE of run `r` (observed rows only) for test column z, with clamping to
    /// [lo, hi]; +infinity if not finite.
    func mse(_ r: LocalRun, z: Int, theta: UnsafePointer<Double>, lo: Double, hi: Double) -> Double {
        let width = r.run.losses.columns
        return r.run.losses.storage.withUnsafeBufferPointer { truth in r.withView { r in
            var loss = truth[z]
            var sum = 0.0, count = 0, carried = 0.0
            for j in 0..<r.steps {
                let c = coefficients(r, j, theta)
                var outside = 0
                loss = FittedSimulator.clamp(c.alpha * loss + beta(c, carried: &carried), lo, hi, counting: &outside)
                if r.observed[j + 1] {
                    let d = loss - truth[(j + 1) * width + z]
                    sum += d * d
                    count += 1
                }
            }
            let v = count == 0 ? 0 : sum / Double(count)
            return v.isFinite ? v : .infinity
        }}
    }

    /// Per run of `runs` and simulated step j, the batch sums of the examples' own effects under
    /// theta, (sum n A_dev, sum n B_dev) at [2j, 2j + 1]: what ``coefficients(_:_:_:sums:)`` would
    /// add up, in the same order. Rollout fitting of the shared terms alone computes them once.
    func exampleSums(_ runs: [LocalRun], theta: UnsafePointer<Double>) -> [[Double]] {
        runs.map { r in
            var out = [Double](repeating: 0, count: 2 * r.steps)
            for j in 0..<r.steps {
                var alpha = 0.0, beta = 0.0
                for e in r.stepStart[j]..<r.stepStart[j + 1] {
                    alpha += r.cnt[e] * theta[layout.aDev + r.idx[e]]
                    beta += r.cnt[e] * theta[r.idx[e]]
                }
                out[2 * j] = alpha
                out[2 * j + 1] = beta
            }
            return out
        }
    }

    /// Per run of `runs`, test column `z` of its losses (row r at r): what
    /// ``sumOfSquares(_:z:theta:lo:hi:grad:states:alphas:clampedFlags:exampleSums:losses:)`` reads at
    /// every step, copied once so that its repeated rollouts read one contiguous column (from the
    /// cache) instead of one value per loss row of the log (a cache line each: on the medium
    /// benchmark workload a third of linear-rollout's L-BFGS time waited on those loads).
    func losses(_ runs: [LocalRun], z: Int) -> [[Double]] {
        runs.map { r in (0..<r.run.losses.rows).map { r.run.losses[$0, z] } }
    }

    /// Sum over runs and observed steps of the squared rollout error, and (if `grad` is given)
    /// its gradient with respect to theta added to `grad`. Clamped steps pass no gradient.
    /// `scratch` needs room for the longest run's steps + 1 (two arrays). With `exampleSums`
    /// (``exampleSums(_:theta:)``, one array per run), the examples' effects are taken as fixed:
    /// their sums are read from it and no gradient is added for them.
    func sumOfSquares(_ runs: [LocalRun], z: Int, theta: UnsafePointer<Double>, lo: Double, hi: Double,
                      grad: UnsafeMutablePointer<Double>?, states: UnsafeMutablePointer<Double>,
                      alphas: UnsafeMutablePointer<Double>, clampedFlags: UnsafeMutablePointer<Bool>,
                      exampleSums: [[Double]]? = nil, losses: [[Double]]? = nil) -> Double {
        let l = layout
        var total = 0.0
        for (ri, run) in runs.enumerated() {
          (exampleSums?[ri] ?? []).withUnsafeBufferPointer { sumsBuffer in
            let sums = exampleSums == nil ? nil : sumsBuffer.baseAddress
            // The test example's losses: its own contiguous copy when given (the same values).
            let width = losses == nil ? run.run.losses.columns : 1, z = losses == nil ? z : 0
            (losses?[ri] ?? run.run.losses.storage).withUnsafeBufferPointer { truthBuffer in run.withView { r in
                let truth = truthBuffer.baseAddress!
                let steps = r.steps
                var loss = truth[z]
                states[0] = loss
                var carried = 0.0
                for j in 0..<steps {
                    let k = coefficients(r, j, theta, sums: sums)
                    alphas[j] = k.alpha
                    var outside = 0
                    loss = FittedSimulator.clamp(k.alpha * loss + beta(k, carried: &carried), lo, hi, counting: &outside)
                    clampedFlags[j] = outside > 0
                    states[j + 1] = loss
                    if r.observed[j + 1] {
                        let d = loss - truth[(j + 1) * width + z]
                        total += d * d
                    }
                }
                guard let grad else { return }
                // Adjoint: lam = dJ/dL_t (including everything downstream of step t); with
                // carry-over, dCarried = dJ/d(carried sum at step t) = dpre_t + rho dCarried_{t+1}.
                var lam = 0.0, dCarried = 0.0
                // The four knot slots of the current knot interval, accumulated in registers (in
                // the same order as in memory, so the same bits) while the steps stay in it: as
                // memory updates each step waited on the previous step's store.
                var slot = -1, gu0 = 0.0, gu1 = 0.0, gv0 = 0.0, gv1 = 0.0
                func flush() {
                    guard slot >= 0 else { return }
                    grad[l.uStart + slot] = gu0; grad[l.uStart + slot + 1] = gu1
                    grad[l.vStart + slot] = gv0; grad[l.vStart + slot + 1] = gv1
                }
                var j = steps - 1
                while j >= 0 {
                    if r.observed[j + 1] { lam += 2 * (states[j + 1] - truth[(j + 1) * width + z]) }
                    let dpre = clampedFlags[j] ? 0 : lam
                    dCarried = carry == 0 ? dpre : dpre + carry * dCarried
                    if dpre != 0 || dCarried != 0 {
                        let dAlpha = dpre * states[j], dBeta = dCarried
                        if sums == nil {
                            for e in r.stepStart[j]..<r.stepStart[j + 1] {
                                grad[l.aDev + r.idx[e]] += r.cnt[e] * dAlpha
                                grad[r.idx[e]] += r.cnt[e] * dBeta
                            }
                        }
                        if l.pooled {
                            grad[l.aPool] += r.size[j] * dAlpha
                            grad[l.bPool] += r.size[j] * dBeta
                        }
                        if l.knots == 1 {
                            grad[l.uStart] += dAlpha
                            grad[l.vStart] += dpre
                        } else if l.knots > 1 {
                            let k = r.knot[j], w = r.w[j]
                            if k != slot {
                                flush()
                                slot = k
                                gu0 = grad[l.uStart + k]; gu1 = grad[l.uStart + k + 1]
                                gv0 = grad[l.vStart + k]; gv1 = grad[l.vStart + k + 1]
                            }
                            gu0 += (1 - w) * dAlpha
                            gu1 += w * dAlpha
                            gv0 += (1 - w) * dpre
                            gv1 += w * dpre
                        }
                    }
                    lam = dpre * alphas[j]
                    j -= 1
                }
                flush()
            }}
          }
        }
        return total
    }
}

/// Deterministic L-BFGS (two-loop recursion, backtracking Armijo line search) with a fixed
/// diagonal preconditioner: minimises f(D^{-1/2} phi) over phi.
enum LBFGS {
    /// Minimises `f` (value and gradient into its second argument) from `x` (updated in place).
    /// `scale[i] > 0` is the preconditioner (a curvature estimate of coordinate i). Returns the
    /// final value and the iterations done.
    static func minimise(_ x: inout [Double], scale: [Double], iterations: Int, memory: Int = 8,
                         f: (UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Double) -> (value: Double, iterations: Int) {
        minimise(&x, scale: scale, iterations: iterations, memory: memory, value: f, gradient: nil)
    }

    /// Minimises a function whose gradient is asked for separately, only at the points the line
    /// search accepts (and the start): `value(x, g)` returns f(x) (it may add the gradient into
    /// `g`, zeroed before), then, if `gradient` is given and the point is accepted,
    /// `gradient(x, g)` adds the gradient at that same x into the same `g`. The iterates are
    /// those of ``minimise(_:scale:iterations:memory:f:)`` with the same values and gradients,
    /// bit for bit: rejected trial points' gradients are never read.
    static func minimise(_ x: inout [Double], scale: [Double], iterations: Int, memory: Int = 8,
                         value f: (UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Double,
                         gradient: ((UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Void)?) -> (value: Double, iterations: Int) {
        let n = x.count
        let inv = scale.map { 1 / $0.squareRoot() }  // x = inv * phi
        var phi = (0..<n).map { x[$0] / inv[$0] }
        var gx = [Double](repeating: 0, count: n)
        var xt = [Double](repeating: 0, count: n)
        // f at phi; then evalGradient gives the gradient at the same point.
        func eval(_ p: [Double]) -> Double {
            for i in 0..<n { xt[i] = p[i] * inv[i] }
            for i in 0..<n { gx[i] = 0 }
            return xt.withUnsafeBufferPointer { xb in gx.withUnsafeMutableBufferPointer { gb in f(xb.baseAddress!, gb.baseAddress!) } }
        }
        func evalGradient(_ g: inout [Double]) {
            if let gradient {
                xt.withUnsafeBufferPointer { xb in gx.withUnsafeMutableBufferPointer { gb in gradient(xb.baseAddress!, gb.baseAddress!) } }
            }
            for i in 0..<n { g[i] = gx[i] * inv[i] }
        }
        var g = [Double](repeating: 0, count: n)
        var value = eval(phi)
        guard value.isFinite else { return (value, 0) }
        evalGradient(&g)
        var sList: [[Double]] = [], yList: [[Double]] = [], rho: [Double] = []
        var done = 0
        var gNew = [Double](repeating: 0, count: n)
        var trial = [Double](repeating: 0, count: n)
        for _ in 0..<iterations {
            // Two-loop recursion: d = -H g.
            var q = g
            var alphaK = [Double](repeating: 0, count: sList.count)
            for k in stride(from: sList.count - 1, through: 0, by: -1) {
                var dot = 0.0
                for i in 0..<n { dot += sList[k][i] * q[i] }
                alphaK[k] = rho[k] * dot
                for i in 0..<n { q[i] -= alphaK[k] * yList[k][i] }
            }
            var gamma = 1.0
            if let s = sList.last, let y = yList.last {
                var sy = 0.0, yy = 0.0
                for i in 0..<n { sy += s[i] * y[i]; yy += y[i] * y[i] }
                if yy > 0 { gamma = sy / yy }
            }
            for i in 0..<n { q[i] *= gamma }
            for k in 0..<sList.count {
                var dot = 0.0
                for i in 0..<n { dot += yList[k][i] * q[i] }
                let beta = rho[k] * dot
                for i in 0..<n { q[i] += sList[k][i] * (alphaK[k] - beta) }
            }
            var slope = 0.0
            for i in 0..<n { q[i] = -q[i]; slope += q[i] * g[i] }
            if !(slope < 0) {
                // Not a descent direction: restart from steepest descent.
                sList.removeAll(); yList.removeAll(); rho.removeAll()
                slope = 0
                for i in 0..<n { q[i] = -g[i]; slope -= g[i] * g[i] }
                if slope == 0 { break }
            }
            var step = 1.0
            var accepted = false
            var newValue = value
            for _ in 0..<30 {
                for i in 0..<n { trial[i] = phi[i] + step * q[i] }
                newValue = eval(trial)
                if newValue.isFinite && newValue <= value + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            if !accepted { break }
            evalGradient(&gNew)
            var s = [Double](repeating: 0, count: n), y = [Double](repeating: 0, count: n)
            var sy = 0.0
            for i in 0..<n { s[i] = trial[i] - phi[i]; y[i] = gNew[i] - g[i]; sy += s[i] * y[i] }
            phi = trial
            g = gNew
            let previous = value
            value = newValue
            done += 1
            if sy > 1e-300 {
                sList.append(s); yList.append(y); rho.append(1 / sy)
                if sList.count > memory { sList.removeFirst(); yList.removeFirst(); rho.removeFirst() }
            }
            if previous - value <= 1e-10 * max(abs(value), 1e-300) { break }
        }
        if done == 0 { return (value, 0) }  // nothing accepted: keep x bit for bit
        for i in 0..<n { x[i] = phi[i] * inv[i] }
        return (value, done)
    }
}
