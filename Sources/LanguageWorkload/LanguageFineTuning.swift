import SimfluenceCore

/// The built-in language-model workload: a small character-level transformer (``Transformer``)
/// pre-trained on WordNet glosses (``GlossCorpus``) and fine-tuned in many short runs on random
/// subsets of a pool of other glosses, recording the loss of every test gloss after every step.
/// By default the pool and the test set are glosses of verbs, adjectives and adverbs and
/// pre-training sees only nouns (``LanguageProtocol/fineTuningPartsOfSpeech``), so fine-tuning
/// adapts the model to a new kind of text.
///
/// Construction is deterministic in ``LanguageProtocol/seed``: it splits the corpus into
/// disjoint pre-training, pool and test splits (each kept in ascending line order), initialises
/// the model and pre-trains it into ``checkpoint``. Every run starts from that checkpoint with a
/// fresh AdamW state. The model computes in `Float` (32-bit: twice as many values per vector
/// register as `Double`; the default 32 runs take about a minute on two cores); losses are
/// reported as `Double`.
///
/// A text's loss is the mean cross-entropy (nats) of its characters, each predicted from the
/// ones before it (the first from the begin token), over its first ``LanguageProtocol/context``
/// characters (longer texts are truncated). A step's loss is the mean of its texts' losses.
public struct LanguageFineTuning: Sendable {
    /// The protocol this workload was built with.
    public let settings: LanguageProtocol
    /// The texts.
    public let corpus: GlossCorpus
    /// Characters of the whole corpus plus the begin token.
    public let vocabulary: CharacterVocabulary
    /// The network's shape.
    public let model: Transformer
    /// Ids (corpus line numbers) of the pre-training split, in ascending order. The three splits
    /// are disjoint.
    public let pretrainIDs: [String]
    /// Ids of the training pool the runs sample from, in ascending order (a log's `trainIDs`).
    public let poolIDs: [String]
    /// Ids of the test texts every run records, in ascending order (a log's `testIDs`).
    public let testIDs: [String]
    /// The random initialisation (seeded) that pre-training starts from.
    public let initialParameters: [Float]
    /// Parameters after pre-training: the starting point of every run.
    public let checkpoint: [Float]
    /// The mean training loss of every pre-training step's batch (before its update).
    public let pretrainingLosses: [Double]

    /// Token sequences (begin token, then the characters) of the pool and the test set.
    let poolTokens: [[Int]]
    let testTokens: [[Int]]
    let poolIndexByID: [String: Int]

    /// Named random streams of the workload.
    enum Stream: UInt64 {
        case split = 1, initialisation = 3, pretrain = 4, projection = 5, run = 1000, order = 0x100_0000_0000
    }

    /// Loads the bundled corpus and builds the workload (see the type's description).
    /// Pre-training runs on up to `threads` threads; the result does not depend on `threads`.
    public init(protocol settings: LanguageProtocol, threads: Int = Parallel.defaultThreads) throws {
        try self.init(protocol: settings, corpus: try GlossCorpus.bundled(), threads: threads)
    }

    /// Builds the workload over a given corpus (for tests and other copies of the data).
    public init(protocol settings: LanguageProtocol, corpus: GlossCorpus, threads: Int = Parallel.defaultThreads) throws {
        try settings.validate(corpus: corpus)
        self.settings = settings
        self.corpus = corpus
        let vocabulary = CharacterVocabulary(texts: corpus.texts)
        self.vocabulary = vocabulary
        let model = try Transformer(vocabularySize: vocabulary.size, context: settings.context, width: settings.width,
                                    heads: settings.heads, layers: settings.layers, mlpWidth: settings.mlpWidth)
        self.model = model

        // Splits: pool and test from the fine-tuning domain, pre-training from the rest (or all
        // three from the whole corpus when there is no domain).
        var rng = SeededDraws.generator(seed: settings.seed, stream: Stream.split.rawValue)
        let (pretrainDomain, tuningDomain) = settings.domains(of: corpus)
        let pretrainLines: [Int], poolLines: [Int], testLines: [Int]
        if settings.fineTuningPartsOfSpeech.isEmpty {
            let order = SeededDraws.sample(settings.pretrainSize + settings.poolSize + settings.testSize, of: corpus.count, using: &rng)
            pretrainLines = order[0..<settings.pretrainSize].sorted()
            poolLines = order[settings.pretrainSize..<(settings.pretrainSize + settings.poolSize)].sorted()
            testLines = order[(settings.pretrainSize + settings.poolSize)...].sorted()
        } else {
            let tuning = SeededDraws.sample(settings.poolSize + settings.testSize, of: tuningDomain.count, using: &rng)
            poolLines = tuning[0..<settings.poolSize].map { tuningDomain[$0] }.sorted()
            testLines = tuning[settings.poolSize...].map { tuningDomain[$0] }.sorted()
            pretrainLines = SeededDraws.sample(settings.pretrainSize, of: pretrainDomain.count, using: &rng)
                .map { pretrainDomain[$0] }.sorted()
        }
        pretrainIDs = pretrainLines.map(GlossCorpus.id(ofLine:))
        poolIDs = poolLines.map(GlossCorpus.id(ofLine:))
        testIDs = testLines.map(GlossCorpus.id(ofLine:))
        poolIndexByID = Dictionary(uniqueKeysWithValues: poolIDs.enumerated().map { ($1, $0) })
        // Every character is in the vocabulary (built from the whole corpus).
        func tokens(_ line: Int) -> [Int] { vocabulary.tokens(of: corpus.texts[line], context: settings.context)! }
        poolTokens = poolLines.map(tokens)
        testTokens = testLines.map(tokens)

        var initRNG = SeededDraws.generator(seed: settings.seed, stream: Stream.initialisation.rawValue)
        let initial: [Float] = model.initialParameters(seed: initRNG.next())
        initialParameters = initial

        // Pre-training: successive shuffles of the pre-training split, cut into batches.
        var batches: [[Int]] = []
        if settings.pretrainSteps > 0 {
            var pretrainRNG = SeededDraws.generator(seed: settings.seed, stream: Stream.pretrain.rawValue)
            var pass = Array(0..<pretrainLines.count)
            var stream: [Int] = []
            let needed = settings.pretrainSteps * settings.pretrainBatchSize
            while stream.count < needed {
                SeededDraws.shuffle(&pass, using: &pretrainRNG)
                stream += pass
            }
            batches = (0..<settings.pretrainSteps).map {
                Array(stream[($0 * settings.pretrainBatchSize)..<(($0 + 1) * settings.pretrainBatchSize)])
            }
        }
        let pretrainTokens = pretrainLines.map(tokens)
        let result = LanguageRunTrainer.train(
            model: model, from: initial, batches: batches, examples: pretrainTokens,
            learningRate: settings.pretrainLearningRate(atStep:), weightDecay: settings.weightDecay,
            beta1: settings.adamBeta1, beta2: settings.adamBeta2, epsilon: settings.adamEpsilon, tests: nil, threads: threads)
        checkpoint = result.parameters
        pretrainingLosses = result.batchLosses
    }

