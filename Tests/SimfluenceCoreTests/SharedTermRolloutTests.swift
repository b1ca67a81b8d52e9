import Testing
@testable import SimfluenceCore

/// ``SharedTermRollout`` (linear-rollout's L-BFGS over the shared terms) against the general
/// rollout on the whole parameter vector it replaces (``ExtendedRollout/sumOfSquares(_:z:theta:lo:hi:grad:states:alphas:clampedFlags:exampleSums:losses:)``
/// with the examples' sums plus ``ExtendedPenalty/value(_:layout:gram:grad:)``): the same
/// values and gradients bit for bit, and the same L-BFGS iterates.
@Suite struct SharedTermRolloutTests {
    /// A small planted log; with `lateStart`, every other run records its first loss after
    /// step 1 (the GPTDynamics layout), so runs start at different absolute steps.
    static func runs(lateStart: Bool) -> (log: TrainingLog, runs: [TrainingRun]) {
        let model = PlantedExtended.random(pool: 12, tests: 2, batch: 3, timeTerms: true, seed: 21)
        let log = model.log(runs: 5, sample: 9, batch: 3, epochs: 2, noise: 1e-3, seed: 22)
        guard lateStart else { return (log, log.runs) }
        let runs = log.runs.enumerated().map { r, run -> TrainingRun in
            guard r % 2 == 1 else { return run }
            let rows = (1..<run.losses.rows).map { run.losses.row($0) }
            return TrainingRun(name: run.name, batches: run.batches, firstLossStep: 1, losses: Matrix(rowArrays: rows))
        }
        return (log, runs)
    }

    /// The general path's value and gradient (shared entries only) at shared terms `x`.
    static func reference(_ rollout: ExtendedRollout, runs: [LocalRun], theta: [Double], shared: [Int], x: [Double],
                          sums: [[Double]], losses: [[Double]], penalty: ExtendedPenalty, gram: [Double],
                          lo: Double, hi: Double) -> (value: Double, gradient: [Double]) {
        var full = theta
        for (k, i) in shared.enumerated() { full[i] = x[k] }
        var grad = [Double](repeating: 0, count: theta.count)
        let steps = (runs.map(\.steps).max() ?? 0) + 1
        let states = UnsafeMutablePointer<Double>.allocate(capacity: steps), alphas = UnsafeMutablePointer<Double>.allocate(capacity: steps)
        let flags = UnsafeMutablePointer<Bool>.allocate(capacity: steps)
        defer { states.deallocate(); alphas.deallocate(); flags.deallocate() }
        let value = full.withUnsafeBufferPointer { fb in
            grad.withUnsafeMutableBufferPointer { gb in
                rollout.sumOfSquares(runs, z: 1, theta: fb.baseAddress!, lo: lo, hi: hi, grad: gb.baseAddress!, states: states,
                                     alphas: alphas, clampedFlags: flags, exampleSums: sums, losses: losses)
                    + penalty.value(fb.baseAddress!, layout: rollout.layout, gram: gram, grad: gb.baseAddress!)
            }
        }
        return (value, shared.map { grad[$0] })
    }

