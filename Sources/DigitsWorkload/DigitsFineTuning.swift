import SimfluenceCore

/// The built-in fine-tuning workload: a 64-32-10 MLP on UCI digits, "pre-trained" on a warm-up
/// split and fine-tuned in many short runs on random subsets of a training pool, recording the
/// loss of every test example after every step.
///
/// Construction is deterministic in ``WorkloadProtocol/seed``: it splits the data set into
/// disjoint warm-up, pool and test splits (each kept in ascending row order), flips the labels
/// of ``WorkloadProtocol/flipLabels`` of the pool, initialises the model and trains it on the
/// warm-up split into ``checkpoint``. Every run starts from that checkpoint with a fresh
/// optimizer state.
///
/// (Named `DigitsFineTuning` rather than after its module, `DigitsWorkload`, so that
/// module-qualified names such as `DigitsWorkload.MLP` stay unambiguous.)
public struct DigitsFineTuning: Sendable {
    /// The protocol this workload was built with.
    public let settings: WorkloadProtocol
    /// The data set (original labels).
    public let dataset: DigitsDataset
    /// The network's shape.
    public let model: MLP
    /// Ids of the warm-up split, the training pool and the test set (disjoint; ascending rows).
    public let warmupIDs: [String]
    public let poolIDs: [String]
    public let testIDs: [String]
    /// Pool ids whose labels were flipped, in pool order.
    public let flippedIDs: [String]
    /// Parameters after warm-up: the starting point of every run.
    public let checkpoint: [Double]

    /// Label used for training, per data-set row (differs from the data set's only for flipped
    /// pool examples).
    let trainingLabels: [Int]
    /// Data-set row of every pool example, in pool order.
    let poolRows: [Int]
    let poolIndexByID: [String: Int]
    /// Test examples' pixels back to back (`testSize * 64`), and their labels.
    let testFeatures: [Double]
    let testLabels: [Int]

    /// Loads the bundled data set and builds the workload (see the type's description).
    public init(protocol settings: WorkloadProtocol) throws {
        try self.init(protocol: settings, dataset: try DigitsDataset.bundled())
    }

    /// Builds the workload over a given data set (for tests and other copies of the data).
    public init(protocol settings: WorkloadProtocol, dataset: DigitsDataset) throws {
        try settings.validate(datasetSize: dataset.count)
        self.settings = settings
        self.dataset = dataset
        let model = MLP(inputs: DigitsDataset.pixelCount, hidden: 32, classes: DigitsDataset.classCount)
        self.model = model

        // Splits.
        var rng = RandomDraws.generator(seed: settings.seed, .split)
        let order = RandomDraws.sample(settings.warmupSize + settings.poolSize + settings.testSize, of: dataset.count, using: &rng)
        let warmupRows = order[0..<settings.warmupSize].sorted()
        let poolRows = order[settings.warmupSize..<(settings.warmupSize + settings.poolSize)].sorted()
        let testRows = order[(settings.warmupSize + settings.poolSize)...].sorted()
        let poolIDs = poolRows.map(DigitsDataset.id(ofRow:))
        warmupIDs = warmupRows.map(DigitsDataset.id(ofRow:))
        testIDs = testRows.map(DigitsDataset.id(ofRow:))
        self.poolIDs = poolIDs
        self.poolRows = poolRows
        poolIndexByID = Dictionary(uniqueKeysWithValues: poolIDs.enumerated().map { ($1, $0) })

        // Label flips: a random subset of the pool gets a uniformly random *different* label.
        var labels = dataset.labels
        var flipRNG = RandomDraws.generator(seed: settings.seed, .flip)
        let flipped = RandomDraws.sample(settings.flippedCount, of: poolRows.count, using: &flipRNG).sorted()
        for k in flipped {
            let row = poolRows[k]
            labels[row] = (labels[row] + 1 + RandomDraws.below(DigitsDataset.classCount - 1, using: &flipRNG)) % DigitsDataset.classCount
        }
        let trainingLabels = labels
        self.trainingLabels = trainingLabels
        flippedIDs = flipped.map { poolIDs[$0] }

        testFeatures = testRows.flatMap { dataset.pixels(ofRow: $0) }
        testLabels = testRows.map { dataset.labels[$0] }

        // Warm-up ("pre-training") into the shared checkpoint.
        var warmupBatches: [[Int]] = []
        var warmRNG = RandomDraws.generator(seed: settings.seed, .warmup)
        var rows = warmupRows
        for _ in 0..<settings.warmupEpochs where !rows.isEmpty {
            RandomDraws.shuffle(&rows, using: &warmRNG)
            warmupBatches += stride(from: 0, to: rows.count, by: settings.warmupBatchSize).map {
                Array(rows[$0..<min($0 + settings.warmupBatchSize, rows.count)])
            }
        }
        var initRNG = RandomDraws.generator(seed: settings.seed, .initialisation)
        let initial = model.initialParameters(seed: initRNG.next())
        let warmupOptimizer = OptimizerSettings(kind: .sgdMomentum, learningRate: settings.warmupLearningRate,
                                                momentum: WorkloadProtocol.warmupMomentum)
        checkpoint = RunTrainer.train(model: model, from: initial, rowBatches: warmupBatches, optimizer: warmupOptimizer,
                                      features: dataset.features, labels: trainingLabels, test: nil).parameters
    }