    // MARK: - Lookups

    /// The example text (`word: definition`) of any corpus id (pool, test or pre-training), or
    /// nil if `id` is not a line of the corpus. The model sees at most its first
    /// ``LanguageProtocol/context`` characters.
    public func text(of id: String) -> String? {
        corpus.line(of: id).map { corpus.texts[$0] }
    }

    /// The index of a pool id in ``poolIDs``.
    public func poolIndex(of id: String) -> Int? { poolIndexByID[id] }

    /// The model's tokens of a corpus id: the begin token, then its first
    /// ``LanguageProtocol/context`` characters. Nil if `id` is not a line of the corpus.
    public func tokens(of id: String) -> [Int]? {
        text(of: id).flatMap { vocabulary.tokens(of: $0, context: settings.context) }
    }

    // MARK: - Losses and gradients at arbitrary parameters

    /// The loss (mean next-character cross-entropy, nats) of a corpus id at `parameters` (flat
    /// layout of ``Transformer``; e.g. ``checkpoint``), or nil if `id` is not in the corpus. Same
    /// arithmetic as the trainer's.
    public func loss(of id: String, at parameters: [Float]) -> Double? {
        precondition(parameters.count == model.parameterCount)
        guard let t = tokens(of: id) else { return nil }
        return LanguageRunTrainer.evaluate(model: model, parameters: parameters, derived: model.derivedWeights(parameters),
                                           sequences: [t], threads: 1)[0]
    }

    /// Loss and gradient (d loss / d parameter, flat layout) of one corpus id at `parameters`,
    /// or nil if `id` is not in the corpus. Same arithmetic as the trainer's per-example terms.
    public func perExampleGradient(id: String, at parameters: [Float]) -> (loss: Double, gradient: [Float])? {
        precondition(parameters.count == model.parameterCount)
        guard let t = tokens(of: id) else { return nil }
        let slot = SharedBuffer<Float>(count: model.parameterCount, value: 0)
        let loss = LanguageRunTrainer.exampleGradients(model: model, parameters: parameters,
                                                       derived: model.derivedWeights(parameters), sequences: [t],
                                                       into: slot, threads: 1)
        return (loss, Array(UnsafeBufferPointer(start: slot.pointer, count: model.parameterCount)))
    }

    /// The loss of every test example (in ``testIDs`` order) at `parameters`. Parallel over
    /// examples; the result does not depend on `threads`.
    public func testLosses(at parameters: [Float], threads: Int = Parallel.defaultThreads) -> [Double] {
        precondition(parameters.count == model.parameterCount)
        return LanguageRunTrainer.evaluate(model: model, parameters: parameters, derived: model.derivedWeights(parameters),
                                           sequences: testTokens, threads: threads)
    }

    /// The loss of every pool example (in ``poolIDs`` order) at `parameters`.
    public func poolLosses(at parameters: [Float], threads: Int = Parallel.defaultThreads) -> [Double] {
        precondition(parameters.count == model.parameterCount)
        return LanguageRunTrainer.evaluate(model: model, parameters: parameters, derived: model.derivedWeights(parameters),
                                           sequences: poolTokens, threads: threads)
    }

    /// Data-set name, model and every protocol setting: the metadata of
    /// ``trainAll(threads:)``'s log.
    public var metadata: [String: String] {
        var m = settings.metadata
        m["dataset"] = GlossCorpus.name
        m["workload"] = "language-model-fine-tuning"
        m["model"] = model.descriptor
        m["precision"] = "float32"
        m["parameters"] = String(model.parameterCount)
        m["loss"] = "mean next-character cross-entropy (nats)"
        return m
    }
}
