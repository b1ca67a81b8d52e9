import SimfluenceKernels

/// The lag-kernel fit's B step (``LagKernelFit/effectsPath(_:_:kernel:lambdas:prior:threads:)``)
/// by conjugate gradients on the step-demeaned design, never forming the n x n normal matrix:
/// for logs whose active training examples make the dense path's matrix too large or its
/// factorisations too slow (``LagKernelFit/iterativeExampleLimit``).
///
/// Per test example z the unknowns are B(z) (one per active example) and the system is
/// (X^T P X + lambda I) B = X^T P y, X the rows K Phi C of ``LagKernelFit/normalSystem(_:_:kernel:gains:threads:)``
/// (C a run's batch entries with their weights, Phi the gains of the test example's loss scale,
/// K the kernel's lower-triangular lag matrix) and P the step-group demeaning. A product is
/// four passes over 8 test examples at once (SIMD lanes, `SimfluenceKernels`): gather C v per
/// row, the kernel along each run (running sums per bin), the demeaning and the transposed
/// kernel, then gather C^T per example. Jacobi preconditioner (the diagonal of X^T X, without
/// the demeaning); each lane runs its own CG with its own stopping test, so a test example's
/// result does not depend on its block mates nor on the threads. Lambdas are solved from the
/// largest down, each started from the solution before it.
struct LagKernelIterative {
    typealias Lanes = SIMD8<Double>
    static let width = Int(SF_LANES)

    /// Most CG iterations per lambda and block (a lane that has not converged by then makes that
    /// lambda's solution nil, as a singular dense system does).
    static let maxIterations = 20_000

    let n: Int, rows: Int
    let entryStart: [Int], local: [Int32], entryWeight: [Double]?
    let colStart: [Int], colRow: [Int32], colWeight: [Double]?
    let runRow: [Int], group: [Int64], groupScale: [Double]
    let binStarts: [Int], binWeights: [Double]
    let longest: Int
    let kernel: LagKernel
    /// Without a loss scale, the Jacobi preconditioner's diagonal, the same for every block and
    /// every ``path(_:lambdas:tolerance:start:setups:threads:)`` call (nil: per block, from its gains).
    private var sharedDiagonal: [Lanes]? = nil
    /// The design: the runs' batches (for the preconditioner) and their step groups.
    let design: LagKernelDesign

    init(_ design: LagKernelDesign, entryWeights: [[[Double]]]?, kernel: LagKernel) {
        self.design = design
        self.kernel = kernel
        n = design.n
        var entryStart = [0], local: [Int32] = [], weights: [Double] = []
        var runRow = [0], group: [Int64] = []
        for (r, batches) in design.batches.enumerated() {
            for (k, batch) in batches.enumerated() {
                for (e, i) in batch.enumerated() {
                    local.append(Int32(i))
                    weights.append(entryWeights?[r][k][e] ?? 1)
                }
                entryStart.append(local.count)
                group.append(Int64(design.firstSteps[r] + k))
            }
            runRow.append(entryStart.count - 1)
        }
        rows = entryStart.count - 1
        self.entryStart = entryStart
        self.local = local
        entryWeight = entryWeights == nil ? nil : weights
        // The transpose: per example its entries' rows, in row order.
        var counts = [Int](repeating: 0, count: n + 1)
        for i in local { counts[Int(i) + 1] += 1 }
        for i in 0..<n { counts[i + 1] += counts[i] }
        var next = counts
        var colRow = [Int32](repeating: 0, count: local.count), colWeight = [Double](repeating: 0, count: local.count)
        for r in 0..<rows {
            for e in entryStart[r]..<entryStart[r + 1] {
                let i = Int(local[e])
                colRow[next[i]] = Int32(r)
                colWeight[next[i]] = weights[e]
                next[i] += 1
            }
        }
        colStart = counts
        self.colRow = colRow
        self.colWeight = entryWeights == nil ? nil : colWeight
        self.runRow = runRow
        self.group = group
        groupScale = design.groupSizes.map { $0 > 0 ? 1 / Double($0) : 0 }
        binStarts = kernel.starts
        binWeights = kernel.weights
        longest = design.batches.map(\.count).max() ?? 0
        if kernel.lossScale == 0 { sharedDiagonal = jacobiDiagonal(phi: nil) }
    }

