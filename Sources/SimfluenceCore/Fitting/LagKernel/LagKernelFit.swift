import SimfluenceKernels

/// Fits the lag-kernel simulator (Docs/Methods.md, "lag-kernel"): per test example z,
///
///     L_t = clamp( L_{t-1} + sum_{s <= t} kappa(t - s) phi(L_{s-1}) sum_{i in c_s} B_i(z) + v_t(z) )
///
/// with one lag kernel kappa shared by every training and test example (``LagKernel``, its first
/// bin fixed to 1) and phi its gain (1, or 1 - exp(-L / tau) with a loss scale tau), by
/// teacher-forced ridge on the loss changes with step fixed effects (phi of the recorded losses):
///
///     sum_{r,t,z} ( (L_t - L_{t-1}) - sum_{s <= t} kappa(t - s) phi(L_{s-1}) beta_z(c_s) - v_t(z) )^2  +  lambda sum_z |B(z)|^2
///
/// minimised by alternating least squares: B for all test examples given the kernel (without a
/// loss scale one ridge system shared by every test example, since the design does not depend on
/// z; with one, a system per test example), then the kernel
/// given B (a least-squares problem in the bin weights, summed over test examples). Each step
/// lowers the objective; iterations stop when no weight moves by more than ``tolerance``
/// (relative to the largest weight) or after ``maxIterations`` (the kernel converges slowly
/// along the direction that trades its scale against lambda's shrinkage of B, which barely moves
/// the predictions). lambda is cross-validated over whole training runs with ``LambdaSearch``'s
/// folds and score (all-steps MSE of clamped rollouts of the validation runs) under a pilot
/// kernel, and the loss scale with it (see ``crossValidate(log:runs:tests:grid:folds:prior:lossScales:threads:)``).
public enum LagKernelFit {
    /// Most kernel updates of one fit.
    public static let maxIterations = 20
    /// A fit stops when no kernel weight changes by more than this, relative to the largest.
    public static let tolerance = 1e-3

    /// B (unknowns x tests, row-major, as ``Solution/theta``), the step terms (as
    /// ``Solution/steps``) and, from conjugate gradients, how the solve ended (nil from the dense
    /// path).
    typealias Effects = (theta: [Double], steps: [Double], solve: IterativeSolveRecord?)

    /// One fit at a fixed lambda: the kernel, B (unknowns x tests, row-major), the step terms and
    /// the iterations used.
    struct Solution {
        var kernel: LagKernel
        /// theta[j * tests + c]: B of active example j for the c-th fitted test example.
        var theta: [Double]
        /// steps[s * tests + c]: v at absolute step s (rows of absent steps are zero).
        var steps: [Double]
        var iterations: Int
        /// The last B step's conjugate gradients (nil: dense).
        var solve: IterativeSolveRecord? = nil
    }

    /// The targets of `design`'s rows: rows x tests loss changes, and their step-group sums.
    struct Targets {
        var y: [Double]
        var groupSums: [Double]
        /// previous[row * width + c]: the loss before the row's step (what the kernel's gain reads).
        var previous: [Double]
        let width: Int
        /// entryWeights[r][k][e]: what the e-th entry of run r's batch at simulated step k counts
        /// in the design (``Saturation``'s psi); nil: every entry counts 1.
        var entryWeights: [[[Double]]]? = nil

        init(y: [Double], groupSums: [Double], previous: [Double], width: Int, entryWeights: [[[Double]]]? = nil) {
            self.y = y
            self.groupSums = groupSums
            self.previous = previous
            self.width = width
            self.entryWeights = entryWeights
        }

        /// The targets of the c-th test example alone (width 1; the entry weights are shared).
        func column(_ c: Int) -> Targets { columns([c]) }

        /// The targets of the test examples at positions `cs` (in that order; the entry weights are shared).
        func columns(_ cs: [Int]) -> Targets {
            let rows = y.count / max(width, 1), groups = groupSums.count / max(width, 1)
            func pick(_ values: [Double], _ count: Int) -> [Double] {
                var out: [Double] = []
                out.reserveCapacity(count * cs.count)
                for r in 0..<count { for c in cs { out.append(values[r * width + c]) } }
                return out
            }
            return Targets(y: pick(y, rows), groupSums: pick(groupSums, groups), previous: pick(previous, rows), width: cs.count,
                           entryWeights: entryWeights)
        }