    // MARK: - Lookups

    /// The label used for training on `id` (the flipped label for flipped pool examples), or
    /// nil if `id` is not in the data set.
    public func label(of id: String) -> Int? {
        dataset.row(of: id).map { trainingLabels[$0] }
    }

    /// The data set's own label of `id` (before any flipping), or nil if `id` is not in the data set.
    public func originalLabel(of id: String) -> Int? {
        dataset.row(of: id).map { dataset.labels[$0] }
    }

    /// The 64 pixels of `id` scaled to [0, 1] (row-major 8x8), or an empty array if `id` is not
    /// in the data set.
    public func pixels(of id: String) -> [Double] {
        dataset.row(of: id).map { dataset.pixels(ofRow: $0) } ?? []
    }

    /// The index of a pool id in ``poolIDs``.
    public func poolIndex(of id: String) -> Int? { poolIndexByID[id] }

    // MARK: - Losses and gradients at arbitrary parameters

    /// Loss and gradient of one example (its training label) at `parameters` (flat layout of
    /// ``MLP``; e.g. ``checkpoint``), or nil if `id` is not in the data set. Same arithmetic as
    /// the trainer's per-example terms.
    public func perExampleGradient(id: String, at parameters: [Double]) -> (loss: Double, gradient: [Double])? {
        guard let row = dataset.row(of: id) else { return nil }
        return model.perExampleGradient(features: dataset.pixels(ofRow: row), label: trainingLabels[row], parameters: parameters)
    }

    /// The loss of every test example (in ``testIDs`` order) at `parameters`.
    public func testLosses(at parameters: [Double]) -> [Double] {
        precondition(parameters.count == model.parameterCount)
        var out = [Double](repeating: 0, count: testIDs.count)
        var scratch = [Double](repeating: 0, count: model.scratchCount)
        parameters.withUnsafeBufferPointer { p in
            testFeatures.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { s in
                        RunTrainer.evaluate(model: model, p: p.baseAddress!, features: x.baseAddress!, labels: testLabels,
                                            out: o.baseAddress!, scratch: s.baseAddress!)
                    }
                }
            }
        }
        return out
    }

    /// Data-set name, model and every protocol setting, plus the flipped ids (comma-separated,
    /// pool order): the metadata of ``trainAll(threads:)``'s log.
    public var metadata: [String: String] {
        var m = settings.metadata
        m["dataset"] = DigitsDataset.name
        m["workload"] = "digits-fine-tuning"
        m["model"] = "mlp-\(model.inputs)-\(model.hidden)-\(model.classes)-tanh-softmax"
        m["flippedCount"] = String(flippedIDs.count)
        m["flippedIDs"] = flippedIDs.joined(separator: ",")
        return m
    }
}