    /// B and the step terms (layouts of ``LagKernelFit/Solution``) for every lambda of `lambdas`
    /// (nil where some test example's CG did not reach `tolerance`, the relative residual of its
    /// normal equations), test examples in blocks of 8 spread over `threads`.
    ///
    /// `start` (B as ``LagKernelFit/Solution/theta``, for the same test examples), when given, is
    /// where the largest lambda's CG starts instead of zero: the previous B of an alternating fit.
    ///
    /// `setups` (from ``setups(width:)``, for these same targets) keeps each block's right-hand
    /// side, gains and preconditioner between calls, so a walk down a grid with one call per
    /// lambda computes them once; the results are the same with or without it.
    func path(_ targets: LagKernelFit.Targets, lambdas: [Double], tolerance: Double, start: [Double]? = nil,
              setups: BlockSetups? = nil, threads: Int) throws -> [LagKernelFit.Effects?] {
        let width = targets.width, groups = design.groupSizes.count, w = Self.width
        let blocks = (width + w - 1) / w
        // Every block writes its columns of every lambda's B and step terms in place (disjoint
        // columns), so a large log's B is held once, not also per block.
        var solved: [[Solved?]] = []
        var stepTerms: [[Double]] = []
        let thetas = try Self.filled(lambdas.count, size: n * width) { thetaOut in
            stepTerms = try Self.filled(lambdas.count, size: groups * width) { stepsOut in
                solved = try Parallel.map(blocks, threads: threads) { block -> [Solved?] in
                    let c0 = block * w, lanes = min(w, width - c0)
                    return solveBlock(targets, columns: c0..<(c0 + lanes), lambdas: lambdas, tolerance: tolerance, start: start,
                                      setups: setups, block: block) { p, theta, steps in
                        for i in 0..<n { for k in 0..<lanes { thetaOut[p].base[i * width + c0 + k] = theta[i][k] } }
                        for g in 0..<groups { for k in 0..<lanes { stepsOut[p].base[g * width + c0 + k] = steps[g][k] } }
                    }
                }
            }
        }
        return lambdas.indices.map { p -> LagKernelFit.Effects? in
            var iterations = 0, residual = 0.0
            for block in 0..<blocks {
                guard let one = solved[block][p] else { return nil }
                iterations = max(iterations, one.iterations)
                residual = max(residual, one.residual)
            }
            return (thetas[p], stepTerms[p], IterativeSolveRecord(tolerance: tolerance, maxIterations: iterations, maxRelativeResidual: residual))
        }
    }

    /// `count` arrays of `size` zeros, filled by `body` through their base addresses (which it
    /// may hand to other threads for disjoint writes) before they are returned.
    static func filled(_ count: Int, size: Int, _ body: ([RidgeSharedPointer]) throws -> Void) throws -> [[Double]] {
        guard count > 0 else {
            try body([])
            return []
        }
        var rest: [[Double]] = []
        let first = try [Double](unsafeUninitializedCapacity: max(1, size)) { buffer, initialized in
            buffer.initialize(repeating: 0)
            let head = RidgeSharedPointer(base: buffer.baseAddress!)
            rest = try filled(count - 1, size: size) { tail in try body([head] + tail) }
            initialized = max(1, size)
        }
        return [size == 0 ? [] : first] + rest
    }

    /// How one block's solve at one lambda ended: its iterations and its largest true relative
    /// residual (its B and step terms went to the path's output).
    private struct Solved {
        var iterations: Int, residual: Double
    }