        /// These targets with every batch entry weighted by ``Saturation``'s psi at `exponent`,
        /// read from the recorded losses before each step (``previous``, every test example of
        /// the targets) with w from `theta` (B of the active examples, unknowns x tests, as
        /// ``Solution/theta``): teacher forcing of what a rollout simulates. Runs in parallel.
        func saturated(_ design: LagKernelDesign, theta: [Double], exponent: Double, threads: Int) throws -> Targets {
            let width = self.width, n = design.n
            let saturation = Saturation(exponent: exponent, members: Array(0..<n), width: width) { k, z in theta[k * width + z] }
            var starts = [Int]()
            var row = 0
            for batches in design.batches {
                starts.append(row)
                row += batches.count
            }
            let previous = self.previous, firstRows = starts
            let weights = try Parallel.map(design.batches.count, threads: threads) { r -> [[Double]] in
                previous.withUnsafeBufferPointer { p in
                    design.batches[r].enumerated().map { k, batch in
                        let psi = saturation.psi(UnsafeBufferPointer(rebasing: p[((firstRows[r] + k) * width)..<((firstRows[r] + k + 1) * width)]))
                        return batch.map { psi[$0] }
                    }
                }
            }
            var out = self
            out.entryWeights = weights
            return out
        }

        /// The kernel's gain of every row's previous loss for the c-th test example, in row order.
        func gains(_ kernel: LagKernel, column c: Int) -> [Double] {
            (0..<(y.count / max(width, 1))).map { kernel.gain(previous[$0 * width + c]) }
        }

