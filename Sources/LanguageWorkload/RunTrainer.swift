import SimfluenceCore

/// Raw memory written by several threads at disjoint ranges and read after they end (per-example
/// gradients, losses). The writers' ranges never overlap, so no locking is needed.
final class SharedBuffer<S>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<S>
    let count: Int
    init(count: Int, value: S) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: value, count: max(1, count))
    }
    deinit { pointer.deallocate() }
}

/// The training loop shared by pre-training and fine-tuning runs, and the batch evaluations.
///
/// Work is split by example: every example's loss and gradient is computed by itself (one
/// thread, one ``Workspace``), whatever the thread count, and a step's gradient is the sum of
/// its examples' gradients *in batch order*, times `1 / batch size`. So every result is
/// bit-identical for 1 or N threads.
enum LanguageRunTrainer {
    /// One optimizer step per batch. `batches` index `examples` (token sequences: the begin
    /// token, then 1...context characters). `learningRate(t)` is the rate of step t (1-based).
    /// If `tests` is given, returns their losses before training (row 0) and after every step (row
    /// t), a `(steps + 1) x tests` matrix. `snapshotSteps` lists steps (0 = before training) whose
    /// parameters to return. `batchLosses[t - 1]` is the mean loss of step t's batch, before the
    /// update.
    static func train(model: Transformer, from start: [Float], batches: [[Int]], examples: [[Int]],
                      learningRate: (Int) -> Double, weightDecay: Double, beta1: Double, beta2: Double, epsilon: Double,
                      tests: [[Int]]?, snapshotSteps: Set<Int> = [], threads: Int = 1)
        -> (parameters: [Float], losses: Matrix?, snapshots: [Int: [Float]], batchLosses: [Double]) {
        let n = model.parameterCount
        var parameters = start
        var derived = model.derivedWeights(parameters)
        var optimizer = AdamState<Float>(parameterCount: n, beta1: beta1, beta2: beta2, epsilon: epsilon)
        let largestBatch = batches.map(\.count).max() ?? 0
        let slots = SharedBuffer<Float>(count: largestBatch * n, value: 0)
        var gradient = [Float](repeating: 0, count: n)
        let testCount = tests?.count ?? 0
        var losses = [Double](repeating: 0, count: tests == nil ? 0 : (batches.count + 1) * testCount)
        var snapshots: [Int: [Float]] = [:]
        var batchLosses: [Double] = []
        batchLosses.reserveCapacity(batches.count)
        if snapshotSteps.contains(0) { snapshots[0] = parameters }
        if let tests {
            let row = evaluate(model: model, parameters: parameters, derived: derived, sequences: tests, threads: threads)
            for k in 0..<testCount { losses[k] = row[k] }
        }
        for (t, batch) in batches.enumerated() {
            let batchLoss = exampleGradients(model: model, parameters: parameters, derived: derived,
                                             sequences: batch.map { examples[$0] }, into: slots, threads: threads)
            batchLosses.append(batchLoss)
            let scale = 1 / Float(batch.count)
            gradient.withUnsafeMutableBufferPointer { gb in
                let g = gb.baseAddress!, s = slots.pointer
                g.update(from: s, count: n)
                for e in 1..<max(1, batch.count) {
                    let se = s + e * n
                    for k in 0..<n { g[k] += se[k] }
                }
                for k in 0..<n { g[k] *= scale }
            }
            let lr = learningRate(t + 1)
            parameters.withUnsafeMutableBufferPointer { pb in
                gradient.withUnsafeBufferPointer { gb in
                    optimizer.step(parameters: pb.baseAddress!, gradient: gb.baseAddress!, learningRate: lr,
                                   weightDecay: weightDecay)
                }
            }
            derived = model.derivedWeights(parameters)
            if snapshotSteps.contains(t + 1) { snapshots[t + 1] = parameters }
            if let tests {
                let row = evaluate(model: model, parameters: parameters, derived: derived, sequences: tests, threads: threads)
                for k in 0..<testCount { losses[(t + 1) * testCount + k] = row[k] }
            }
        }
        let matrix = tests.map { _ in Matrix(rows: batches.count + 1, columns: testCount, storage: losses) }
        return (parameters, matrix, snapshots, batchLosses)
    }

    /// Each sequence's gradient into `slots` (sequence e at `e * parameterCount`); returns the
    /// mean of their losses. Parallel over sequences in contiguous chunks.
    static func exampleGradients(model: Transformer, parameters: [Float], derived: [Float], sequences: [[Int]],
                                 into slots: SharedBuffer<Float>, threads: Int) -> Double {
        let n = model.parameterCount
        precondition(slots.count >= sequences.count * n)
        let lossSlots = SharedBuffer<Double>(count: sequences.count, value: 0)
        forEachSequence(model: model, parameters: parameters, derived: derived, sequences: sequences, threads: threads) { e, tok, p, d, ws in
            lossSlots.pointer[e] = model.lossAndGradient(tokens: tok.baseAddress!, n: tok.count - 1, parameters: p, derived: d,
                                                         gradient: slots.pointer + e * n, workspace: ws)
        }
        var total = 0.0
        for e in 0..<sequences.count { total += lossSlots.pointer[e] }
        return sequences.isEmpty ? 0 : total / Double(sequences.count)
    }

    /// The loss of every sequence at `parameters`, in order. Parallel over sequences.
    static func evaluate(model: Transformer, parameters: [Float], derived: [Float], sequences: [[Int]], threads: Int) -> [Double] {
        let out = SharedBuffer<Double>(count: sequences.count, value: 0)
        forEachSequence(model: model, parameters: parameters, derived: derived, sequences: sequences, threads: threads) { e, tok, p, d, ws in
            out.pointer[e] = model.loss(tokens: tok.baseAddress!, n: tok.count - 1, parameters: p, derived: d, workspace: ws)
        }
        return Array(UnsafeBufferPointer(start: out.pointer, count: sequences.count))
    }

    /// Calls `body(e, tokens, parameters, derived, workspace)` for every sequence e, in contiguous
    /// chunks over threads (``forEachChunk(_:threads:_:)``), each chunk with its own workspace.
    static func forEachSequence(model: Transformer, parameters: [Float], derived: [Float], sequences: [[Int]], threads: Int,
                                _ body: @Sendable (Int, UnsafeBufferPointer<Int>, UnsafePointer<Float>, UnsafePointer<Float>,
                                                   Workspace<Float>) -> Void) {
        forEachChunk(sequences.count, threads: threads) { range in
            let ws = Workspace<Float>(model: model)
            parameters.withUnsafeBufferPointer { p in
                derived.withUnsafeBufferPointer { d in
                    for e in range {
                        sequences[e].withUnsafeBufferPointer { body(e, $0, p.baseAddress!, d.baseAddress!, ws) }
                    }
                }
            }
        }
    }

    /// Calls `body` on contiguous chunks covering `0..<count`, one chunk per thread (at most
    /// `threads`). Each item's result must depend on the item alone.
    static func forEachChunk(_ count: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = max(1, min(threads, count))
        if chunks == 1 {
            if count > 0 { body(0..<count) }
            return
        }
        try? Parallel.forEach(chunks, threads: chunks) { c in
            body((count * c / chunks)..<(count * (c + 1) / chunks))
        }
    }
}
