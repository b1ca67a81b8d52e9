/// The rows of the teacher-forced ridge regression, shared by every test example.
///
/// One row per (run, step t) with both L_{t-1} and L_t recorded: for a run whose first loss row is
/// step f, loss rows r - 1 and r (r = 1 ..< losses.rows) give step t = f + r with batch
/// `batches[t - 1]`. A row's batch is kept as distinct *active* (local) example indices with their
/// multiplicities, so a duplicated id contributes count^2 to the co-occurrence, as in the
/// multiset definition of alpha and beta.
///
/// Training examples that occur in at least one row are active; local index = rank of the global
/// index among active examples, so the ordering is deterministic.
struct RidgeDesign: Sendable {
    /// Size of the training vocabulary (`log.trainIDs.count`).
    let trainCount: Int
    /// Global training index of every active example, ascending (local -> global).
    let active: [Int]
    /// Local index of every training example, or -1 when it occurs in no row (global -> local).
    let local: [Int]
    /// Number of rows.
    let rowCount: Int
    /// Per row: flat offset of L_{t-1} in its run's `losses.storage` for test column 0
    /// (add the test column); L_t is one loss row further down.
    let rowPrevOffset: [Int]
    /// Per row: index of its run in the runs the design was built from.
    let rowRun: [Int]
    /// Row r's entries are `entryStart[r] ..< entryStart[r + 1]`.
    let entryStart: [Int]
    /// Local example index of every entry (distinct within a row, in order of first appearance).
    let entryLocal: [Int]
    /// Multiplicity of every entry in its batch.
    let entryCount: [Double]

    /// Number of active examples m.
    var activeCount: Int { active.count }

    /// Builds the rows of `runs` (runs of `log`), checking indices and shapes.
    init(log: TrainingLog, runs: [TrainingRun]) throws {
        let trainCount = log.trainIDs.count
        let tests = log.testIDs.count
        var seen = [Bool](repeating: false, count: trainCount)
        for run in runs {
            guard run.losses.columns == tests else {
                throw SimfluenceError.invalidArgument(
                    "run '\(run.name)' records \(run.losses.columns) test examples but the log has \(tests)")
            }
            for r in 1..<max(1, run.losses.rows) {
                let t = run.firstLossStep + r
                for i in run.batches[t - 1] {
                    guard i >= 0 && i < trainCount else {
                        throw SimfluenceError.invalidArgument(
                            "run '\(run.name)' step \(t): training index \(i) is outside the log's \(trainCount) training examples")
                    }
                    seen[i] = true
                }
            }
            // Batches before the first recorded loss are not rows, but must still be valid indices.
            for batch in run.batches { for i in batch where i < 0 || i >= trainCount {
                throw SimfluenceError.invalidArgument(
                    "run '\(run.name)': training index \(i) is outside the log's \(trainCount) training examples")
            } }
        }
        var local = [Int](repeating: -1, count: trainCount)
        var active: [Int] = []
        for i in 0..<trainCount where seen[i] {
            local[i] = active.count
            active.append(i)
        }

        var rowPrevOffset: [Int] = [], rowRun: [Int] = [], entryStart: [Int] = [0]
        var entryLocal: [Int] = [], entryCount: [Double] = []
        for (ri, run) in runs.enumerated() {
            for r in 1..<max(1, run.losses.rows) {
                let t = run.firstLossStep + r
                rowPrevOffset.append((r - 1) * tests)
                rowRun.append(ri)
                let first = entryLocal.count
                for g in run.batches[t - 1] {
                    let l = local[g]
                    if let e = entryLocal[first...].firstIndex(of: l) {
                        entryCount[e] += 1
                    } else {
                        entryLocal.append(l)
                        entryCount.append(1)
                    }
                }
                entryStart.append(entryLocal.count)
            }
        }
        self.trainCount = trainCount
        self.active = active
        self.local = local
        self.rowCount = rowRun.count
        self.rowPrevOffset = rowPrevOffset
        self.rowRun = rowRun
        self.entryStart = entryStart
        self.entryLocal = entryLocal
        self.entryCount = entryCount
    }

    /// The co-occurrence matrix C = sum over rows of c c^T (c the row's multiplicity vector over
    /// active examples), packed lower triangle of order m: the B-B block of X^T X for every test
    /// example.
    func cooccurrence() -> [Double] {
        let m = activeCount
        var c = [Double](repeating: 0, count: PackedCholesky.packedCount(m))
        for row in 0..<rowCount {
            let lo = entryStart[row], hi = entryStart[row + 1]
            for e in lo..<hi {
                let i = entryLocal[e], ci = entryCount[e]
                let base = PackedCholesky.rowStart(i)
                for f in lo..<hi where entryLocal[f] <= i {
                    c[base + entryLocal[f]] += ci * entryCount[f]
                }
            }
        }
        return c
    }

    /// The pattern by column: example i's appearances are `start[i] ..< start[i + 1]`, in
    /// increasing row order, with their rows and multiplicities (the transpose products of the
    /// CG solvers gather by example over it instead of scattering by row).
    func columns() -> (start: [Int], row: [Int32], count: [Double]) {
        let m = activeCount
        var start = [Int](repeating: 0, count: m + 1)
        for l in entryLocal { start[l + 1] += 1 }
        for i in 0..<m { start[i + 1] += start[i] }
        var fill = start
        var row = [Int32](repeating: 0, count: entryLocal.count)
        var count = [Double](repeating: 0, count: entryLocal.count)
        for r in 0..<rowCount {
            for e in entryStart[r]..<entryStart[r + 1] {
                let l = entryLocal[e]
                row[fill[l]] = Int32(r)
                count[fill[l]] = entryCount[e]
                fill[l] += 1
            }
        }
        return (start, row, count)
    }

    /// Copies L_{t-1} and L_t of test column `z` for every row into `prev` and `cur`; throws if a
    /// used loss is not finite.
    func gather(z: Int, runs: [TrainingRun], testIDs: [String],
                prev: UnsafeMutablePointer<Double>, cur: UnsafeMutablePointer<Double>) throws {
        let tests = testIDs.count
        var row = 0
        while row < rowCount {
            let ri = rowRun[row]
            let run = runs[ri]
            try run.losses.storage.withUnsafeBufferPointer { s in
                while row < rowCount && rowRun[row] == ri {
                    let o = rowPrevOffset[row] + z
                    let p = s[o], c = s[o + tests]
                    guard p.isFinite && c.isFinite else {
                        let r = rowPrevOffset[row] / tests + (p.isFinite ? 1 : 0)
                        throw SimfluenceError.invalidArgument(
                            "run '\(run.name)': loss of test example '\(testIDs[z])' after step \(run.firstLossStep + r) is not finite")
                    }
                    prev[row] = p
                    cur[row] = c
                    row += 1
                }
            }
        }
    }
}
