/// Rollout fitting of the shared terms alone (linear-rollout's L-BFGS), for one test example:
/// the rolled-out squared error plus the penalty as a function of the pooled terms (b, a) and
/// the knot values (v, u), with the examples' effects A_dev and B_dev held at the
/// teacher-forced solution.
///
/// It computes, bit for bit, what ``ExtendedRollout/sumOfSquares(_:z:theta:lo:hi:grad:states:alphas:clampedFlags:exampleSums:losses:)``
/// with `exampleSums` plus ``ExtendedPenalty/value(_:layout:gram:grad:)`` compute on the whole
/// parameter vector (the same operations in the same order; tests compare the two), but only
/// over what moves, and with what does not move prepared once per test example:
/// - the examples' part of the penalty, sum over i of lambda (B_i^2 + A_i^2), about 98% of the
///   parameters: added up once (it is the first part of the penalty's running sum, so
///   continuing the sum from it gives the same bits), and its gradient, which rollout fitting
///   of the shared terms never reads, not computed at all;
/// - per step, the batch sums of the examples' effects, the observed flag and the target
///   loss, in one flat array over all runs, read in order;
/// - the step terms u_t and v_t from the knot values once per evaluation and step t, not once
///   per run and step (every run at step t has the same knot and weight).
/// The value and the gradient are separate calls (``value(_:)``, then ``gradient(_:into:)``
/// at the same point), so that L-BFGS pays the adjoint pass only for the points it accepts.
///
/// Without carry-over only (linear-rollout's configuration); carry-over uses the general path.
final class SharedTermRollout {
    /// Layout of the shared unknowns: ``ExtendedLayout`` with no examples,
    /// [b (if pooled) | v (K) | a (if pooled) | u (K)].
    let layout: ExtendedLayout
    let basis: StepBasis
    let penalty: ExtendedPenalty
    /// D2^T D2 of the knot values.
    let gram: [Double]
    let lo: Double, hi: Double
    /// The penalty's examples' part (its running sum after the examples, in their order).
    let examplesPenalty: Double

    /// Per run: its first step in the flat step arrays, its first step's absolute step number
    /// minus 1 (into the step tables), and its starting loss.
    private let runFirst: [Int], runStepOffset: [Int], runInitial: [Double]
    /// The per-step arrays, owned as pointers (the loops run ~10^4 steps per call and L-BFGS
    /// calls them hundreds of times per test example), freed with the problem.
    private let b: Buffers

    /// Prepares test example `z` (losses `losses`, one array per run of `runs`, as
    /// ``ExtendedRollout/losses(_:z:)``) with the examples' parameters of `theta` (full
    /// ``ExtendedLayout`` `full`) held fixed, clamping to [lo, hi].
    init(runs: [LocalRun], losses: [[Double]], theta: [Double], full: ExtendedLayout, basis: StepBasis,
         penalty: ExtendedPenalty, gram: [Double], lo: Double, hi: Double) {
        self.layout = ExtendedLayout(m: 0, pooled: full.pooled, knots: full.knots)
        self.basis = basis
        self.penalty = penalty
        self.gram = gram
        self.lo = lo
        self.hi = hi
        self.examplesPenalty = theta.withUnsafeBufferPointer { penalty.examplesValue($0.baseAddress!, layout: full, grad: nil) }
        let sums = theta.withUnsafeBufferPointer { ExtendedRollout(layout: full, basisKnots: basis.knots).exampleSums(runs, theta: $0.baseAddress!) }
        var runFirst: [Int] = [], runStepOffset: [Int] = [], runInitial: [Double] = []
        var sumA: [Double] = [], sumB: [Double] = [], size: [Double] = [], target: [Double] = [], observed: [Bool] = []
        var lastT = 0
        for (ri, r) in runs.enumerated() {
            runFirst.append(sumA.count)
            runStepOffset.append(r.run.firstLossStep)
            runInitial.append(losses[ri][0])
            for j in 0..<r.steps {
                sumA.append(sums[ri][2 * j])
                sumB.append(sums[ri][2 * j + 1])
                size.append(r.size[j])
                target.append(losses[ri][j + 1])
                observed.append(r.observed[j + 1])
            }
            lastT = max(lastT, r.run.firstLossStep + r.steps)
        }
        runFirst.append(sumA.count)
        (self.runFirst, self.runStepOffset, self.runInitial) = (runFirst, runStepOffset, runInitial)
        let located = (0...lastT).map { basis.locate($0) }
        let steps = sumA.count
        b = Buffers(uT: .owned([Double](repeating: 0, count: lastT + 1)), vT: .owned([Double](repeating: 0, count: lastT + 1)),
                    tables: lastT + 1, knotOf: .owned(located.map(\.k)), weightOf: .owned(located.map(\.w)),
                    sumA: .owned(sumA), sumB: .owned(sumB), size: .owned(size), target: .owned(target),
                    observed: .owned(observed), alphas: .owned([Double](repeating: 0, count: steps)),
                    states: .owned([Double](repeating: 0, count: steps + runs.count)),
                    clamped: .owned([Bool](repeating: false, count: steps)))
    }

