/// Fits the lag-kernel simulator (Docs/Methods.md, "lag-kernel"): per test example z,
///
///     L_t = clamp( L_{t-1} + sum_{s <= t} kappa(t - s) sum_{i in c_s} B_i(z) + v_t(z) )
///
/// with one lag kernel kappa shared by every training and test example (``LagKernel``, its first
/// bin fixed to 1), by teacher-forced ridge on the loss changes with step fixed effects:
///
///     sum_{r,t,z} ( (L_t - L_{t-1}) - sum_{s <= t} kappa(t - s) beta_z(c_s) - v_t(z) )^2  +  lambda sum_z |B(z)|^2
///
/// minimised by alternating least squares: B for all test examples given the kernel (one ridge
/// system shared by every test example, since the design does not depend on z), then the kernel
/// given B (a least-squares problem in the bin weights, summed over test examples). Each step
/// lowers the objective; iterations stop when no weight moves by more than ``tolerance``
/// (relative to the largest weight) or after ``maxIterations`` (the kernel converges slowly
/// along the direction that trades its scale against lambda's shrinkage of B, which barely moves
/// the predictions). lambda is cross-validated over whole training runs with ``LambdaSearch``'s
/// folds and score (all-steps MSE of clamped rollouts of the validation runs) under a pilot
/// kernel (see ``crossValidate(log:runs:tests:grid:folds:prior:threads:)``).
public enum LagKernelFit {
    /// Most kernel updates of one fit.
    public static let maxIterations = 20
    /// A fit stops when no kernel weight changes by more than this, relative to the largest.
    public static let tolerance = 1e-3

    /// One fit at a fixed lambda: the kernel, B (unknowns x tests, row-major), the step terms and
    /// the iterations used.
    struct Solution {
        var kernel: LagKernel
        /// theta[j * tests + c]: B of active example j for the c-th fitted test example.
        var theta: [Double]
        /// steps[s * tests + c]: v at absolute step s (rows of absent steps are zero).
        var steps: [Double]
        var iterations: Int
    }

    /// The targets of `design`'s rows: rows x tests loss changes, and their step-group sums.
    struct Targets {
        var y: [Double]
        var groupSums: [Double]
        let width: Int

        init(runs: [TrainingRun], tests: [Int], design: LagKernelDesign) throws {
            width = tests.count
            y = []
            y.reserveCapacity(design.rowCount * width)
            groupSums = [Double](repeating: 0, count: design.groupSizes.count * width)
            for (r, run) in runs.enumerated() {
                for k in 0..<(run.losses.rows - 1) {
                    let step = design.firstSteps[r] + k
                    for (c, z) in tests.enumerated() {
                        let d = run.losses[k + 1, z] - run.losses[k, z]
                        guard d.isFinite else {
                            throw SimfluenceError.invalidArgument("run \(run.name): the loss of test example \(z) at step \(step) is not finite; the lag-kernel fit needs every loss")
                        }
                        y.append(d)
                        groupSums[step * width + c] += d
                    }
                }
            }
        }
    }

    /// Alternating least squares from `start` (kept fixed when `fixedKernel`).
    static func solve(_ design: LagKernelDesign, _ targets: Targets, lambda: Double, start: LagKernel, prior: Matrix? = nil,
                      fixedKernel: Bool = false, maxIterations: Int = maxIterations, tolerance: Double = tolerance,
                      threads: Int) throws -> Solution {
        var kernel = start
        var theta = try thetaStep(design, targets, system: normalSystem(design, targets, kernel: kernel), lambda: lambda,
                                  prior: prior, threads: threads)
        var iterations = 0
        while !fixedKernel && iterations < maxIterations {
            iterations += 1
            FitProgress.report("lag-kernel: fitting the kernel", "lambda \(lambda)", done: iterations - 1, total: maxIterations)
            let next = kernelStep(design, targets, theta: theta.theta, kernel: kernel, threads: threads)
            let scale = max(1, next.weights.map(abs).max() ?? 1)
            let moved = zip(next.weights, kernel.weights).map { abs($0 - $1) }.max() ?? 0
            kernel = next
            theta = try thetaStep(design, targets, system: normalSystem(design, targets, kernel: kernel), lambda: lambda,
                                  prior: prior, threads: threads)
            if moved <= tolerance * scale { break }
        }
        return Solution(kernel: kernel, theta: theta.theta, steps: theta.steps, iterations: iterations)
    }

