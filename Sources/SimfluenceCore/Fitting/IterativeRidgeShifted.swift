#if canImport(Glibc)
import Glibc
#endif
import SimfluenceKernels

/// Multi-shift conjugate gradients: every lambda of a grid from one CG run.
///
/// The systems (X^T X + lambda_j I) theta_j = X^T y of a grid differ by multiples of the identity,
/// so they share their Krylov spaces: the CG residual of the seed system (the smallest lambda,
/// the slowest to converge) is, at every iteration, parallel to the CG residual each shifted
/// system would have, r_j = zeta_j r, with zeta_j given by a scalar recurrence in the seed's
/// step sizes (van der Vorst's and Jegerlehner's shifted CG). One product per iteration then
/// advances every lambda: each shifted system only adds two vector updates of the form's one
/// half (``sf_cg_shift_update``), and stops updating once |zeta_j| ||r|| meets the tolerance.
///
/// The price is the preconditioner: the block-Jacobi one depends on lambda and breaks the shift
/// structure, so the seed runs unpreconditioned. For the additive and multiplicative forms (one
/// unknown per example, the Jacobi scale nearly uniform) that costs little: on the medium
/// benchmark workload a cold solve at lambda = 0.01 to 1e-5 takes 28-33 iterations per block
/// without the preconditioner against 26-29 with it (additive), 38-43 against 25-26
/// (multiplicative), while the warm-started path over the 11 grid points it replaces takes
/// ~170. For the linear form it doubles the iterations (the 2 x 2 blocks matter there), so
/// linear keeps the preconditioned walk down the grid (since issue-18d each solve started from
/// the walk's earlier solutions, ``IterativeRidge/SolutionPath``: ~157 iterations per block and
/// fold on medium).
///
/// Every shifted solution is checked by its true residual at its own lambda; a lane above the
/// tolerance is finished by the ordinary preconditioned CG (``solve(lambda:_:warmStart:)``),
/// warm-started from it, so no result rests on the recurrences alone.
extension IterativeRidge {
    /// Whether `form` may use ``solveShifted(lambdas:_:_:deliver:)``: the forms with one half
    /// (additive, multiplicative).
    static func solvesShifted(_ form: RecurrenceForm) -> Bool {
        form.usesA != form.usesB
    }

    /// Per-thread storage of the shifted systems: per active example and lambda, the solution
    /// and the search direction of the form's one half (two lane vectors, lambdas innermost:
    /// the layout of `sf_cg_shift_update`), and that kernel's per-system scalars.
    final class ShiftedWorkspace {
        let m: Int, lambdas: Int
        let xp: UnsafeMutablePointer<Lanes>
        let scalars: UnsafeMutablePointer<Lanes>
        let shifts: UnsafeMutablePointer<Int64>

        init(m: Int, lambdas: Int) {
            self.m = m
            self.lambdas = lambdas
            xp = Workspace.allocate(max(1, 2 * m * lambdas))
            scalars = .allocate(capacity: 3 * max(1, lambdas))
            shifts = .allocate(capacity: max(1, lambdas))
        }

        deinit {
            #if canImport(Glibc)
            free(UnsafeMutableRawPointer(xp))
            #else
            xp.deallocate()
            #endif
            scalars.deallocate()
            shifts.deallocate()
        }
    }

