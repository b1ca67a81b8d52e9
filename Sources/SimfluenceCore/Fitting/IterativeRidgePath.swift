extension IterativeRidge {
    /// The solutions a block met on its walk down a lambda grid (cross-validation folds solve
    /// every grid point from the largest lambda down), kept to start the next solve from their
    /// best combination instead of from the last solution alone
    /// (``projectStart(lambda:_:_:)``).
    ///
    /// Why: the ridge solutions x(lambda) = sum_k (v_k . b) / (s_k + lambda) v_k (s_k, v_k the
    /// eigenpairs of X^T X) move smoothly along the grid, so a few earlier solutions span most of
    /// the next one. Measured on the medium benchmark workload (linear, folds solved to 1e-5):
    /// ~258 CG iterations per block and fold for the walk warm-started from the last solution,
    /// ~157 from the projection on the last five (NumPy prototype of the same walk: 243 and 167).
    ///
    /// Storage: per kept solution x and X^T X x (the lambda-free product), 2 x 2m lane vectors
    /// each; ``defaultCapacity`` solutions.
    final class SolutionPath {
        /// Solutions kept: on the medium workload's walk five save 31% of the iterations, all
        /// ten 34% (NumPy prototype), so more would cost memory (2 x 12.8 MB per solution on the
        /// large workload) for nothing.
        static let defaultCapacity = 5

        let capacity: Int
        let n: Int
        /// Storage slots: a solution x and its lambda-free product X^T X x each.
        fileprivate let x: [UnsafeMutablePointer<Lanes>], xx: [UnsafeMutablePointer<Lanes>]
        /// Kept slots, oldest first.
        fileprivate private(set) var order: [Int] = []
        /// The lambda-free dot products between kept slots, per lane, computed once when a
        /// solution is recorded (the walk then assembles each Galerkin system from them without
        /// reading the vectors again): xnx[s * capacity + t] = (X^T X x_s) . x_t for the newer
        /// slot s of the two (X^T X is symmetric), xdot[s * capacity + t] = x_s . x_t, and
        /// xb[s] = x_s . X^T y.
        fileprivate var xnx: [Lanes], xdot: [Lanes], xb: [Lanes]

        /// A path for blocks of `m` active examples (2m lane vectors per solution).
        init(m: Int, capacity: Int = SolutionPath.defaultCapacity) {
            let n = max(1, 2 * m), c = max(1, capacity)
            self.n = n
            self.capacity = c
            x = (0..<c).map { _ in .allocate(capacity: n) }
            xx = (0..<c).map { _ in .allocate(capacity: n) }
            xnx = [Lanes](repeating: Lanes(), count: c * c)
            xdot = xnx
            xb = [Lanes](repeating: Lanes(), count: c)
        }

        deinit {
            for v in x + xx { v.deallocate() }
        }

        /// The number of kept solutions.
        var count: Int { order.count }

        /// Forgets every kept solution (a new block, or a failed solve on the walk).
        func reset() { order = [] }

        /// The slot for one more solution, dropping the oldest when full.
        fileprivate func append() -> Int {
            if order.count == capacity { order.removeFirst() }
            let slot = (0..<capacity).first { !order.contains($0) }!
            order.append(slot)
            return slot
        }
    }

    /// Keeps `ws.x`, just solved at `lambda` by ``solve(lambda:_:warmStart:)``, on `path`, with
    /// its lambda-free product X^T X x (from the product the solve's last residual check left in
    /// `ws.q`, or computed when the workspace no longer holds it) and its dot products with the
    /// other kept solutions and with X^T y (one pass over the kept vectors).
    func record(lambda: Double, _ ws: Workspace, on path: SolutionPath) {
        let n = 2 * design.activeCount, c = path.capacity
        if ws.productLambda != lambda {
            apply(ws.x, into: ws.q, lambda: lambda, ws)
            ws.productLambda = lambda
        }
        let slot = path.append()
        let x = path.x[slot], xx = path.xx[slot]
        let lam = Lanes(repeating: lambda), zero = Lanes()
        // One pass: the copies, x . X^T y, and the dot products with every kept slot (this one
        // included), each accumulated in index order.
        let kept = path.order, k = kept.count
        let others = kept.map { path.x[$0] }
        let sums = UnsafeMutablePointer<Lanes>.allocate(capacity: 2 * k + 1)
        defer { sums.deallocate() }
        sums.initialize(repeating: zero, count: 2 * k + 1)
        let own = kept.firstIndex(of: slot)!
        for i in 0..<n {
            // A non-finite lane (a diverged solve) is kept as zeros: it only ever serves as a start.
            let v = ws.x[i], w = ws.q[i] - lam * v
            let finite = (v - v .== zero) .& (w - w .== zero)
            let xi = zero.replacing(with: v, where: finite), wi = zero.replacing(with: w, where: finite)
            x[i] = xi
            xx[i] = wi
            sums[2 * k] += xi * ws.b[i]
            for t in 0..<k {
                let xt = t == own ? xi : others[t][i]
                sums[2 * t] += wi * xt
                sums[2 * t + 1] += xi * xt
            }
        }
        path.xb[slot] = sums[2 * k]
        for (t, other) in kept.enumerated() {
            path.xnx[slot * c + other] = sums[2 * t]
            path.xnx[other * c + slot] = sums[2 * t]
            path.xdot[slot * c + other] = sums[2 * t + 1]
            path.xdot[other * c + slot] = sums[2 * t + 1]
        }
    }

    /// Sets `ws.x` to the start for a solve at `lambda` that minimises CG's error measure (the
    /// energy norm of (X^T X + lambda I)) over the span of the solutions kept on `path`: per lane
    /// a Galerkin system of at most ``SolutionPath/capacity`` unknowns, G c = V^T b with
    /// G = V^T (X^T X + lambda I) V (from the dot products kept with the solutions), solved by
    /// Cholesky; a kept solution that adds nothing new in a lane (a pivot below 1e-12 of its
    /// diagonal entry, or not finite) gets coefficient 0 there. The last solution alone is one
    /// point of that span, so the start is never worse than it in the energy norm. With nothing
    /// kept, ws.x is zero (and the residual X^T y). Also leaves the start's residual in `ws.r`, for the solve at
    /// `lambda` that follows (``Workspace/residualLambda``). Lane-wise and in index order, so
    /// results do not depend on the block's other lanes or on threads.
    func projectStart(lambda: Double, _ path: SolutionPath, _ ws: Workspace) {
        let n = 2 * design.activeCount, k = path.count, c = path.capacity, W = IterativeRidge.width
        guard k > 0 else {
            ws.x.update(repeating: Lanes(), count: n)
            ws.r.update(from: ws.b, count: n)
            ws.residualLambda = lambda
            return
        }
        let slots = path.order
        let lam = Lanes(repeating: lambda)
        // G (k x k, lanes) and V^T b.
        var g = [Lanes](repeating: Lanes(), count: k * k), rhs = [Lanes](repeating: Lanes(), count: k)
        for a in 0..<k {
            let s = slots[a]
            for b in 0...a {
                let t = slots[b]
                let entry = path.xnx[s * c + t] + lam * path.xdot[s * c + t]
                g[a * k + b] = entry
                g[b * k + a] = entry
            }
            rhs[a] = path.xb[s]
        }
        // Per lane: Cholesky with dropped pivots, then the coefficients.
        var coefficients = [Lanes](repeating: Lanes(), count: k)
        var l = [Double](repeating: 0, count: k * k), keep = [Bool](repeating: false, count: k), y = [Double](repeating: 0, count: k)
        for lane in 0..<W {
            for a in 0..<k {
                keep[a] = false
                var d = g[a * k + a][lane]
                for b in 0..<a where keep[b] { d -= l[a * k + b] * l[a * k + b] }
                guard d.isFinite, d > 1e-12 * g[a * k + a][lane], d > 0 else { continue }
                keep[a] = true
                let s = d.squareRoot()
                l[a * k + a] = s
                for e in (a + 1)..<max(a + 1, k) {
                    var u = g[e * k + a][lane]
                    for b in 0..<a where keep[b] { u -= l[e * k + b] * l[a * k + b] }
                    l[e * k + a] = u / s
                }
            }
            for a in 0..<k where keep[a] {
                var u = rhs[a][lane]
                for b in 0..<a where keep[b] { u -= l[a * k + b] * y[b] }
                y[a] = u / l[a * k + a]
            }
            for a in stride(from: k - 1, through: 0, by: -1) {
                guard keep[a] else { coefficients[a][lane] = 0; continue }
                var u = y[a]
                for e in (a + 1)..<max(a + 1, k) where keep[e] { u -= l[e * k + a] * coefficients[e][lane] }
                coefficients[a][lane] = u / l[a * k + a]
            }
            for a in 0..<k where !coefficients[a][lane].isFinite { coefficients[a][lane] = 0 }
        }
        // The start and its residual b - sum_a c_a (X^T X x_a + lambda x_a), in one pass (no
        // product: the solve takes the residual as it is, see Workspace.residualLambda).
        let v = slots.map { path.x[$0] }, w = slots.map { path.xx[$0] }
        for i in 0..<n {
            var sum = Lanes(), product = Lanes()
            for a in 0..<k {
                sum += coefficients[a] * v[a][i]
                product += coefficients[a] * (w[a][i] + lam * v[a][i])
            }
            ws.x[i] = sum
            ws.r[i] = ws.b[i] - product
        }
        ws.residualLambda = lambda
    }
}