    /// The per-lambda solutions of one block of test examples (`columns` of the targets; lanes
    /// past them are empty and stay 0), each handed to `write` (lambda's position, B and the step
    /// terms as lane vectors) as it is found.
    private func solveBlock(_ targets: LagKernelFit.Targets, columns: Range<Int>, lambdas: [Double],
                            tolerance: Double, start: [Double]?, setups: BlockSetups?, block: Int,
                            write: (Int, UnsafeMutablePointer<Lanes>, [Lanes]) -> Void) -> [Solved?] {
        let width = targets.width, groups = design.groupSizes.count
        let ws = Workspace(n: n, rows: rows, longest: longest, groups: groups)
        defer { ws.deallocate() }
        let setup: BlockSetups.Setup
        if let kept = setups?[block] {
            setup = kept
            ws.y.update(from: kept.y, count: rows)
            ws.b.update(from: kept.b, count: n)
        } else {
            var phi: [Lanes]? = kernel.lossScale > 0 ? [Lanes](repeating: Lanes(repeating: 1), count: rows) : nil
            for r in 0..<rows {
                for (k, c) in columns.enumerated() {
                    ws.y[r][k] = targets.y[r * width + c]
                    phi?[r][k] = kernel.gain(targets.previous[r * width + c])
                }
            }
            // b = X^T P y.
            phi.withOptionalPointer { phiPointer in
                ws.u.update(from: ws.y, count: rows)
                filter(ws, phi: phiPointer, mode: 6)
                columnsPass(ws, from: ws.u, v: nil, lambda: 0, into: ws.b)
            }
            var bNorm2 = Lanes()
            for i in 0..<n { bNorm2 += ws.b[i] * ws.b[i] }
            let keep = setups != nil
            setup = BlockSetups.Setup(phi: phi, diagonal: sharedDiagonal ?? jacobiDiagonal(phi: phi), bNorm2: bNorm2,
                                      y: keep ? Array(UnsafeBufferPointer(start: ws.y, count: rows)) : [],
                                      b: keep ? Array(UnsafeBufferPointer(start: ws.b, count: n)) : [])
            setups?[block] = setup
        }
        let diagonal = setup.diagonal, bNorm2 = setup.bNorm2
        return setup.phi.withOptionalPointer { phiPointer in
            ws.x.update(repeating: Lanes(), count: n)
            var started = false
            if let start {
                for i in 0..<n { for (k, c) in columns.enumerated() { ws.x[i][k] = start[i * width + c] } }
                started = true
            }
            var out = [Solved?](repeating: nil, count: lambdas.count)
            for p in lambdas.indices.sorted(by: { lambdas[$0] > lambdas[$1] }) {
                let lambda = lambdas[p]
                guard lambda.isFinite, lambda >= 0 else { continue }
                let (converged, iterations, residual2) = conjugateGradients(ws, phi: phiPointer, lambda: lambda, diagonal: diagonal,
                                                                            bNorm2: bNorm2, tolerance: tolerance, warm: started)
                if let trace = IterativeRidge.trace {
                    trace("lag-kernel cg lambda=\(lambda) tests=\(columns.lowerBound)... iterations=\(iterations) converged=\(converged)")
                }
                started = true
                guard converged else {
                    ws.x.update(repeating: Lanes(), count: n)
                    started = false
                    continue
                }
                var residual = 0.0
                for k in 0..<columns.count where bNorm2[k] > 0 { residual = max(residual, (residual2[k] / bNorm2[k]).squareRoot()) }
                write(p, ws.x, stepTerms(ws, phi: phiPointer, groups: groups))
                out[p] = Solved(iterations: iterations, residual: residual)
            }
            return out
        }
    }