    deinit {
        b.uT.deallocate(); b.vT.deallocate(); b.knotOf.deallocate(); b.weightOf.deallocate()
        b.sumA.deallocate(); b.sumB.deallocate(); b.size.deallocate(); b.target.deallocate()
        b.observed.deallocate(); b.alphas.deallocate(); b.states.deallocate(); b.clamped.deallocate()
    }

    /// The rolled-out sum of squared errors over every run's observed rows plus the penalty
    /// at the shared terms `x` (``layout`` order). Records what ``gradient(_:into:)`` reads.
    func value(_ x: UnsafePointer<Double>) -> Double {
        let l = layout, knots = l.knots
        let aPool = l.pooled ? x[l.aPool] : 0, bPool = l.pooled ? x[l.bPool] : 0
        var total = 0.0
        // The step terms per absolute step, as ExtendedRollout.coefficients forms them.
        for t in 0..<b.tables {
            if knots == 1 {
                b.uT[t] = x[l.uStart]
                b.vT[t] = x[l.vStart]
            } else if knots > 1 {
                let k = b.knotOf[t], w = b.weightOf[t]
                b.uT[t] = (1 - w) * x[l.uStart &+ k] + w * x[l.uStart &+ k &+ 1]
                b.vT[t] = (1 - w) * x[l.vStart &+ k] + w * x[l.vStart &+ k &+ 1]
            }
        }
        // The loop over one run's steps, specialised below for linear-rollout's layout
        // (knots, no pooled terms) by inlining with constant flags.
        @inline(__always) func run(_ r: Int, pooled: Bool, hasKnots: Bool) {
            let first = runFirst[r], steps = runFirst[r + 1] &- first
            let u = b.uT + runStepOffset[r] + 1, v = b.vT + runStepOffset[r] + 1
            let sumA = b.sumA + first, sumB = b.sumB + first, size = b.size + first
            let target = b.target + first, observed = b.observed + first
            let alphas = b.alphas + first, clamped = b.clamped + first, states = b.states + first + r
            let lo = self.lo, hi = self.hi
            var loss = runInitial[r]
            states[0] = loss
            var j = 0
            while j < steps {
                var alpha = sumA[j], beta = sumB[j]
                if pooled {
                    alpha += size[j] * aPool
                    beta += size[j] * bPool
                }
                if hasKnots { alpha += u[j] }
                alphas[j] = alpha
                // v is 0 without knots (beta + 0, as ExtendedRollout.beta adds it).
                loss = alpha * loss + (beta + v[j])
                var c = false
                // (loss != loss: isNaN, with a plain comparison.)
                if loss < lo { loss = lo; c = true } else if loss > hi { loss = hi; c = true } else if loss != loss { loss = hi; c = true }
                clamped[j] = c
                states[j &+ 1] = loss
                if observed[j] {
                    let d = loss - target[j]
                    total += d * d
                }
                j &+= 1
            }
        }
        for r in 0..<runInitial.count {
            if !l.pooled && knots > 0 { run(r, pooled: false, hasKnots: true) } else { run(r, pooled: l.pooled, hasKnots: knots > 0) }
        }
        return total + penalty.sharedValue(x, layout: l, gram: gram, grad: nil, from: examplesPenalty)
    }

