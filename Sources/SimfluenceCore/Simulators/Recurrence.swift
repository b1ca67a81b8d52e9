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

    /// `loss` held to the stored range [lo, hi] (NaN to hi), adding 1 to `count` when it was
    /// outside: the clamp of every rollout step.
    @inline(__always)
    static func clamp(_ loss: Double, _ lo: Double, _ hi: Double, counting count: inout Int) -> Double {
        if loss < lo { count += 1; return lo }
        if loss > hi || loss.isNaN { count += 1; return hi }
        return loss
    }

    /// The rollout of the linear recurrence, the one every built-in method simulates with:
    ///
    ///     L_t = clamp( (alpha(c_t) + u_t) L_{t-1} + beta_t + v_t, lossLower[z], lossUpper[z] )
    ///
    /// with alpha(c_t) = sum of A_i over the batch (1 for the additive form), beta(c_t) = sum of
    /// B_i (0 for the multiplicative form), beta_t = beta(c_t) or, with carry-over rho =
    /// ``carry`` != 0, the running sum beta_t = rho beta_{t-1} + beta(c_t) from the first of
    /// `batches`, or, with a ``lagKernel``, beta_t = sum_{s <= t} kappa(t - s) beta(c_s) over
    /// `batches` (from prefix sums of beta(c_s), each times the kernel's ``LagKernel/gain(_:)`` of L_{s-1}); u, v are the step terms at step `firstStep + t - 1`. The extended terms enter
    /// only for extended simulators (``isExtended``), so a plain simulator's losses are exactly
    /// alpha * loss + beta. Sums run over a batch in order; ``BatchRollout`` repeats this
    /// arithmetic in the same order for many curricula at once.
    ///
    /// A lag kernel with a ``LagKernel/saturation`` exponent weighs every batch entry by
    /// ``Saturation``'s psi, which reads every test example's loss: that rollout
    /// (``saturatedRollout(_:initial:tests:firstStep:kernel:)``) runs all of the simulator's test
    /// examples together, step by step.
    public func recurrenceRollout<C: Collection<[Int]>>(_ batches: C, initial: [Double], tests: [Int]? = nil,
                                                         firstStep: Int) -> Rollout {
        let tests = tests ?? Array(0..<testIDs.count)
        precondition(initial.count == tests.count, "one initial loss per simulated test example")
        if let kernel = lagKernel, kernel.saturation > 0 {
            return saturatedRollout(batches, initial: initial, tests: tests, firstStep: firstStep, kernel: kernel)
        }
        let width = tests.count
        var out = Matrix(rows: batches.count + 1, columns: width)
        let n = trainIDs.count
        let usesA = form.usesA, usesB = form.usesB
        let extended = isExtended
        let bounded = lossLower != nil || lossUpper != nil
        var clamped = 0
        let kernel = lagKernel
        var prefix = [Double](repeating: 0, count: kernel == nil ? 0 : batches.count + 1)
        a.storage.withUnsafeBufferPointer { aBuf in
            b.storage.withUnsafeBufferPointer { bBuf in
                out.storage.withUnsafeMutableBufferPointer { o in
                    for (col, z) in tests.enumerated() {
                        var loss = initial[col]
                        o[col] = loss
                        let row = z * n
                        let lo = lossLower?[z] ?? -.infinity, hi = lossUpper?[z] ?? .infinity
                        var t = 1
                        var carried = 0.0
                        for batch in batches {
                            var alpha = usesA ? 0.0 : 1.0
                            var beta = 0.0
                            if usesA { for i in batch { alpha += aBuf[row + i] } }
                            if usesB { for i in batch { beta += bBuf[row + i] } }
                            if extended {
                                if let kernel {
                                    prefix[t] = prefix[t - 1] + beta * kernel.gain(loss)
                                    beta = kernel.apply(row: t - 1) { prefix[$0] }
                                } else if carry != 0 {
                                    carried = carry * carried + beta
                                    beta = carried
                                }
                                let step = firstStep + t - 1
                                alpha += Self.stepTerm(stepAlpha, z: z, step: step)
                                beta += Self.stepTerm(stepBeta, z: z, step: step)
                            }
                            loss = alpha * loss + beta
                            if bounded { loss = Self.clamp(loss, lo, hi, counting: &clamped) }
                            o[t * width + col] = loss
                            t += 1
                        }
                    }
                }
            }
        }
        return Rollout(losses: out, clamped: clamped)
    }

    /// The rollout of a lag-kernel simulator whose kernel has a saturation exponent: the recurrence
    /// of ``recurrenceRollout(_:initial:tests:firstStep:)`` with every batch entry i of step t
    /// counting psi_i(t) (``Saturation``, from the simulated losses L_{t-1} of every test example
    /// and w from ``b``) instead of 1. Every test example of the simulator is simulated, steps
    /// outermost: those in `tests` from `initial`, the others from ``startingLosses``; the output
    /// holds `tests`' columns, and the clamp count counts only theirs. A training example that is
    /// not seen counts 1 (its effects are 0 unless the unseen policy gave it some).
    func saturatedRollout<C: Collection<[Int]>>(_ batches: C, initial: [Double], tests: [Int], firstStep: Int,
                                                kernel: LagKernel) -> Rollout {
        let all = testIDs.count, n = trainIDs.count, width = tests.count
        let saturation = Saturation(self, exponent: kernel.saturation)
        var position = [Int](repeating: -1, count: n)
        for (k, i) in saturation.members.enumerated() { position[i] = k }
        var loss = startingLosses
        var requested = [Bool](repeating: false, count: all)
        for (col, z) in tests.enumerated() {
            loss[z] = initial[col]
            requested[z] = true
        }
        var out = Matrix(rows: batches.count + 1, columns: width)
        for col in 0..<width { out[0, col] = initial[col] }
        let usesA = form.usesA, usesB = form.usesB
        var prefix = [Double](repeating: 0, count: (batches.count + 1) * all)
        var clamped = 0
        var t = 1
        for batch in batches {
            let psi = saturation.psi(loss)
            let counts = batch.map { position[$0] >= 0 ? psi[position[$0]] : 1 }
            let step = firstStep + t - 1
            for z in 0..<all {
                let row = z * n
                var alpha = usesA ? 0.0 : 1.0
                var beta = 0.0
                if usesA { for (k, i) in batch.enumerated() { alpha += counts[k] * a.storage[row + i] } }
                if usesB { for (k, i) in batch.enumerated() { beta += counts[k] * b.storage[row + i] } }
                prefix[t * all + z] = prefix[(t - 1) * all + z] + beta * kernel.gain(loss[z])
                beta = kernel.apply(row: t - 1) { prefix[$0 * all + z] }
                alpha += Self.stepTerm(stepAlpha, z: z, step: step)
                beta += Self.stepTerm(stepBeta, z: z, step: step)
                var outside = 0
                loss[z] = Self.clamp(alpha * loss[z] + beta, lossLower?[z] ?? -.infinity, lossUpper?[z] ?? .infinity,
                                     counting: &outside)
                if requested[z] { clamped += outside }
            }
            for (col, z) in tests.enumerated() { out[t, col] = loss[z] }
            t += 1
        }
        return Rollout(losses: out, clamped: clamped)
    }

    /// Final losses of many curricula under ``recurrenceRollout(_:initial:tests:firstStep:)``:
    /// a plain simulator goes through ``BatchRollout`` (parameters transposed once, 8 test
    /// examples per instruction, the same arithmetic), an extended one through the rollout
    /// itself, one curriculum at a time, from step ``startingStep`` + 1.
    public func recurrenceFinalLosses(curricula: [[[Int]]], initial: [Double], tests: [Int]? = nil,
                                      threads: Int = Parallel.defaultThreads) -> Matrix {
        guard isExtended else {
            return BatchRollout(self, tests: tests).finalLosses(curricula: curricula, initial: initial, threads: threads)
        }
        let width = tests?.count ?? testIDs.count
        var out = Matrix(rows: curricula.count, columns: width)
        for (c, batches) in curricula.enumerated() {
            let trajectory = recurrenceRollout(batches, initial: initial, tests: tests, firstStep: startingStep + 1).losses
            for k in 0..<width { out[c, k] = trajectory[batches.count, k] }
        }
        return out
    }
}