    /// The ridge normal equations of the step-demeaned design under one kernel (X^T X minus the
    /// step-group terms, packed lower triangle; X^T y likewise, unknowns x tests), with the
    /// step-group sums of X the step terms need. They do not depend on lambda.
    struct NormalSystem {
        var normal: [Double]
        var rhs: [Double]
        var groupX: [Double]
    }

    static func normalSystem(_ design: LagKernelDesign, _ targets: Targets, kernel: LagKernel) -> NormalSystem {
        let n = design.n, width = targets.width, groups = design.groupSizes.count
        var normal = [Double](repeating: 0, count: PackedCholesky.packedCount(n))
        var rhs = [Double](repeating: 0, count: n * width)
        var groupX = [Double](repeating: 0, count: groups * n)
        var row = 0
        var nonzero = [Int]()
        nonzero.reserveCapacity(n)
        normal.withUnsafeMutableBufferPointer { nm in
            rhs.withUnsafeMutableBufferPointer { rh in
                targets.y.withUnsafeBufferPointer { y in
                    design.forEachRow(kernel: kernel) { _, _, step, x in
                        nonzero.removeAll(keepingCapacity: true)
                        for j in 0..<n where x[j] != 0 { nonzero.append(j) }
                        let yRow = row * width
                        for (p, i) in nonzero.enumerated() {
                            let xi = x[i], base = PackedCholesky.rowStart(i)
                            for q in 0...p { nm[base + nonzero[q]] += xi * x[nonzero[q]] }
                            let out = i * width
                            for c in 0..<width { rh[out + c] += xi * y[yRow + c] }
                            groupX[step * n + i] += xi
                        }
                        row += 1
                    }
                }
            }
        }
        // Step fixed effects: subtract every group's mean outer products.
        for s in 0..<groups where design.groupSizes[s] > 0 {
            let inv = 1 / Double(design.groupSizes[s])
            let g = s * n
            for i in 0..<n where groupX[g + i] != 0 {
                let gi = groupX[g + i] * inv, base = PackedCholesky.rowStart(i)
                for j in 0...i { normal[base + j] -= gi * groupX[g + j] }
                for c in 0..<width { rhs[i * width + c] -= gi * targets.groupSums[s * width + c] }
            }
        }
        return NormalSystem(normal: normal, rhs: rhs, groupX: groupX)
    }