    @Test(arguments: [(false, 4, false), (true, 4, false), (false, 1, false), (true, 1, true), (true, 0, false),
                      (false, 5, true), (false, 8, false)])
    func valueAndGradientMatchTheGeneralRolloutBitForBit(pooled: Bool, knots: Int, lateStart: Bool) throws {
        let (log, runs) = Self.runs(lateStart: lateStart)
        let design = try RidgeDesign(log: log, runs: runs)
        let basis = StepBasis(knots: knots, lastStep: runs.map(\.steps).max()!)
        let layout = ExtendedLayout(m: design.activeCount, pooled: pooled, knots: basis.knots)
        let local = runs.map { LocalRun(run: $0, local: design.local, basis: basis, every: 2) }
        let rollout = ExtendedRollout(layout: layout, basisKnots: basis.knots)
        var g = SeededGenerator(seed: 23)
        var theta = (0..<layout.n).map { _ in 0.02 * g.nextGaussian() }
        for i in 0..<layout.m { theta[layout.aDev + i] = 0.3 + 0.02 * g.nextGaussian() }
        let penalty = ExtendedPenalty(lambda: 0.3, bTiny: 1e-3, aTiny: 2e-3, vSmooth: 0.7, uSmooth: 1.3, vTiny: 1e-4, uTiny: 3e-4)
        let gram = StepBasis.secondDifferenceGram(basis.knots)
        let shared = (0..<layout.n).filter { i in !(i < layout.m || (i >= layout.aDev && i < layout.aDev + layout.m)) }
        let sums = theta.withUnsafeBufferPointer { rollout.exampleSums(local, theta: $0.baseAddress!) }
        let losses = rollout.losses(local, z: 1)
        // Unclamped, then bounds that some steps cross (the losses start near 2).
        for (lo, hi) in [(-Double.infinity, Double.infinity), (1.2, 2.1)] {
            let problem = SharedTermRollout(runs: local, losses: losses, theta: theta, full: layout, basis: basis,
                                            penalty: penalty, gram: gram, lo: lo, hi: hi)
            #expect(problem.layout.n == shared.count)
            for trial in 0..<4 {
                let x = shared.map { trial == 0 ? theta[$0] : theta[$0] + 0.05 * g.nextGaussian() }
                let expected = Self.reference(rollout, runs: local, theta: theta, shared: shared, x: x, sums: sums, losses: losses,
                                              penalty: penalty, gram: gram, lo: lo, hi: hi)
                var grad = [Double](repeating: 0, count: shared.count)
                let value = x.withUnsafeBufferPointer { xb in
                    let v = problem.value(xb.baseAddress!)
                    grad.withUnsafeMutableBufferPointer { problem.gradient(xb.baseAddress!, into: $0.baseAddress!) }
                    return v
                }
                #expect(value.bitPattern == expected.value.bitPattern, "value \(value) against \(expected.value)")
                #expect(grad.map(\.bitPattern) == expected.gradient.map(\.bitPattern), "gradient \(grad) against \(expected.gradient)")
                if knots > 0 || pooled { #expect(grad.contains { $0 != 0 }) }
            }
        }
        // The penalty in two parts is the penalty.
        theta.withUnsafeBufferPointer { tb in
            let t = tb.baseAddress!
            let parts = penalty.sharedValue(t, layout: layout, gram: gram, grad: nil, from: penalty.examplesValue(t, layout: layout, grad: nil))
            #expect(parts.bitPattern == penalty.value(t, layout: layout, gram: gram, grad: nil).bitPattern)
        }
    }

    @Test func lazyGradientMinimisationTakesTheSameIterates() throws {
        let (log, runs) = Self.runs(lateStart: true)
        let design = try RidgeDesign(log: log, runs: runs)
        let basis = StepBasis(knots: 4, lastStep: runs.map(\.steps).max()!)
        let layout = ExtendedLayout(m: design.activeCount, pooled: false, knots: basis.knots)
        let local = runs.map { LocalRun(run: $0, local: design.local, basis: basis, every: nil) }
        let rollout = ExtendedRollout(layout: layout, basisKnots: basis.knots)
        var g = SeededGenerator(seed: 24)
        var theta = (0..<layout.n).map { _ in 0.02 * g.nextGaussian() }
        for i in 0..<layout.m { theta[layout.aDev + i] = 0.3 + 0.02 * g.nextGaussian() }
        let penalty = ExtendedPenalty(lambda: 0.1, bTiny: 0, aTiny: 0, vSmooth: 0.5, uSmooth: 0.5, vTiny: 1e-4, uTiny: 1e-4)
        let gram = StepBasis.secondDifferenceGram(basis.knots)
        let shared = (0..<layout.n).filter { i in !(i < layout.m || (i >= layout.aDev && i < layout.aDev + layout.m)) }
        let sums = theta.withUnsafeBufferPointer { rollout.exampleSums(local, theta: $0.baseAddress!) }
        let losses = rollout.losses(local, z: 1)
        let scale = shared.map { _ in 1 + g.nextUniform() }
        var general = shared.map { theta[$0] }, fast = general
        let a = LBFGS.minimise(&general, scale: scale, iterations: 40) { x, grad in
            let r = Self.reference(rollout, runs: local, theta: theta, shared: shared, x: Array(UnsafeBufferPointer(start: x, count: shared.count)),
                                   sums: sums, losses: losses, penalty: penalty, gram: gram, lo: 0.5, hi: 2.5)
            for k in 0..<shared.count { grad[k] = r.gradient[k] }
            return r.value
        }
        let problem = SharedTermRollout(runs: local, losses: losses, theta: theta, full: layout, basis: basis,
                                        penalty: penalty, gram: gram, lo: 0.5, hi: 2.5)
        var gradients = 0
        let b = LBFGS.minimise(&fast, scale: scale, iterations: 40, value: { x, _ in problem.value(x) },
                               gradient: { x, grad in gradients += 1; problem.gradient(x, into: grad) })
        #expect(a.iterations > 5 && a.iterations == b.iterations && a.value.bitPattern == b.value.bitPattern)
        #expect(general.map(\.bitPattern) == fast.map(\.bitPattern))
        #expect(gradients == b.iterations + 1)
    }
}