    /// Solves the prepared block (``prepare(tests:runs:testIDs:_:)``) at every lambda of
    /// `lambdas` (each > 0; the form must satisfy ``solvesShifted(_:)``) by one multi-shift CG
    /// run seeded at the smallest, then calls `deliver(j, result)` for every j in order with
    /// `ws.x` holding the solution at lambdas[j] (the layout of
    /// ``solve(lambda:_:warmStart:)``). A result's iterations are its shifted system's, plus
    /// those of the preconditioned CG that finished it when its true residual was above the
    /// tolerance. Throws as ``solve(lambda:_:warmStart:)`` when such a finishing solve does.
    func solveShifted(lambdas: [Double], _ ws: Workspace, _ sw: ShiftedWorkspace,
                      deliver: (Int, BlockResult) throws -> Void) throws {
        let W = IterativeRidge.width, m = design.activeCount, g = lambdas.count
        precondition(IterativeRidge.solvesShifted(form) && g > 0 && sw.lambdas == g && sw.m == m
                     && lambdas.allSatisfy { $0 > 0 })
        let half = form.usesB ? 0 : 1
        let seed = lambdas.min()!
        var bNorm2 = Lanes()
        for i in 0..<m { bNorm2 += ws.b[2 * i] * ws.b[2 * i] + ws.b[2 * i + 1] * ws.b[2 * i + 1] }
        let target2 = (tolerance * tolerance) * bNorm2
        ws.x.update(repeating: Lanes(), count: 2 * m)
        ws.r.update(from: ws.b, count: 2 * m)
        ws.p.update(from: ws.b, count: 2 * m)
        for i in 0..<m {
            for j in 0..<g {
                sw.xp[2 * (i * g + j)] = Lanes()
                sw.xp[2 * (i * g + j) + 1] = ws.b[2 * i + half]
            }
        }
        // Seed CG state, and per shifted system zeta_k, zeta_{k-1} and its converged lanes.
        var rr = bNorm2
        var alphaPrevious = Lanes(repeating: 1), betaPrevious = Lanes()
        var zeta = [Lanes](repeating: Lanes(repeating: 1), count: g), zetaPrevious = zeta
        let start = SIMDMask<Lanes.MaskStorage>(repeating: true) .& (bNorm2 .> 0) .& (rr .> target2)
        var shiftActive = [SIMDMask<Lanes.MaskStorage>](repeating: start, count: g)
        var active = start
        var iterations = [[Int]](repeating: [Int](repeating: 0, count: W), count: g)
        var total = 0
        var zetaNext = [Lanes](repeating: Lanes(), count: g), shiftAlpha = zetaNext
        let scalars = ws.scalars, s = laneDoubles(scalars)
        while any(active) && total < maxIterations {
            let pq = apply(ws.p, into: ws.q, lambda: seed, ws, dot: true)
            let alpha = Lanes(repeating: 0).replacing(with: rr / pq, where: active)
            for j in 0..<g where any(shiftActive[j]) {
                let delta = Lanes(repeating: lambdas[j] - seed)
                let denominator = alpha * betaPrevious * (zetaPrevious[j] - zeta[j])
                    + zetaPrevious[j] * alphaPrevious * (1 + alpha * delta)
                let next = zeta[j] * zetaPrevious[j] * alphaPrevious / denominator
                zetaNext[j] = Lanes(repeating: 0).replacing(with: next, where: shiftActive[j])
                shiftAlpha[j] = Lanes(repeating: 0).replacing(with: alpha * next / zeta[j], where: shiftActive[j])
            }
            scalars[0] = alpha
            sf_cg_update(m, s, laneDoubles(ws.x), laneDoubles(ws.r), laneDoubles(ws.p), laneDoubles(ws.q), nil,
                         s + W, s + 2 * W)
            let rrNew = scalars[2]
            let beta = Lanes(repeating: 0).replacing(with: rrNew / rr, where: active)
            var stillActive = SIMDMask<Lanes.MaskStorage>(repeating: false)
            var count = 0
            for j in 0..<g where any(shiftActive[j]) {
                let ratio = zetaNext[j] / zeta[j]
                sw.shifts[count] = Int64(j)
                sw.scalars[3 * count] = shiftAlpha[j]
                sw.scalars[3 * count + 1] = zetaNext[j]
                sw.scalars[3 * count + 2] = Lanes(repeating: 0).replacing(with: ratio * ratio * beta, where: shiftActive[j])
                count += 1
                for k in 0..<W where shiftActive[j][k] { iterations[j][k] += 1 }
                zetaPrevious[j] = zetaPrevious[j].replacing(with: zeta[j], where: shiftActive[j])
                zeta[j] = zeta[j].replacing(with: zetaNext[j], where: shiftActive[j])
                shiftActive[j] = shiftActive[j] .& (zetaNext[j] * zetaNext[j] * rrNew .> target2)
                stillActive = stillActive .| shiftActive[j]
            }
            sf_cg_shift_update(m, half, count, sw.shifts, g, laneDoubles(sw.scalars), laneDoubles(ws.r), laneDoubles(sw.xp))
            scalars[0] = beta
            nextDirection(updating: SIMD8<Int64>(repeating: 0).replacing(with: -1, where: stillActive), ws, single: false,
                          preconditioned: false)
            alphaPrevious = alphaPrevious.replacing(with: alpha, where: active)
            betaPrevious = betaPrevious.replacing(with: beta, where: active)
            rr = rr.replacing(with: rrNew, where: active)
            active = stillActive
            total += 1
        }
        let lanes = ws.tests.count
        for j in 0..<g {
            for i in 0..<m {
                ws.x[2 * i + half] = sw.xp[2 * (i * g + j)]
                ws.x[2 * i + 1 - half] = Lanes()
            }
            let trueRes2 = residual(lambda: lambdas[j], ws)
            // Accepted at the tolerance itself: a lane above it is finished by the ordinary CG,
            // in which the accepted lanes (at or below it) do not move, so every lane's result
            // is its own whatever the block.
            let accepted = (trueRes2 .<= target2) .| .!(bNorm2 .> 0)
            var result: BlockResult
            if all(accepted) {
                result = BlockResult(iterations: Array(iterations[j].prefix(lanes)), residuals: (0..<lanes).map { k in
                    bNorm2[k] > 0 ? (trueRes2[k] / bNorm2[k]).squareRoot() : 0
                })
                if let traceSink {
                    traceSink("cg shifted lambda=\(lambdas[j]) seed=\(seed) tests=\(ws.tests.first ?? 0)... iterations=\(result.iterations) restarts=0 residual=\(result.residuals.max() ?? 0)")
                }
            } else {
                result = try solve(lambda: lambdas[j], ws, warmStart: true)
                for k in 0..<lanes { result.iterations[k] += iterations[j][k] }
            }
            try deliver(j, result)
        }
    }
}
