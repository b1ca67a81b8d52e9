/// Fast rollouts of many curricula for many test examples at once.
///
/// A second implementation of the plain recurrence beside
/// ``FittedSimulator/recurrenceRollout(_:initial:tests:firstStep:)``, kept because it runs 8
/// test examples per SIMD instruction over transposed parameters (6x faster for counterfactual
/// sweeps, Docs/Performance.md); tests check the two bit for bit.
///
/// ``FittedSimulator/simulate(_:initial:tests:)`` walks one test example at a time through rows
/// of A and B (tests x train): every batch member is a scattered load. For many curricula it pays
/// to transpose the parameters once to train x tests, so a batch member's parameters for a tile
/// of test examples are one contiguous SIMD vector, and the recurrence runs for 8 test examples
/// per instruction. The arithmetic per test example is the same as `simulate`'s, in the same
/// order (alpha = 0 + A_{i1} + A_{i2} + ..., loss = alpha * loss + beta), so results are
/// bit-identical to it.
public struct BatchRollout: Sendable {
    typealias Lanes = SIMD8<Double>
    /// The simulated test examples (rows of the simulator's A/B), in output column order.
    public let tests: [Int]
    public let form: RecurrenceForm
    /// Number of training examples (valid batch indices are 0 ..< trainCount).
    public let trainCount: Int
    /// Tiles of 8 test examples; per tile, A^T then B^T as trainCount SIMD vectors each.
    private let tiles: Int
    private let params: [Lanes]

    /// Transposes the parameters of `simulator` for `tests` (default all). Only for the plain
    /// recurrence: an extended simulator (step terms, carry-over, clamping) is refused, since its
    /// rollout needs more than A and B (``FittedSimulator/recurrenceFinalLosses(curricula:initial:tests:threads:)``
    /// handles both).
    public init(_ simulator: FittedSimulator, tests: [Int]? = nil) {
        precondition(!simulator.isExtended, "BatchRollout runs the plain recurrence; use FittedSimulator.recurrenceFinalLosses for extended simulators")
        let tests = tests ?? Array(0..<simulator.testIDs.count)
        let n = simulator.trainIDs.count
        self.tests = tests
        self.form = simulator.form
        self.trainCount = n
        let tiles = (tests.count + 7) / 8
        self.tiles = tiles
        var params = [Lanes](repeating: Lanes(), count: max(1, tiles * 2 * n))
        simulator.a.storage.withUnsafeBufferPointer { a in
            simulator.b.storage.withUnsafeBufferPointer { b in
                params.withUnsafeMutableBufferPointer { p in
                    for tile in 0..<tiles {
                        let base = tile * 2 * n
                        for lane in 0..<8 {
                            let k = tile * 8 + lane
                            guard k < tests.count else { continue }
                            let row = tests[k] * n
                            for i in 0..<n {
                                p[base + i][lane] = a[row + i]
                                p[base + n + i][lane] = b[row + i]
                            }
                        }
                    }
                }
            }
        }
        self.params = params
    }

    /// Final predicted loss of every test example under every curriculum:
    /// `curricula.count` x `tests.count`. `initial` holds one starting loss per test example
    /// (in ``tests`` order), used for every curriculum. Batches are indices into the simulator's
    /// training ids (see ``FittedSimulator/resolve(_:unseen:source:firstStep:)``).
    public func finalLosses(curricula: [[[Int]]], initial: [Double], threads: Int = Parallel.defaultThreads) -> Matrix {
        precondition(initial.count == tests.count, "one initial loss per simulated test example")
        for c in curricula { for batch in c { for i in batch { precondition(i >= 0 && i < trainCount, "batch index \(i) out of range") } } }
        let width = tests.count
        var out = Matrix(rows: curricula.count, columns: width)
        if curricula.isEmpty || width == 0 { return out }
        var starting = [Lanes](repeating: Lanes(), count: tiles)
        for k in 0..<width { starting[k / 8][k % 8] = initial[k] }
        let start = starting
        let tiles = self.tiles, n = trainCount
        let usesA = form.usesA, usesB = form.usesB
        // Work items: (curriculum, tile); each writes its own cells.
        out.storage.withUnsafeMutableBufferPointer { o in
            let sink = RidgeSharedPointer(base: o.baseAddress!)
            params.withUnsafeBufferPointer { pb in
                let p = ParamPointer(base: pb.baseAddress!)
                try? Parallel.forEach(curricula.count * tiles, threads: threads) { item in
                    let c = item / tiles, tile = item % tiles
                    let aT = p.base + tile * 2 * n, bT = aT + n
                    var loss = start[tile]
                    for batch in curricula[c] {
                        var alpha = Lanes(repeating: usesA ? 0 : 1), beta = Lanes()
                        if usesA { for i in batch { alpha += aT[i] } }
                        if usesB { for i in batch { beta += bT[i] } }
                        loss = alpha * loss + beta
                    }
                    for lane in 0..<8 {
                        let k = tile * 8 + lane
                        if k < width { sink.base[c * width + k] = loss[lane] }
                    }
                }
            }
        }
        return out
    }
}

private struct ParamPointer: @unchecked Sendable { let base: UnsafePointer<SIMD8<Double>> }
