import SimfluenceCore

/// The training loop shared by warm-up and fine-tuning runs. Allocates its buffers once per run;
/// the per-step work runs over raw buffers.
enum RunTrainer {
    /// Test examples to evaluate after every step.
    struct TestSet {
        let features: [Double]
        let labels: [Int]
    }

    /// Trains `model` from `start` on `rowBatches` (data-set rows), one optimizer step per batch
    /// with the mean gradient of the batch. If `test` is given, returns the test losses before
    /// training (row 0) and after every step (row t) as a `(steps + 1) x tests` matrix.
    /// `snapshotSteps` lists steps (0 = before training) whose parameters to return in `snapshots`.
    static func train(model: MLP, from start: [Double], rowBatches: [[Int]], optimizer settings: OptimizerSettings,
                      features: [Double], labels: [Int], test: TestSet?,
                      snapshotSteps: Set<Int> = []) -> (parameters: [Double], losses: Matrix?, snapshots: [Int: [Double]]) {
        let n = model.parameterCount, d = model.inputs
        var parameters = start
        var gradient = [Double](repeating: 0, count: n)
        var scratch = [Double](repeating: 0, count: model.scratchCount)
        var optimizer = OptimizerState(settings: settings, parameterCount: n)
        let testCount = test?.labels.count ?? 0
        var losses = [Double](repeating: 0, count: test == nil ? 0 : (rowBatches.count + 1) * testCount)
        let testFeatures = test?.features ?? [], testLabels = test?.labels ?? []
        var snapshots: [Int: [Double]] = [:]
        if snapshotSteps.contains(0) { snapshots[0] = start }

        parameters.withUnsafeMutableBufferPointer { pb in
            gradient.withUnsafeMutableBufferPointer { gb in
                scratch.withUnsafeMutableBufferPointer { sb in
                    losses.withUnsafeMutableBufferPointer { lb in
                        features.withUnsafeBufferPointer { xb in
                            testFeatures.withUnsafeBufferPointer { tb in
                                let p = pb.baseAddress!, g = gb.baseAddress!, s = sb.baseAddress!, x = xb.baseAddress!
                                if test != nil {
                                    evaluate(model: model, p: p, features: tb.baseAddress!, labels: testLabels,
                                             out: lb.baseAddress!, scratch: s)
                                }
                                for (t, batch) in rowBatches.enumerated() {
                                    g.update(repeating: 0, count: n)
                                    for row in batch {
                                        _ = model.accumulateGradient(x: x + row * d, label: labels[row], p: p, g: g, scratch: s)
                                    }
                                    model.scale(g, by: 1 / Double(batch.count))
                                    optimizer.step(parameters: p, gradient: g)
                                    if snapshotSteps.contains(t + 1) { snapshots[t + 1] = Array(UnsafeBufferPointer(start: p, count: n)) }
                                    if test != nil {
                                        evaluate(model: model, p: p, features: tb.baseAddress!, labels: testLabels,
                                                 out: lb.baseAddress! + (t + 1) * testCount, scratch: s)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let matrix = test.map { _ in Matrix(rows: rowBatches.count + 1, columns: testCount, storage: losses) }
        return (parameters, matrix, snapshots)
    }

    /// The loss of each of `labels.count` examples (pixels back to back in `features`) into `out`.
    @inline(__always)
    static func evaluate(model: MLP, p: UnsafePointer<Double>, features: UnsafePointer<Double>, labels: [Int],
                         out: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>) {
        let d = model.inputs
        labels.withUnsafeBufferPointer { yb in
            for k in 0..<yb.count {
                out[k] = model.forward(x: features + k * d, label: yb[k], p: p, scratch: scratch)
            }
        }
    }
}

extension DigitsFineTuning {
    /// Fine-tunes from ``checkpoint`` with a fresh optimizer on exactly `batches` (pool ids, one
    /// batch per step) and records the loss of every test example before training (row 0) and
    /// after every step. Batches are indices into ``poolIDs`` in the result; `firstLossStep` is 0.
    /// Throws ``SimfluenceError/invalidArgument(_:)`` for an id outside the pool or an empty batch.
    public func train(name: String, batches: [[String]]) throws -> TrainingRun {
        train(name: name, poolIndexBatches: try PoolBatches.indices(name: name, batches: batches, index: poolIndexByID))
    }

    /// As ``train(name:batches:)`` with batches given as indices into ``poolIDs`` (must be valid).
    public func train(name: String, poolIndexBatches: [[Int]]) -> TrainingRun {
        let rows = poolIndexBatches.map { $0.map { poolRows[$0] } }
        let result = RunTrainer.train(model: model, from: checkpoint, rowBatches: rows, optimizer: settings.optimizerSettings,
                                      features: dataset.features, labels: trainingLabels,
                                      test: RunTrainer.TestSet(features: testFeatures, labels: testLabels))
        return TrainingRun(name: name, batches: poolIndexBatches, firstLossStep: 0, losses: result.losses!)
    }

    /// Trains every run of ``curricula()`` (in parallel over runs; the result does not depend on
    /// `threads`) into a log: `trainIDs` = ``poolIDs``, `testIDs` = ``testIDs``, runs in order,
    /// metadata = ``metadata``.
    public func trainAll(threads: Int = Parallel.defaultThreads) throws -> TrainingLog {
        try trainRuns(settings.runs, orders: settings.orders, threads: threads)
    }
}