    /// The gradient of ``value(_:)`` at `x`, the point of the last ``value(_:)`` call, added to
    /// `grad` (``layout`` order): the adjoint of the recurrence run by run, as
    /// ``ExtendedRollout/sumOfSquares(_:z:theta:lo:hi:grad:states:alphas:clampedFlags:exampleSums:losses:)``
    /// accumulates it, then the penalty's.
    func gradient(_ x: UnsafePointer<Double>, into grad: UnsafeMutablePointer<Double>) {
        let l = layout, knots = l.knots
        // One run's adjoint, specialised below for linear-rollout's layout (knots > 1, no
        // pooled terms) by inlining with constant flags.
        @inline(__always) func run(_ r: Int, pooled: Bool, knots: Int) {
            let first = runFirst[r], steps = runFirst[r + 1] &- first
            let size = b.size + first, target = b.target + first, observed = b.observed + first
            let alphas = b.alphas + first, clamped = b.clamped + first, states = b.states + first + r
            let knotOf = b.knotOf + runStepOffset[r] + 1, weightOf = b.weightOf + runStepOffset[r] + 1
            let uGrad = grad + l.uStart, vGrad = grad + l.vStart
            var lam = 0.0
            // The current knot interval's four gradient slots in registers, as in ExtendedRollout.
            var slot = -1, gu0 = 0.0, gu1 = 0.0, gv0 = 0.0, gv1 = 0.0
            var j = steps &- 1
            while j >= 0 {
                if observed[j] { lam += 2 * (states[j &+ 1] - target[j]) }
                let dpre = clamped[j] ? 0 : lam
                if dpre != 0 {
                    let dAlpha = dpre * states[j]
                    if pooled {
                        grad[l.aPool] += size[j] * dAlpha
                        grad[l.bPool] += size[j] * dpre
                    }
                    if knots == 1 {
                        uGrad[0] += dAlpha
                        vGrad[0] += dpre
                    } else if knots > 1 {
                        let k = knotOf[j], w = weightOf[j]
                        if k != slot {
                            if slot >= 0 {
                                uGrad[slot] = gu0; uGrad[slot &+ 1] = gu1
                                vGrad[slot] = gv0; vGrad[slot &+ 1] = gv1
                            }
                            slot = k
                            gu0 = uGrad[k]; gu1 = uGrad[k &+ 1]
                            gv0 = vGrad[k]; gv1 = vGrad[k &+ 1]
                        }
                        gu0 += (1 - w) * dAlpha
                        gu1 += w * dAlpha
                        gv0 += (1 - w) * dpre
                        gv1 += w * dpre
                    }
                }
                lam = dpre * alphas[j]
                j &-= 1
            }
            if slot >= 0 {
                uGrad[slot] = gu0; uGrad[slot &+ 1] = gu1
                vGrad[slot] = gv0; vGrad[slot &+ 1] = gv1
            }
        }
        for r in 0..<runInitial.count {
            if !l.pooled && knots > 1 { run(r, pooled: false, knots: 2) } else { run(r, pooled: l.pooled, knots: knots) }
        }
        _ = penalty.sharedValue(x, layout: l, gram: gram, grad: grad, from: examplesPenalty)
    }

    /// Per step over all runs (run by run): batch sums of n A_dev and n B_dev (`sumA`, `sumB`),
    /// batch size, the next loss row's target and whether it is observed; per absolute step t
    /// (0..<tables): knot and weight (``StepBasis/locate(_:)``); evaluation state: u_t and v_t per
    /// absolute step, and per step of the flat arrays alpha_t, the state after it (states[j + run]
    /// holds the state before step j of that run) and whether it clamped.
    private struct Buffers {
        let uT: UnsafeMutablePointer<Double>, vT: UnsafeMutablePointer<Double>, tables: Int
        let knotOf: UnsafeMutablePointer<Int>, weightOf: UnsafeMutablePointer<Double>
        let sumA: UnsafeMutablePointer<Double>, sumB: UnsafeMutablePointer<Double>, size: UnsafeMutablePointer<Double>
        let target: UnsafeMutablePointer<Double>, observed: UnsafeMutablePointer<Bool>
        let alphas: UnsafeMutablePointer<Double>, states: UnsafeMutablePointer<Double>, clamped: UnsafeMutablePointer<Bool>
    }
}

private extension UnsafeMutablePointer {
    /// A new allocation holding a copy of `values` (at least one element's room, so an empty
    /// array still has an address); the caller deallocates it.
    static func owned(_ values: [Pointee]) -> UnsafeMutablePointer<Pointee> {
        let p = UnsafeMutablePointer<Pointee>.allocate(capacity: max(1, values.count))
        _ = UnsafeMutableBufferPointer(start: p, count: values.count).initialize(from: values)
        return p
    }
}