    /// B for every test example given the kernel's normal equations and lambda (one factorisation
    /// shared by every test example), and the step terms v_s = mean over the step's rows of
    /// y - x . B.
    ///
    /// With a `prior` (tests x train, rows in the fitted tests' order: gradient scores g(z)), the
    /// ridge shrinks B(z) towards gamma_z g(z) instead of 0, gamma_z free:
    /// min |y - X B|^2 + lambda |B - gamma g|^2. For fixed gamma, B = B0 + gamma h with
    /// B0 = (N + lambda I)^-1 X^T y and h = lambda (N + lambda I)^-1 g; the objective is then a
    /// quadratic in gamma, minimised in closed form with N h and N B0 from the packed N.
    static func thetaStep(_ design: LagKernelDesign, _ targets: Targets, system: NormalSystem, lambda: Double,
                          prior: Matrix? = nil, threads: Int) throws -> (theta: [Double], steps: [Double]) {
        let n = design.n, width = targets.width, groups = design.groupSizes.count
        var normal = system.normal
        for i in 0..<n { normal[PackedCholesky.rowStart(i) + i] += lambda }
        var theta = [Double](repeating: 0, count: n * width)
        if n > 0 {
            let failed = normal.withUnsafeMutableBufferPointer { PackedCholesky.factor($0.baseAddress!, n: n) }
            if failed != nil {
                throw SimfluenceError.invalidArgument("the lag-kernel normal equations are singular at lambda = \(lambda); use a lambda > 0")
            }
            let factor = normal, rhs = system.rhs, gram = system.normal, active = design.active
            let columns = try Parallel.map(width, threads: threads) { c -> [Double] in
                // PackedCholesky.solve only reads the factor, so every test example shares it.
                func solved(_ v: [Double]) -> [Double] {
                    var x = v
                    factor.withUnsafeBufferPointer { p in
                        x.withUnsafeMutableBufferPointer { PackedCholesky.solve(p.baseAddress!, n: n, $0.baseAddress!) }
                    }
                    return x
                }
                let r = (0..<n).map { rhs[$0 * width + c] }
                let b0 = solved(r)
                guard let prior else { return b0 }
                let g = active.map { prior[c, $0] }
                let h = solved(g.map { lambda * $0 })
                let nh = symmetricProduct(gram, h), nb0 = symmetricProduct(gram, b0)
                var rh = 0.0, hNh = 0.0, d0dh = 0.0, dhdh = 0.0
                for i in 0..<n {
                    rh += (r[i] - nb0[i]) * h[i]
                    hNh += h[i] * nh[i]
                    let dh = h[i] - g[i]
                    d0dh += b0[i] * dh
                    dhdh += dh * dh
                }
                let denominator = hNh + lambda * dhdh
                let gamma = denominator > 0 ? (rh - lambda * d0dh) / denominator : 0
                return (0..<n).map { b0[$0] + gamma * h[$0] }
            }
            for c in 0..<width { for i in 0..<n { theta[i * width + c] = columns[c][i] } }
        }
        var steps = [Double](repeating: 0, count: groups * width)
        for s in 0..<groups where design.groupSizes[s] > 0 {
            let inv = 1 / Double(design.groupSizes[s])
            for c in 0..<width {
                var fitted = 0.0
                for i in 0..<n { fitted += system.groupX[s * n + i] * theta[i * width + c] }
                steps[s * width + c] = (targets.groupSums[s * width + c] - fitted) * inv
            }
        }
        return (theta, steps)
    }

