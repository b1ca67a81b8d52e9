extension FittedSimulator {
    /// The step term of `terms` (tests x S) for test row `z` at step `t` (1-based): column t - 1,
    /// clamped to the stored range (steps beyond the fitted runs carry the last term; steps
    /// before step 1 use the first).
    @inline(__always)
    static func stepTerm(_ terms: Matrix?, z: Int, step t: Int) -> Double {
        guard let terms, terms.columns > 0 else { return 0 }
        let c = min(max(t - 1, 0), terms.columns - 1)
        return terms.storage[z * terms.columns + c]
    }

    /// Rolls out the recurrence with step terms and clamping, and counts how many simulated
    /// losses were clamped.
    ///
    /// L_t = clamp( (alpha(c_t) + u_t) L_{t-1} + beta_t + v_t, lossLower[z], lossUpper[z] ),
    /// alpha, beta as in ``simulate(_:initial:tests:firstStep:)``, and beta_t = beta(c_t), or with
    /// carry-over rho = ``carry`` != 0 the running sum beta_t = rho beta_{t-1} + beta(c_t) from the
    /// first of `batches`. `firstStep` is the step number
    /// of `batches.first`. With no step terms and no bounds this equals the plain rollout.
    public func simulateExtended<C: Collection<[Int]>>(_ batches: C, initial: [Double], tests: [Int]? = nil,
                                                        firstStep: Int) -> (losses: Matrix, clamped: Int) {
        let tests = tests ?? Array(0..<testIDs.count)
        precondition(initial.count == tests.count, "one initial loss per simulated test example")
        let width = tests.count
        var out = Matrix(rows: batches.count + 1, columns: width)
        let n = trainIDs.count
        let usesA = form.usesA, usesB = form.usesB
        var clamped = 0
        let bounded = lossLower != nil || lossUpper != nil
        for (col, z) in tests.enumerated() {
            var loss = initial[col]
            out.storage[col] = loss
            let row = z * n
            let lo = lossLower?[z] ?? -.infinity, hi = lossUpper?[z] ?? .infinity
            var t = 1
            var carried = 0.0
            for batch in batches {
                let step = firstStep + t - 1
                var alpha = usesA ? 0.0 : 1.0
                var beta = 0.0
                if usesA { for i in batch { alpha += a.storage[row + i] } }
                if usesB { for i in batch { beta += b.storage[row + i] } }
                if carry != 0 {
                    carried = carry * carried + beta
                    beta = carried
                }
                alpha += Self.stepTerm(stepAlpha, z: z, step: step)
                beta += Self.stepTerm(stepBeta, z: z, step: step)
                loss = alpha * loss + beta
                if bounded {
                    if loss < lo { loss = lo; clamped += 1 } else if loss > hi { loss = hi; clamped += 1 } else if loss.isNaN { loss = hi; clamped += 1 }
                }
                out.storage[t * width + col] = loss
                t += 1
            }
        }
        return (out, clamped)
    }
}