    /// CG on (X^T P X + lambda I) x = b from ws.x (zero unless `warm`), Jacobi-preconditioned;
    /// cycles end with the true residual recomputed and restart (at most 3 times) where it is
    /// above the tolerance. Returns whether every lane with a right-hand side converged, the
    /// iterations, and the last recomputed squared residual norms.
    private func conjugateGradients(_ ws: Workspace, phi: UnsafePointer<Lanes>?, lambda: Double, diagonal: [Lanes],
                                    bNorm2: Lanes, tolerance: Double, warm: Bool) -> (Bool, Int, Lanes) {
        let target2 = tolerance * tolerance * bNorm2
        let inverseArray = diagonal.map { 1 / ($0 + Lanes(repeating: lambda)) }
        return inverseArray.withUnsafeBufferPointer { inverse in
            cycles(ws, phi: phi, lambda: lambda, inverse: inverse, bNorm2: bNorm2, target2: target2, warm: warm)
        }
    }

    /// The cycles of ``conjugateGradients(_:phi:lambda:diagonal:bNorm2:tolerance:warm:)`` with the
    /// preconditioner's inverse diagonal at lambda.
    private func cycles(_ ws: Workspace, phi: UnsafePointer<Lanes>?, lambda: Double, inverse: UnsafeBufferPointer<Lanes>,
                        bNorm2: Lanes, target2: Lanes, warm: Bool) -> (Bool, Int, Lanes) {
        let (x, r, p, q, b) = (ws.x, ws.r, ws.p, ws.q, ws.b)
        let live = bNorm2 .> Lanes()
        var total = 0, restarts = 0
        while true {
            // r = b - N x.
            var rr = Lanes()
            if warm || restarts > 0 {
                apply(ws, x, into: q, phi: phi, lambda: lambda)
                for i in 0..<n { r[i] = b[i] - q[i]; rr += r[i] * r[i] }
            } else {
                for i in 0..<n { r[i] = b[i]; rr += r[i] * r[i] }
            }
            var active = live .& (rr .> target2)
            if restarts > 0 || warm {
                if !any(active) { return (true, total, rr) }
                if restarts > 3 || total >= Self.maxIterations { return (false, total, rr) }
            }
            var rz = Lanes()
            for i in 0..<n {
                let z = inverse[i] * r[i]
                p[i] = Lanes().replacing(with: z, where: active)
                rz += r[i] * z
            }
            while any(active) && total < Self.maxIterations {
                let pq = apply(ws, p, into: q, phi: phi, lambda: lambda)
                let alpha = Lanes().replacing(with: rz / pq, where: active)
                var rzNew = Lanes(), rrNew = Lanes()
                for i in 0..<n {
                    x[i] += alpha * p[i]
                    let ri = r[i] - alpha * q[i]
                    r[i] = ri
                    rzNew += ri * (inverse[i] * ri)
                    rrNew += ri * ri
                }
                let still = active .& (rrNew .> target2)
                let beta = Lanes().replacing(with: rzNew / rz, where: still)
                for i in 0..<n {
                    p[i] = Lanes().replacing(with: inverse[i] * r[i] + beta * p[i], where: still)
                }
                rz = rzNew
                active = still
                total += 1
            }
            restarts += 1
        }
    }

    /// q = (X^T P X + lambda I) v; returns v . q per lane.
    @discardableResult
    private func apply(_ ws: Workspace, _ v: UnsafeMutablePointer<Lanes>, into q: UnsafeMutablePointer<Lanes>,
                       phi: UnsafePointer<Lanes>?, lambda: Double) -> Lanes {
        rowsPass(ws, v)
        filter(ws, phi: phi, mode: 7)
        return columnsPass(ws, from: ws.u, v: v, lambda: lambda, into: q)
    }

    /// v_g = mean over group g's rows of y - X x (X without the demeaning).
    private func stepTerms(_ ws: Workspace, phi: UnsafePointer<Lanes>?, groups: Int) -> [Lanes] {
        rowsPass(ws, ws.x)
        filter(ws, phi: phi, mode: 1)
        var steps = [Lanes](repeating: Lanes(), count: groups)
        for r in 0..<rows { steps[Int(group[r])] += ws.y[r] - ws.u[r] }
        for g in 0..<groups { steps[g] *= Lanes(repeating: groupScale[g]) }
        return steps
    }