    /// M v for a symmetric M held as its packed lower triangle.
    static func symmetricProduct(_ packed: [Double], _ v: [Double]) -> [Double] {
        let n = v.count
        var out = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let base = PackedCholesky.rowStart(i)
            var sum = 0.0
            for j in 0..<i {
                sum += packed[base + j] * v[j]
                out[j] += packed[base + j] * v[i]
            }
            out[i] += sum + packed[base + i] * v[i]
        }
        return out
    }

    /// The kernel given B: least squares in the bin weights (the first fixed to 1) of the
    /// step-demeaned per-bin regressors F_m = sum over the bin's lags of beta_z(c_s), summed over
    /// rows and test examples (per-test sums in test order, whatever the thread count).
    static func kernelStep(_ design: LagKernelDesign, _ targets: Targets, theta: [Double], kernel: LagKernel,
                           threads: Int) -> LagKernel {
        let bins = kernel.starts.count, width = targets.width, groups = design.groupSizes.count
        guard bins > 1 else { return kernel }
        let partials = (try? Parallel.map(width, threads: threads) { c -> [Double] in
            // [F^T F (bins x bins) | F^T y (bins)] for test c, step-demeaned.
            var moments = [Double](repeating: 0, count: bins * bins + bins)
            var groupF = [Double](repeating: 0, count: groups * bins)
            var f = [Double](repeating: 0, count: bins)
            var row = 0
            for (r, runBatches) in design.batches.enumerated() {
                var prefix = [Double](repeating: 0, count: runBatches.count + 1)
                for (k, batch) in runBatches.enumerated() {
                    var beta = 0.0
                    for i in batch { beta += theta[i * width + c] }
                    prefix[k + 1] = prefix[k] + beta
                }
                for k in runBatches.indices {
                    let step = design.firstSteps[r] + k
                    for m in 0..<bins { f[m] = kernel.binSum(m, row: k) { prefix[$0] } }
                    let y = targets.y[row * width + c]
                    for m in 0..<bins {
                        for q in 0...m { moments[m * bins + q] += f[m] * f[q] }
                        moments[bins * bins + m] += f[m] * y
                        groupF[step * bins + m] += f[m]
                    }
                    row += 1
                }
            }
            for s in 0..<groups where design.groupSizes[s] > 0 {
                let inv = 1 / Double(design.groupSizes[s])
                let gy = targets.groupSums[s * width + c]
                for m in 0..<bins {
                    let gm = groupF[s * bins + m] * inv
                    for q in 0...m { moments[m * bins + q] -= gm * groupF[s * bins + q] }
                    moments[bins * bins + m] -= gm * gy
                }
            }
            return moments
        }) ?? []
        var total = [Double](repeating: 0, count: bins * bins + bins)
        for p in partials { for e in p.indices { total[e] += p[e] } }
        // Unknowns: weights 1..<bins; weight 0 is 1.
        let u = bins - 1
        var packed = [Double](repeating: 0, count: PackedCholesky.packedCount(u))
        var rhs = [Double](repeating: 0, count: u)
        var largest = 0.0
        for m in 1..<bins {
            for q in 1...m { packed[PackedCholesky.rowStart(m - 1) + q - 1] = total[m * bins + q] }
            rhs[m - 1] = total[bins * bins + m] - total[m * bins + 0]
            largest = max(largest, total[m * bins + m])
        }
        // A bin no row reaches (or B = 0) has no information: a tiny ridge keeps it at 0.
        for m in 0..<u { packed[PackedCholesky.rowStart(m) + m] += 1e-12 * max(largest, 1e-300) }
        let failed = packed.withUnsafeMutableBufferPointer { PackedCholesky.factor($0.baseAddress!, n: u) }
        guard failed == nil else { return kernel }
        packed.withUnsafeMutableBufferPointer { p in
            rhs.withUnsafeMutableBufferPointer { PackedCholesky.solve(p.baseAddress!, n: u, $0.baseAddress!) }
        }
        return LagKernel(starts: kernel.starts, weights: [1] + rhs)
    }

    /// The simulator of a solution: B and the step terms in the model's layout, the clamp range,
    /// the kernel.
    static func simulator(_ solution: Solution, method: MethodName, design: LagKernelDesign, log: TrainingLog,
                          runs: [TrainingRun], tests: [Int], lambda: Double, provenance: FitProvenance) -> FittedSimulator {
        let width = tests.count, trainCount = design.trainCount
        var b = Matrix(rows: width, columns: trainCount)
        var seen = [Bool](repeating: false, count: trainCount)
        for (j, g) in design.active.enumerated() {
            seen[g] = true
            for c in 0..<width { b[c, g] = solution.theta[j * width + c] }
        }
        // Step terms: column s - 1 holds step s; steps no run reached take the nearest earlier
        // step's term (the first present step's before it).
        let last = max(1, design.lastStep)
        var v = Matrix(rows: width, columns: last)
        let present = (1...last).filter { $0 < design.groupSizes.count && design.groupSizes[$0] > 0 }
        if let first = present.first {
            var source = first
            for s in 1...last {
                if s < design.groupSizes.count && design.groupSizes[s] > 0 { source = s }
                for c in 0..<width { v[c, s - 1] = solution.steps[source * width + c] }
            }
        }
        let bounds = ExtendedFit.bounds(runs, tests: tests, multiple: ExtendedConfiguration.defaultClampMultiple)
        var sim = FittedSimulator(method: method, form: .additive, lambda: lambda, trainIDs: log.trainIDs,
                                  testIDs: tests.map { log.testIDs[$0] }, a: Matrix(rows: width, columns: trainCount), b: b,
                                  seen: seen, fittedOn: runs.map(\.name), startingStep: runs.map(\.firstLossStep).min() ?? 0,
                                  startingLosses: meanStartingLosses(runs, tests: tests), provenance: provenance)
        sim.stepAlpha = Matrix(rows: width, columns: last)
        sim.stepBeta = v
        sim.lossLower = bounds.lower
        sim.lossUpper = bounds.upper
        sim.lagKernel = solution.kernel
        return sim
    }
}
