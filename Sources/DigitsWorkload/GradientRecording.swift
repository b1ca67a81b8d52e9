import SimfluenceCore

extension DigitsFineTuning {
    /// The parameters of reference run `run` (1-based, its curriculum ``curriculum(ofRun:)``,
    /// trained exactly as ``trainAll(threads:)`` trains it) after each of `steps` optimizer steps
    /// (0 = the shared ``checkpoint``), in the order of `steps`. Steps must be in
    /// `0...stepsPerRun`.
    public func referenceParameters(run: Int = 1, at steps: [Int]) -> [[Double]] {
        precondition(run >= 1, "runs are numbered from 1")
        precondition(steps.allSatisfy { (0...settings.stepsPerRun).contains($0) }, "steps must be in 0...\(settings.stepsPerRun)")
        let rows = curriculum(ofRun: run).map { $0.map { poolRows[poolIndexByID[$0]!] } }
        let result = RunTrainer.train(model: model, from: checkpoint, rowBatches: rows, optimizer: settings.optimizerSettings,
                                      features: dataset.features, labels: trainingLabels, test: nil,
                                      snapshotSteps: Set(steps))
        return steps.map { result.snapshots[$0]! }
    }

    /// Exact (unprojected, d = ``MLP/parameterCount``) per-example loss gradients of every pool
    /// example (rows in ``poolIDs`` order) and every test example (``testIDs`` order), at
    /// checkpoints of one reference run, for the classic TDA methods (``ClassicScores``).
    ///
    /// Checkpoints are taken at steps 0, K, 2K, ... below T = ``WorkloadProtocol/stepsPerRun``
    /// (K = `every`), each covering the K steps that follow it (the last one the rest of the run),
    /// so TracIn-CP averages over the whole run; with `includeFinal`, the parameters after the
    /// last step are added as a checkpoint at step T covering 0 steps, the "final model" that
    /// Grad-Dot and influence functions use (it does not enter TracIn-CP). Defaults (K = 24,
    /// T = 96): steps 0, 24, 48, 72 (24 steps each) and 96 (0 steps).
    ///
    /// The gradients are those of one reference run (`referenceRun`, default run 1): one run is
    /// the simplest honest choice, as TracIn-CP is defined on one training trajectory, and every
    /// run starts from the same warm-up checkpoint, so step-0 gradients are shared by all runs.
    /// Training examples the reference run never samples still get gradients (at its checkpoints).
    ///
    /// Each checkpoint records the plain fine-tuning learning rate; ``GradientFeatures/batchSize``
    /// is ``WorkloadProtocol/batchSize``. With SGD momentum mu the effective step of an example
    /// is about 1/(1 - mu) times larger (10x at 0.9) and with Adam it is not lr * gradient at
    /// all: the raw forms ignore this, the `-scaled` forms absorb it in their fitted scale.
    ///
    /// Deterministic; parallel over examples (the result does not depend on `threads`).
    public func gradientFeatures(every interval: Int = 24, referenceRun: Int = 1, includeFinal: Bool = true,
                                 threads: Int = Parallel.defaultThreads) throws -> GradientFeatures {
        let (steps, covered) = try settings.gradientCheckpoints(every: interval, referenceRun: referenceRun,
                                                                includeFinal: includeFinal)
        let parameters = referenceParameters(run: referenceRun, at: steps)
        let lr = settings.optimizerSettings.learningRate
        let d = model.parameterCount
        let poolFeatures = poolRows.flatMap { dataset.pixels(ofRow: $0) }
        let poolLabels = poolRows.map { trainingLabels[$0] }

        var checkpoints: [GradientCheckpoint] = []
        for (k, p) in parameters.enumerated() {
            let train = try gradients(features: poolFeatures, labels: poolLabels, parameters: p, threads: threads)
            let test = try gradients(features: testFeatures, labels: testLabels, parameters: p, threads: threads)
            checkpoints.append(GradientCheckpoint(step: steps[k], learningRate: lr, stepsCovered: covered[k],
                                                  train: Matrix(rows: poolLabels.count, columns: d, storage: train),
                                                  test: Matrix(rows: testLabels.count, columns: d, storage: test)))
        }
        var metadata = [
            "source": "digits", "reference_run": "run\(referenceRun)", "checkpoint_interval": String(interval),
            "optimizer": settings.optimizer.rawValue, "learning_rate": String(lr), "seed": String(settings.seed),
            "projection": "none", "original_dimension": String(d),
        ]
        if settings.optimizer == .sgdMomentum { metadata["momentum"] = String(settings.momentum) }
        return GradientFeatures(trainIDs: poolIDs, testIDs: testIDs, batchSize: settings.batchSize,
                                checkpoints: checkpoints, metadata: metadata)
    }

    /// Per-example gradients of `labels.count` examples (pixels back to back), back to back.
    private func gradients(features: [Double], labels: [Int], parameters: [Double], threads: Int) throws -> [Double] {
        let inputs = model.inputs
        let rows = try Parallel.map(labels.count, threads: threads) { e in
            model.perExampleGradient(features: Array(features[(e * inputs)..<((e + 1) * inputs)]), label: labels[e],
                                     parameters: parameters).gradient
        }
        return rows.flatMap { $0 }
    }
}