    /// The diagonal of X^T X (the Jacobi preconditioner): per example, over its entries p, p' in
    /// the same run (steps s, s', weights a, a'), a a' phi_s phi_s' sum_k kappa(k - s) kappa(k - s').
    /// Without gains (`phi` nil) it is the same for every block of test examples.
    private func jacobiDiagonal(phi: [Lanes]?) -> [Lanes] {
        var diagonal = [Lanes](repeating: Lanes(), count: n)
        var grams: [Int: LagGram] = [:]
        // Per run, each example's entries chained: head[i] its last entry in the run (-1: none
        // yet, reset after the run), previous[e] the entry before e.
        var head = [Int](repeating: -1, count: n), previous = [Int](repeating: -1, count: local.count)
        var stepOf = [Int](repeating: 0, count: local.count)
        for r in design.batches.indices {
            let a = runRow[r], steps = runRow[r + 1] - a
            if grams[steps] == nil { grams[steps] = LagGram(kernel, steps: steps) }
            let gram = grams[steps]!
            var members: [Int] = []
            for k in 0..<steps {
                for e in entryStart[a + k]..<entryStart[a + k + 1] {
                    let i = Int(local[e])
                    if head[i] < 0 { members.append(i) }
                    previous[e] = head[i]
                    head[i] = e
                    stepOf[e] = k
                }
            }
            for i in members {
                var p = head[i]
                while p >= 0 {
                    var q = head[i]
                    while q >= 0 {
                        let (s, s2) = (stepOf[p], stepOf[q])
                        let g = gram.value(max(s, s2), min(s, s2)) * (entryWeight?[p] ?? 1) * (entryWeight?[q] ?? 1)
                        if let phi { diagonal[i] += g * (phi[a + s] * phi[a + s2]) } else { diagonal[i] += Lanes(repeating: g) }
                        q = previous[q]
                    }
                    p = previous[p]
                }
                head[i] = -1
            }
        }
        return diagonal.map { d in Lanes(repeating: 1).replacing(with: d, where: d .> Lanes()) }
    }

    private func rowsPass(_ ws: Workspace, _ v: UnsafeMutablePointer<Lanes>) {
        entryStart.withUnsafeBufferPointer { es in
            local.withUnsafeBufferPointer { lo in
                entryWeight.withOptionalBuffer { ew in
                    sf_lag_rows(rows, es.baseAddress, lo.baseAddress, ew, laneDoubles(v), laneDoubles(ws.u))
                }
            }
        }
    }

    @discardableResult
    private func columnsPass(_ ws: Workspace, from t: UnsafeMutablePointer<Lanes>, v: UnsafeMutablePointer<Lanes>?,
                             lambda: Double, into out: UnsafeMutablePointer<Lanes>) -> Lanes {
        var dot = Lanes()
        colStart.withUnsafeBufferPointer { cs in
            colRow.withUnsafeBufferPointer { cr in
                colWeight.withOptionalBuffer { cw in
                    withUnsafeMutablePointer(to: &dot) { d in
                        sf_lag_columns(n, cs.baseAddress, cr.baseAddress, cw, laneDoubles(t), v.map { UnsafePointer(laneDoubles($0)) },
                                       lambda, laneDoubles(out), laneDoubles(d))
                    }
                }
            }
        }
        return dot
    }