        init(runs: [TrainingRun], tests: [Int], design: LagKernelDesign) throws {
            width = tests.count
            y = []
            y.reserveCapacity(design.rowCount * width)
            previous = []
            previous.reserveCapacity(design.rowCount * width)
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
                        previous.append(run.losses[k, z])
                        groupSums[step * width + c] += d
                    }
                }
            }
        }
    }

    /// Alternating least squares from `start` (kept fixed when `fixedKernel`).
    /// With a saturation exponent in `start`: that fit without psi first, at `saturationLambda`
    /// (default `lambda`), then B and the step terms refitted at `lambda` under its kernel with
    /// every batch entry weighted by psi (w from the first fit's B;
    /// ``Targets/saturated(_:theta:exponent:threads:)``).
    ///
    /// With a `kernelSample` (positions of test examples in the targets: ``kernelSample(_:tests:runs:prior:)``)
    /// the kernel is fitted by alternation on those test examples alone, then held while B and
    /// the step terms are fitted for all.
    static func solve(_ design: LagKernelDesign, _ targets: Targets, lambda: Double, start: LagKernel, prior: [Matrix]? = nil,
                      fixedKernel: Bool = false, maxIterations: Int = maxIterations, tolerance: Double = tolerance,
                      saturationLambda: Double? = nil, kernelSample: [Int]? = nil, threads: Int) throws -> Solution {
        if start.saturation > 0 {
            var plainStart = start
            plainStart.saturation = 0
            let plain = try solve(design, targets, lambda: saturationLambda ?? lambda, start: plainStart, prior: prior,
                                  fixedKernel: fixedKernel, maxIterations: maxIterations, tolerance: tolerance,
                                  kernelSample: kernelSample, threads: threads)
            var kernel = plain.kernel
            kernel.saturation = start.saturation
            let weighted = try targets.saturated(design, theta: plain.theta, exponent: start.saturation, threads: threads)
            let refitted = try effects(design, weighted, kernel: kernel, lambda: lambda, prior: prior, threads: threads)
            return Solution(kernel: kernel, theta: refitted.theta, steps: refitted.steps, iterations: plain.iterations,
                            solve: refitted.solve)
        }
        if let kernelSample, !fixedKernel {
            let sampled = try solve(design, targets.columns(kernelSample), lambda: lambda, start: start, prior: prior,
                                    maxIterations: maxIterations, tolerance: tolerance, threads: threads)
            let all = try effects(design, targets, kernel: sampled.kernel, lambda: lambda, prior: prior, threads: threads)
            return Solution(kernel: sampled.kernel, theta: all.theta, steps: all.steps, iterations: sampled.iterations, solve: all.solve)
        }
        var kernel = start
        // Conjugate gradients solve the B steps while the kernel still moves to
        // ``alternationTolerance`` only, each from the B before it, and the last B to
        // ``iterativeTolerance`` (the dense path solves every step exactly).
        let loose = fixedKernel ? design.tolerance : max(alternationTolerance, design.tolerance)
        var theta = try effects(design, targets, kernel: kernel, lambda: lambda, prior: prior, tolerance: loose, threads: threads)
        var iterations = 0
        while !fixedKernel && iterations < maxIterations {
            iterations += 1
            FitProgress.report("lag-kernel: fitting the kernel", "lambda \(lambda)", done: iterations - 1, total: maxIterations)
            let next = kernelStep(design, targets, theta: theta.theta, kernel: kernel, threads: threads)
            let scale = max(1, next.weights.map(abs).max() ?? 1)
            let moved = zip(next.weights, kernel.weights).map { abs($0 - $1) }.max() ?? 0
            kernel = next
            theta = try effects(design, targets, kernel: kernel, lambda: lambda, prior: prior, start: theta.theta, tolerance: loose,
                                threads: threads)
            if moved <= tolerance * scale { break }
        }
        if loose != design.tolerance && prior == nil && design.iterative {
            theta = try effects(design, targets, kernel: kernel, lambda: lambda, prior: prior, start: theta.theta, threads: threads)
        }
        return Solution(kernel: kernel, theta: theta.theta, steps: theta.steps, iterations: iterations, solve: theta.solve)
    }

    /// B and the step terms under `kernel` at one `lambda` (see ``effectsPath``).
    static func effects(_ design: LagKernelDesign, _ targets: Targets, kernel: LagKernel, lambda: Double, prior: [Matrix]?,
                        iterative: Bool? = nil, start: [Double]? = nil, tolerance: Double? = nil,
                        threads: Int) throws -> Effects {
        guard let only = try effectsPath(design, targets, kernel: kernel, lambdas: [lambda], prior: prior, iterative: iterative,
                                         start: start, tolerance: tolerance, threads: threads)[0] else {
            throw SimfluenceError.invalidArgument("the lag-kernel normal equations are singular at lambda = \(lambda); use a lambda > 0")
        }
        return only
    }

    /// B and the step terms under `kernel` for every lambda of `lambdas` (nil where the system is
    /// singular). Without a loss scale the design is the same for every test example: one normal
    /// matrix, one factorisation per lambda shared by all. With one, each test example's rows
    /// count batches by its own gains, so each has its own normal matrix (assembled once, then
    /// factored per lambda), test examples in parallel.
    ///
    /// With the design's ``LagKernelDesign/iterative`` choice (or `iterative` true), and without a
    /// prior, the systems are solved by conjugate gradients instead (``LagKernelIterative``, to
    /// `tolerance`, default the design's), with or without a loss scale.
    /// `start` (B as ``Solution/theta``) is where conjugate gradients start (the previous B of
    /// an alternating fit); the dense path ignores it.
    static func effectsPath(_ design: LagKernelDesign, _ targets: Targets, kernel: LagKernel, lambdas: [Double],
                            prior: [Matrix]?, iterative: Bool? = nil, start: [Double]? = nil,
                            tolerance: Double? = nil,
                            threads: Int) throws -> [Effects?] {
        if prior == nil && (iterative ?? design.iterative) {
            return try LagKernelIterative(design, entryWeights: targets.entryWeights, kernel: kernel)
                .path(targets, lambdas: lambdas, tolerance: tolerance ?? design.tolerance, start: start, threads: threads)
        }
        guard kernel.lossScale > 0 else {
            let system = normalSystem(design, targets, kernel: kernel, threads: threads)
            return lambdas.map { try? thetaStep(design, targets, system: system, lambda: $0, prior: prior, threads: threads) }
        }
        let width = targets.width, n = design.n, groups = design.groupSizes.count
        let columns = try Parallel.map(width, threads: threads) { c -> [Effects?] in
            let one = targets.column(c)
            let system = normalSystem(design, one, kernel: kernel, gains: targets.gains(kernel, column: c))
            let rows = prior?.map { m -> Matrix in
                var row = Matrix(rows: 1, columns: m.columns)
                for i in 0..<m.columns { row[0, i] = m[c, i] }
                return row
            }
            return lambdas.map { try? thetaStep(design, one, system: system, lambda: $0, prior: rows, threads: 1) }
        }
        return lambdas.indices.map { p in
            var theta = [Double](repeating: 0, count: n * width), steps = [Double](repeating: 0, count: groups * width)
            for c in 0..<width {
                guard let solved = columns[c][p] else { return nil }
                for i in 0..<n { theta[i * width + c] = solved.theta[i] }
                for s in 0..<groups { steps[s * width + c] = solved.steps[s] }
            }
            return (theta, steps, nil)
        }
    }

    /// The most active training examples for which the B step factors the dense n x n normal
    /// matrix; above it (and without a gradient prior) it runs conjugate gradients
    /// (``LagKernelIterative``), whose memory and time grow with the log's entries rather than n^2
    /// and n^3.
    public static let iterativeExampleLimit = 2_048

    /// The relative residual of the normal equations at which the conjugate-gradient B step stops.
    public static let iterativeTolerance = 1e-9

    /// Test examples on which the kernel is fitted, when conjugate gradients solve and there are
    /// more (``kernelSample(_:tests:runs:prior:)``).
    public static let kernelSampleSize = 64

    /// The positions in `tests` of the test examples the alternating fit learns the kernel from:
    /// with conjugate gradients (a large log, no prior) and more than ``kernelSampleSize`` test
    /// examples, that many spread over their loss scales (``ScoringSample``); otherwise nil
    /// (all). The kernel is a dozen numbers shared by every test example, fitted from every row
    /// of the runs, so a sample of 64 test examples determines it well, and each alternation
    /// step then costs a sample's solve instead of every test example's: on the large benchmark
    /// log (1,000 test examples) that is what brings a fit to minutes.
    static func kernelSample(_ design: LagKernelDesign, tests: [Int], runs: [TrainingRun], prior: [Matrix]?) -> [Int]? {
        guard design.iterative, prior == nil, tests.count > kernelSampleSize else { return nil }
        let chosen = Set(ScoringSample.tests(tests, runs: runs, size: kernelSampleSize))
        return tests.indices.filter { chosen.contains(tests[$0]) }
    }

    /// The kernel of the alternating fit at `lambda` from `start`, learnt on the test examples at
    /// the positions `sample` of the targets (``kernelSample(_:tests:runs:prior:)``) or on all of
    /// them; the B it ends with is not kept.
    static func learntKernel(_ design: LagKernelDesign, _ targets: Targets, sample: [Int]?, lambda: Double, start: LagKernel,
                             prior: [Matrix]?, threads: Int) throws -> LagKernel {
        try solve(design, sample.map { targets.columns($0) } ?? targets, lambda: lambda, start: start, prior: prior,
                  threads: threads).kernel
    }

    /// The conjugate-gradient B steps' tolerance while the alternating fit's kernel still moves
    /// (the kernel stops at ``tolerance``, 1e-3 of its largest weight, far above what this leaves
    /// in B); the last B step is solved to the design's tolerance.
    public static let alternationTolerance = 1e-6

    /// The ridge normal equations of the step-demeaned design under one kernel (X^T X minus the
    /// step-group terms, packed lower triangle; X^T y likewise, unknowns x tests), with the
    /// step-group sums of X the step terms need. They do not depend on lambda.
    struct NormalSystem {
        var normal: [Double]
        var rhs: [Double]
        var groupX: [Double]
    }

    /// The ``NormalSystem`` of the step-demeaned design under `kernel`.
    ///
    /// Assembled from pairs of steps rather than rows: run r's rows are X_r = K Phi C_r (K the
    /// steps x steps lower-triangular matrix kappa(k - s), Phi the diagonal of gains, C_r the batch
    /// counts), so X_r^T X_r = C_r^T Phi (K^T K) Phi C_r, and K^T K (``LagGram``) is shared by every
    /// run of a length; each run's block is added row by row (``addGramBlock``), whatever the pool
    /// size. With `gains` (one per row, for one test example) batches count their gain instead of 1;
    /// with the targets' entry weights (``Targets/entryWeights``) every batch entry counts its weight.
    /// `threads` split the rows of the matrix (the same bits whatever the threads).
    static func normalSystem(_ design: LagKernelDesign, _ targets: Targets, kernel: LagKernel, gains: [Double]? = nil,
                             threads: Int = 1) -> NormalSystem {
        let n = design.n, width = targets.width, groups = design.groupSizes.count
        var normal = [Double](repeating: 0, count: PackedCholesky.packedCount(n))
        var rhs = [Double](repeating: 0, count: n * width)
        var groupX = [Double](repeating: 0, count: groups * n)
        var grams: [Int: LagGram] = [:]
        var appearances = [[Int]](repeating: [], count: n)
        var first = 0
        for (r, batches) in design.batches.enumerated() {
            let steps = batches.count
            if grams[steps] == nil { grams[steps] = LagGram(kernel, steps: steps) }
            let gram = grams[steps]!
            let kappa = gram.kappa
            let phi = (0..<steps).map { gains?[first + $0] ?? 1 }
            let entries = RunEntries(batches, weights: targets.entryWeights?[r])
            addGramBlock(entries, weight: { s, s2 in phi[s] * phi[s2] * gram.value(s, s2) }, n: n,
                         into: &normal, appearances: &appearances, threads: threads)
            // X^T y (u_s = sum_{k >= s} kappa(k - s) y_k per test column) and the step-group sums of X.
            var u = [Double](repeating: 0, count: width)
            for s in 0..<steps {
                for c in 0..<width { u[c] = 0 }
                for k in s..<steps {
                    let w = kappa[k - s]
                    guard w != 0 else { continue }
                    let yRow = (first + k) * width
                    for c in 0..<width { u[c] += w * targets.y[yRow + c] }
                }
                for q in entries.starts[s]..<entries.starts[s + 1] {
                    let i = entries.ids[q], e = entries.weights[q]
                    for c in 0..<width { rhs[i * width + c] += phi[s] * u[c] * e }
                }
            }
            entries.ids.withUnsafeBufferPointer { ids in
                entries.weights.withUnsafeBufferPointer { ew in
                    groupX.withUnsafeMutableBufferPointer { gx in
                        for k in 0..<steps {
                            let g = (design.firstSteps[r] + k) * n
                            for s in 0...k {
                                let w = kappa[k - s] * phi[s]
                                guard w != 0 else { continue }
                                for q in entries.starts[s]..<entries.starts[s + 1] { gx[g + ids[q]] += w * ew[q] }
                            }
                        }
                    }
                }
            }
            first += steps
        }
        // Step fixed effects: subtract every group's mean outer products.
        let scale = design.groupSizes.map { $0 > 0 ? 1 / Double($0) : 0 }
        subtractOuterProducts(&normal, n: n, groupX, scale: scale, threads: threads)
        for s in 0..<groups where design.groupSizes[s] > 0 {
            let g = s * n
            for i in 0..<n where groupX[g + i] != 0 {
                let gi = groupX[g + i] * scale[s]
                for c in 0..<width { rhs[i * width + c] -= gi * targets.groupSums[s * width + c] }
            }
        }
        return NormalSystem(normal: normal, rhs: rhs, groupX: groupX)
    }

    /// Row ranges [bounds[t], bounds[t + 1]) of equal work over the rows 0..<rows of a lower
    /// triangle (row i costs ~i): part t ends where the triangle's area reaches (t + 1) / count.
    static func triangleParts(rows: Int, count: Int) -> [Int] {
        (0...count).map { Int((Double(rows) * (Double($0) / Double(count)).squareRoot()).rounded()) }
    }

    /// normal -= sum_s scale[s] x_s x_s^T (x_s the rows of `vectors`, count x n), rows split
    /// between threads in ranges of equal work; the same bits whatever the threads.
    static func subtractOuterProducts(_ normal: inout [Double], n: Int, _ vectors: [Double], scale: [Double], threads: Int) {
        let bounds = triangleParts(rows: n, count: max(1, min(threads, n / 256)))
        let parts = bounds.count - 1, count = scale.count
        normal.withUnsafeMutableBufferPointer { p in
            let target = RidgeSharedPointer(base: p.baseAddress!)
            try? Parallel.forEach(parts, threads: parts) { t in
                sf_packed_subtract_outer(target.base, n, vectors, scale, count, bounds[t], bounds[t + 1])
            }
        }
    }

    /// A run's batch entries flattened in step order (step s's at starts[s] ..< starts[s + 1]) with
    /// what each counts in the design: its weight (``Targets/entryWeights``), or 1. Read through
    /// pointers in the assembly's loops, where reading batches[s] would retain and release its
    /// array each time. A weight of 1 multiplies exactly, so unweighted runs keep their bits.
    struct RunEntries {
        var ids: [Int] = [], weights: [Double] = [], starts = [0]

        /// `batches` (local indices) with `weights` (weights[s][e] for the e-th entry of step s; nil: 1).
        init(_ batches: [[Int]], weights: [[Double]]?) {
            for (s, batch) in batches.enumerated() {
                ids.append(contentsOf: batch)
                if let w = weights?[s] { self.weights.append(contentsOf: w) } else { self.weights.append(contentsOf: repeatElement(1, count: batch.count)) }
                starts.append(ids.count)
            }
        }

        var steps: Int { starts.count - 1 }
    }

    /// Adds one run's block C^T W C of X^T X to the packed lower triangle `normal` (order n), C the
    /// run's batch entries' weights (`run`, local indices; counts when every weight is 1) and
    /// W(s, s2) = `weight(s, s2)` for s2 <= s (symmetric). Row by row: row i is the sum, over i's
    /// entries p (at step s, weight a), of a sum_{s2} W(s, s2) C[s2, ..<=i], gathered in a dense
    /// scratch row and added to row i once, so the writes run along rows of `normal` instead of
    /// scattering over it; the rows are split between threads in ranges of equal work (the same
    /// bits whatever the threads). `appearances` (n empty arrays, left empty) is scratch.
    static func addGramBlock(_ run: RunEntries, weight: (Int, Int) -> Double, n: Int,
                             into normal: inout [Double], appearances: inout [[Int]], threads: Int) {
        let steps = run.steps
        var w = [Double](repeating: 0, count: steps * steps)
        for s in 0..<steps {
            for s2 in 0...s {
                let c = weight(s, s2)
                w[s * steps + s2] = c
                w[s2 * steps + s] = c
            }
        }
        // An appearance is an entry's position; stepOf[p] its step.
        var members: [Int] = [], stepOf: [Int] = []
        for s in 0..<steps {
            for p in run.starts[s]..<run.starts[s + 1] {
                let i = run.ids[p]
                if appearances[i].isEmpty { members.append(i) }
                appearances[i].append(p)
                stepOf.append(s)
            }
        }
        members.sort()
        let bounds = triangleParts(rows: (members.last ?? 0) + 1, count: max(1, min(threads, members.count / 256)))
        let parts = bounds.count - 1
        let (seen, weights, rows, steppedAt) = (appearances, w, members, stepOf)
        normal.withUnsafeMutableBufferPointer { normal in
            let target = RidgeSharedPointer(base: normal.baseAddress!)
            try? Parallel.forEach(parts, threads: parts) { t in
                var acc = [Double](repeating: 0, count: n)
                weights.withUnsafeBufferPointer { w in
                    run.ids.withUnsafeBufferPointer { ids in
                        run.weights.withUnsafeBufferPointer { ew in
                            acc.withUnsafeMutableBufferPointer { acc in
                                for i in rows where i >= bounds[t] && i < bounds[t + 1] {
                                    for p in seen[i] {
                                        let row = w.baseAddress! + steppedAt[p] * steps, a = ew[p]
                                        for s2 in 0..<steps {
                                            let c = row[s2] * a
                                            if c == 0 { continue }
                                            for q in run.starts[s2]..<run.starts[s2 + 1] {
                                                let j = ids[q]
                                                if j <= i { acc[j] += c * ew[q] }
                                            }
                                        }
                                    }
                                    let base = PackedCholesky.rowStart(i)
                                    for j in rows {
                                        if j > i { break }
                                        target.base[base + j] += acc[j]
                                        acc[j] = 0
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for i in members { appearances[i].removeAll(keepingCapacity: true) }
    }

    /// B for every test example of `targets` given their (shared) normal equations and lambda (one
    /// factorisation shared by every test example), and the step terms v_s = mean over the step's
    /// rows of y - x . B.
    ///
    /// With a `prior` (components g_1..g_K, each tests x train, rows in the fitted tests' order:
    /// gradient scores), the ridge shrinks B(z) towards sum_k gamma_zk g_k(z) instead of 0, the
    /// gamma_z free: min |y - X B|^2 + lambda |B - G gamma|^2. For fixed gamma, B = B0 + H gamma
    /// with B0 = (N + lambda I)^-1 X^T y and the columns h_k = lambda (N + lambda I)^-1 g_k; the
    /// objective is then a quadratic in gamma, minimised by the K x K system
    /// (H^T N H + lambda D^T D) gamma = H^T (X^T y - N B0) - lambda D^T B0, D = H - G, with N H and
    /// N B0 from the packed N (``priorWeights(packed:rhs:)``).
    static func thetaStep(_ design: LagKernelDesign, _ targets: Targets, system: NormalSystem, lambda: Double,
                          prior: [Matrix]? = nil, threads: Int) throws -> Effects {
        let n = design.n, width = targets.width, groups = design.groupSizes.count
        var normal = system.normal
        for i in 0..<n { normal[PackedCholesky.rowStart(i) + i] += lambda }
        var theta = [Double](repeating: 0, count: n * width)
        if n > 0 {
            let failed = normal.withUnsafeMutableBufferPointer { PackedCholesky.factor($0.baseAddress!, n: n, threads: threads) }
            if failed != nil {
                throw SimfluenceError.invalidArgument("the lag-kernel normal equations are singular at lambda = \(lambda); use a lambda > 0")
            }
            let factor = normal, rhs = system.rhs, gram = system.normal, active = design.active
            // Blocks of up to 32 test examples (a multiple of 8), about as many as threads or more.
            let perThread = (width + max(1, threads) - 1) / max(1, threads)
            let block = min(32, max(8, (perThread + 7) / 8 * 8)), blocks = (width + block - 1) / block
            let solvedBlocks = try Parallel.map(blocks, threads: threads) { blockIndex -> [[Double]] in
                // Per test example of the block, B0 = (N + lambda I)^-1 X^T y and, with a prior, one
                // direction per component: g_k and h_k = lambda (N + lambda I)^-1 g_k. Column
                // c * (k + 1) holds test example c's right-hand side (then B0), the next k its
                // lambda g_k (then h_k); all solved in one call, then N B0 and N h_k in one pass
                // over N per 32 vectors.
                let c0 = blockIndex * block, w = min(block, width - c0)
                let k = prior?.count ?? 0, vectors = w * (k + 1)
                let g = (0..<w).map { c in (prior ?? []).map { m in active.map { m[c0 + c, $0] } } }
                var both = [Double](repeating: 0, count: n * vectors)
                for i in 0..<n {
                    for c in 0..<w {
                        both[i * vectors + c * (k + 1)] = rhs[i * width + c0 + c]
                        for p in 0..<k { both[i * vectors + c * (k + 1) + 1 + p] = lambda * g[c][p][i] }
                    }
                }
                // The factor is only read, so every block shares it; the block's right-hand sides
                // share each pass over it, and each column comes out as it would alone.
                factor.withUnsafeBufferPointer { p in
                    both.withUnsafeMutableBufferPointer { PackedCholesky.solve(p.baseAddress!, n: n, $0.baseAddress!, count: vectors) }
                }
                let b0s = (0..<w).map { c in (0..<n).map { both[$0 * vectors + c * (k + 1)] } }
                guard k > 0 else { return b0s }
                let products = symmetricProducts(gram, both, n: n, count: vectors)
                return (0..<w).map { c -> [Double] in
                    let b0 = b0s[c], g = g[c], base = c * (k + 1)
                    let r = (0..<n).map { rhs[$0 * width + c0 + c] }
                    let h = (0..<k).map { p in (0..<n).map { both[$0 * vectors + base + 1 + p] } }
                    let nh = (0..<k).map { p in (0..<n).map { products[$0 * vectors + base + 1 + p] } }
                    let nb0 = (0..<n).map { products[$0 * vectors + base] }
                    // (H^T N H + lambda D^T D) gamma = H^T (r - N B0) - lambda D^T B0, D = H - G.
                    var m = [Double](repeating: 0, count: PackedCholesky.packedCount(k))
                    var right = [Double](repeating: 0, count: k)
                    for p in 0..<k {
                        for q in 0...p {
                            var sum = 0.0
                            for i in 0..<n { sum += h[p][i] * nh[q][i] + lambda * (h[p][i] - g[p][i]) * (h[q][i] - g[q][i]) }
                            m[PackedCholesky.rowStart(p) + q] = sum
                        }
                        var sum = 0.0
                        for i in 0..<n { sum += (r[i] - nb0[i]) * h[p][i] - lambda * (h[p][i] - g[p][i]) * b0[i] }
                        right[p] = sum
                    }
                    let gamma = priorWeights(packed: m, rhs: right)
                    var b = b0
                    for p in 0..<k where gamma[p] != 0 { for i in 0..<n { b[i] += gamma[p] * h[p][i] } }
                    return b
                }
            }
            let columns = solvedBlocks.flatMap { $0 }
            for c in 0..<width { for i in 0..<n { theta[i * width + c] = columns[c][i] } }
        }
        var steps = [Double](repeating: 0, count: groups * width)
        var fitted = [Double](repeating: 0, count: width)
        for s in 0..<groups where design.groupSizes[s] > 0 {
            let inv = 1 / Double(design.groupSizes[s])
            for c in 0..<width { fitted[c] = 0 }
            // Per test example the sum over i in index order; rows of theta read contiguously.
            for i in 0..<n {
                let x = system.groupX[s * n + i], row = i * width
                for c in 0..<width { fitted[c] += x * theta[row + c] }
            }
            for c in 0..<width { steps[s * width + c] = (targets.groupSums[s * width + c] - fitted[c]) * inv }
        }
        return (theta, steps, nil)
    }

    /// The prior weights gamma solving the small symmetric positive semi-definite system `packed`
    /// (lower triangle) gamma = `rhs`, with a relative ridge of 1e-10 on the diagonal so that
    /// components that coincide or vanish get weight 0 instead of failing; all 0 when the system
    /// is zero or still fails.
    static func priorWeights(packed: [Double], rhs: [Double]) -> [Double] {
        let zeros = [Double](repeating: 0, count: rhs.count)
        let largest = rhs.indices.map { packed[PackedCholesky.rowStart($0) + $0] }.max() ?? 0
        guard largest > 0 else { return zeros }
        return PackedCholesky.solveRidged(packed, rhs, relativeRidge: 1e-10) ?? zeros
    }

    /// M v for `count` vectors v (row-major n x count), M symmetric held as its packed lower
    /// triangle: `sf_packed_symmetric_product`, each vector's result the same whatever `count`.
    static func symmetricProducts(_ packed: [Double], _ v: [Double], n: Int, count: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * count)
        if n > 0 && count > 0 { sf_packed_symmetric_product(packed, n, v, &out, count) }
        return out
    }

    /// The kernel given B: least squares in the bin weights (the first fixed to 1) of the
    /// step-demeaned per-bin regressors F_m = sum over the bin's lags of beta_z(c_s), summed over
    /// rows and test examples (per-test sums in test order, whatever the thread count).
    static func kernelStep(_ design: LagKernelDesign, _ targets: Targets, theta: [Double], kernel: LagKernel,
                           threads: Int) -> LagKernel {
        let bins = kernel.starts.count, width = targets.width, groups = design.groupSizes.count
        guard bins > 1 else { return kernel }
        // Eight test examples at a time, one per SIMD lane: every lane's arithmetic is the one
        // test example's alone, in the same order.
        typealias Lanes = SIMD8<Double>
        let w = Lanes.scalarCount, blocks = (width + w - 1) / w
        let longest = design.batches.map(\.count).max() ?? 0
        let partials = (try? Parallel.map(blocks, threads: threads) { block -> [[Double]] in
            let c0 = block * w, lanes = min(w, width - c0)
            // [F^T F (bins x bins) | F^T y (bins)] per test example, step-demeaned.
            var moments = [Lanes](repeating: Lanes(), count: bins * bins + bins)
            var groupF = [Lanes](repeating: Lanes(), count: groups * bins)
            var f = [Lanes](repeating: Lanes(), count: bins)
            var prefix = [Lanes](repeating: Lanes(), count: longest + 1)
            func load(_ values: [Double], row: Int) -> Lanes {
                var x = Lanes()
                for k in 0..<lanes { x[k] = values[row * width + c0 + k] }
                return x
            }
            moments.withUnsafeMutableBufferPointer { moments in
                groupF.withUnsafeMutableBufferPointer { groupF in
                    f.withUnsafeMutableBufferPointer { f in
                        prefix.withUnsafeMutableBufferPointer { prefix in
                            var row = 0
                            for (r, runBatches) in design.batches.enumerated() {
                                for (k, batch) in runBatches.enumerated() {
                                    var beta = Lanes()
                                    for i in batch { beta += load(theta, row: i) }
                                    var gain = Lanes(repeating: 1)
                                    if kernel.lossScale > 0 {
                                        for q in 0..<lanes { gain[q] = kernel.gain(targets.previous[(row + k) * width + c0 + q]) }
                                    }
                                    prefix[k + 1] = prefix[k] + beta * gain
                                }
                                for k in runBatches.indices {
                                    let step = design.firstSteps[r] + k
                                    for m in 0..<bins {
                                        if let rows = kernel.binRows(m, row: k) { f[m] = prefix[rows.hi] - prefix[rows.lo] } else { f[m] = Lanes() }
                                    }
                                    let y = load(targets.y, row: row)
                                    for m in 0..<bins {
                                        for q in 0...m { moments[m * bins + q] += f[m] * f[q] }
                                        moments[bins * bins + m] += f[m] * y
                                        groupF[step * bins + m] += f[m]
                                    }
                                    row += 1
                                }
                            }
                            for s in 0..<groups where design.groupSizes[s] > 0 {
                                let inv = Lanes(repeating: 1 / Double(design.groupSizes[s]))
                                let gy = load(targets.groupSums, row: s)
                                for m in 0..<bins {
                                    let gm = groupF[s * bins + m] * inv
                                    for q in 0...m { moments[m * bins + q] -= gm * groupF[s * bins + q] }
                                    moments[bins * bins + m] -= gm * gy
                                }
                            }
                        }
                    }
                }
            }
            return (0..<lanes).map { k in moments.map { $0[k] } }
        }) ?? []
        var total = [Double](repeating: 0, count: bins * bins + bins)
        for p in partials.joined() { for e in p.indices { total[e] += p[e] } }
        // Unknowns: weights 1..<bins; weight 0 is 1.
        let u = bins - 1
        var packed = [Double](repeating: 0, count: PackedCholesky.packedCount(u))
        var rhs = [Double](repeating: 0, count: u)
        for m in 1..<bins {
            for q in 1...m { packed[PackedCholesky.rowStart(m - 1) + q - 1] = total[m * bins + q] }
            rhs[m - 1] = total[bins * bins + m] - total[m * bins + 0]
        }
        // A bin no row reaches (or B = 0) has no information: a tiny ridge keeps it at 0.
        guard let weights = PackedCholesky.solveRidged(packed, rhs, relativeRidge: 1e-12) else { return kernel }
        return LagKernel(starts: kernel.starts, weights: [1] + weights, lossScale: kernel.lossScale, saturation: kernel.saturation)
    }

    /// The simulator of a solution: B and the step terms in the model's layout, the clamp range,
    /// the kernel.
    /// `bounds` and `startingLosses`, when given, are those of `runs` and `tests` (the clamp range
    /// of ``ExtendedFit/bounds(_:tests:multiple:)`` and the mean starting losses), computed once by
    /// a caller that builds many simulators of the same runs.
    static func simulator(_ solution: Solution, method: MethodName, design: LagKernelDesign, log: TrainingLog,
                          runs: [TrainingRun], tests: [Int], lambda: Double, provenance: FitProvenance,
                          bounds: (lower: [Double], upper: [Double])? = nil, startingLosses: [Double]? = nil) -> FittedSimulator {
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
        let bounds = bounds ?? ExtendedFit.bounds(runs, tests: tests, multiple: ExtendedConfiguration.defaultClampMultiple)
        var sim = FittedSimulator(method: method, form: .additive, lambda: lambda, trainIDs: log.trainIDs,
                                  testIDs: tests.map { log.testIDs[$0] }, a: Matrix(rows: width, columns: trainCount), b: b,
                                  seen: seen, fittedOn: runs.map(\.name), startingStep: runs.map(\.firstLossStep).min() ?? 0,
                                  startingLosses: startingLosses ?? meanStartingLosses(runs, tests: tests), provenance: provenance)
        sim.stepAlpha = Matrix(rows: width, columns: last)
        sim.stepBeta = v
        sim.lossLower = bounds.lower
        sim.lossUpper = bounds.upper
        sim.lagKernel = solution.kernel
        return sim
    }
}