    private func filter(_ ws: Workspace, phi: UnsafePointer<Lanes>?, mode: Int32) {
        runRow.withUnsafeBufferPointer { rr in
            binStarts.withUnsafeBufferPointer { bs in
                binWeights.withUnsafeBufferPointer { bw in
                    group.withUnsafeBufferPointer { g in
                        groupScale.withUnsafeBufferPointer { gs in
                            sf_lag_filter(runRow.count - 1, rr.baseAddress, binStarts.count, bs.baseAddress, bw.baseAddress,
                                          phi.map { UnsafeRawPointer($0).assumingMemoryBound(to: Double.self) },
                                          g.baseAddress, gs.baseAddress, groupScale.count, laneDoubles(ws.u),
                                          laneDoubles(ws.scratch), laneDoubles(ws.groupScratch), mode)
                        }
                    }
                }
            }
        }
    }

    /// The bytes ``setups(width:)`` may keep: 256 MB. Above it each call recomputes them.
    static let setupBudget = 1 << 28

    /// A place to keep every block's setup between ``path(_:lambdas:tolerance:start:setups:threads:)``
    /// calls on the same targets of `width` test examples, or nil when they would take more than
    /// ``setupBudget`` (per block the gains and y per row, b and the diagonal per example).
    func setups(width: Int) -> BlockSetups? {
        Self.setupBytes(width: width, rows: rows, n: n) <= Self.setupBudget
            ? BlockSetups(count: (width + Self.width - 1) / Self.width) : nil
    }

    /// The bytes of every block's setup for `width` test examples on a design of `rows` rows and
    /// `n` active examples (kept by ``setups(width:)`` when at most ``setupBudget``).
    static func setupBytes(width: Int, rows: Int, n: Int) -> Int {
        (width + Self.width - 1) / Self.width * (2 * rows + 2 * n) * MemoryLayout<Lanes>.stride
    }

    /// What a block's solves share whatever lambda: the gains (nil without a loss scale), the
    /// Jacobi diagonal, b = X^T P y and its squared norms, and y; one slot per block, each
    /// written and read only by the thread solving that block within a call (calls follow one
    /// another).
    final class BlockSetups: @unchecked Sendable {
        struct Setup {
            var phi: [Lanes]?
            var diagonal: [Lanes]
            var bNorm2: Lanes
            var y: [Lanes]
            var b: [Lanes]
        }
        // Allocated once: threads write distinct slots without touching a shared array header.
        private let slots: UnsafeMutableBufferPointer<Setup?>
        init(count: Int) {
            slots = .allocate(capacity: max(1, count))
            slots.initialize(repeating: nil)
        }
        deinit {
            slots.deinitialize()
            slots.deallocate()
        }
        subscript(block: Int) -> Setup? {
            get { slots[block] }
            set { slots[block] = newValue }
        }
    }

    /// One block's vectors (lane vectors): per example b, x, r, p, q; per row y and u; scratch.
    private final class Workspace {
        let b, x, r, p, q, y, u, scratch, groupScratch: UnsafeMutablePointer<Lanes>

        init(n: Int, rows: Int, longest: Int, groups: Int) {
            func make(_ count: Int) -> UnsafeMutablePointer<Lanes> {
                let p = UnsafeMutablePointer<Lanes>.allocate(capacity: max(1, count))
                p.initialize(repeating: Lanes(), count: max(1, count))
                return p
            }
            (b, x, r, p, q) = (make(n), make(n), make(n), make(n), make(n))
            (y, u) = (make(rows), make(rows))
            scratch = make(longest + 1)
            groupScratch = make(groups)
        }

        func deallocate() {
            for v in [b, x, r, p, q, y, u, scratch, groupScratch] { v.deallocate() }
        }
    }
}

private extension Optional where Wrapped == [Double] {
    /// The array's base address (nil for nil) for the duration of `body`.
    func withOptionalBuffer<R>(_ body: (UnsafePointer<Double>?) -> R) -> R {
        guard let array = self else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

private extension Optional where Wrapped == [SIMD8<Double>] {
    /// The array's base address (nil for nil) for the duration of `body`.
    func withOptionalPointer<R>(_ body: (UnsafePointer<SIMD8<Double>>?) -> R) -> R {
        guard let array = self else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
