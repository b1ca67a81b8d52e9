import RealModule
import SimfluenceCore

/// A seeded Gaussian random projection `g -> R^T g` from `inputDimension` to `dimension`
/// values, applied to many vectors without materialising R (`inputDimension x dimension`):
/// entries N(0, 1 / dimension), so dot products of projected vectors are unbiased estimates of
/// the original ones (as ``GradientFeatures/projected(to:seed:)``, whose draw order differs).
///
/// Row a of R (the weights of input coordinate a) is drawn from its own generator,
/// ``SeededDraws/generator(seed:stream:offset:)`` with `seed`, stream 0 and offset a, by
/// Marsaglia's polar method (pairs of uniforms in the unit disc, both deviates of a pair used),
/// in `Double` and rounded to `Float`. So rows can be drawn in any order and on any thread.
public struct GaussianProjection: Sendable, Equatable {
    /// Length of the vectors projected.
    public let inputDimension: Int
    /// Length of the projected vectors.
    public let dimension: Int
    /// Seeds every row of R.
    public let seed: UInt64

    /// Input coordinates projected per block (rows of R drawn together).
    static let blockRows = 128

    public init(inputDimension: Int, dimension: Int, seed: UInt64) {
        precondition(inputDimension >= 1 && dimension >= 1)
        self.inputDimension = inputDimension
        self.dimension = dimension
        self.seed = seed
    }

    /// Row `a` of R (`dimension` values) into `out`.
    func drawRow(_ a: Int, into out: UnsafeMutablePointer<Float>) {
        var rng = SeededDraws.generator(seed: seed, stream: 0, offset: UInt64(a))
        let scale = 1 / Double(dimension).squareRoot()
        var k = 0
        while k < dimension {
            var x = 0.0, y = 0.0, s = 0.0
            repeat {
                x = 2 * rng.nextUniform() - 1
                y = 2 * rng.nextUniform() - 1
                s = x * x + y * y
            } while s >= 1 || s == 0
            let f = (-2 * Double.log(s) / s).squareRoot() * scale
            out[k] = Float(x * f)
            if k + 1 < dimension { out[k + 1] = Float(y * f) }
            k += 2
        }
    }

    /// Row `a` of R as `Double`s (for tests and checks).
    public func row(_ a: Int) -> [Double] {
        var r = [Float](repeating: 0, count: dimension)
        r.withUnsafeMutableBufferPointer { drawRow(a, into: $0.baseAddress!) }
        return r.map(Double.init)
    }

    /// `R^T v` for each of `count` vectors stored back to back in `vectors` (`count x
    /// inputDimension`, row-major), as a `count x dimension` matrix. Blocks of ``blockRows``
    /// input coordinates are multiplied in `Float` and their partial results added in `Double`,
    /// block by block in ascending order; parallel over vectors, so the result does not depend
    /// on `threads`.
    func project(_ vectors: SharedBuffer<Float>, count: Int, threads: Int) -> Matrix {
        let d = inputDimension, k = dimension
        precondition(vectors.count >= count * d)
        let out = SharedBuffer<Double>(count: count * k, value: 0)
        let partial = SharedBuffer<Float>(count: count * k, value: 0)
        let block = SharedBuffer<Float>(count: Self.blockRows * k, value: 0)
        var a0 = 0
        while a0 < d {
            let rows = min(Self.blockRows, d - a0)
            let start = a0
            LanguageRunTrainer.forEachChunk(rows, threads: threads) { range in
                for r in range { drawRow(start + r, into: block.pointer + r * k) }
            }
            LanguageRunTrainer.forEachChunk(count, threads: threads) { range in
                guard !range.isEmpty else { return }
                let lo = range.lowerBound
                MatrixKernels.multiply(m: range.count, n: k, k: rows, a: UnsafePointer(vectors.pointer + lo * d + start),
                                       aRow: d, aCol: 1, b: UnsafePointer(block.pointer), ldb: k,
                                       c: partial.pointer + lo * k, ldc: k, accumulate: false)
                let o = out.pointer, p = partial.pointer
                for i in (lo * k)..<(range.upperBound * k) { o[i] += Double(p[i]) }
            }
            a0 += rows
        }
        return Matrix(rows: count, columns: k, storage: Array(UnsafeBufferPointer(start: out.pointer, count: count * k)))
    }
}

extension LanguageFineTuning {
    /// The parameters of reference run `run` (1-based, its curriculum ``curriculum(ofRun:)``,
    /// trained exactly as ``trainAll(threads:)`` trains it) after each of `steps` optimizer steps
    /// (0 = the shared ``checkpoint``), in the order of `steps`. Steps must be in
    /// `0...stepsPerRun`.
    public func referenceParameters(run: Int = 1, at steps: [Int]) -> [[Float]] {
        precondition(run >= 1, "runs are numbered from 1")
        precondition(steps.allSatisfy { (0...settings.stepsPerRun).contains($0) }, "steps must be in 0...\(settings.stepsPerRun)")
        let batches = curriculum(ofRun: run).map { $0.map { poolIndexByID[$0]! } }
        let result = fineTune(batches: batches, recordTests: false, snapshotSteps: Set(steps), threads: 1)
        return steps.map { result.snapshots[$0]! }
    }

    /// The seed of the gradient projection (derived from the protocol's seed).
    public var projectionSeed: UInt64 {
        var rng = SeededDraws.generator(seed: settings.seed, stream: Stream.projection.rawValue)
        return rng.next()
    }

    /// Per-example loss gradients of every pool example (rows in ``poolIDs`` order) and every
    /// test example (``testIDs`` order) at checkpoints of one reference run, for the classic TDA
    /// methods (``ClassicScores``), projected to `dimension` values by a ``GaussianProjection``
    /// seeded by ``projectionSeed`` (nil = the protocol's ``LanguageProtocol/projectionDimension``;
    /// 0 = unprojected, all ``Transformer/parameterCount`` values).
    ///
    /// Checkpoints are taken at steps 0, K, 2K, ... below T = ``LanguageProtocol/stepsPerRun``
    /// (K = `every`, nil = ``LanguageProtocol/gradientInterval``), each covering the K steps that follow it (the last one the rest of the run);
    /// with `includeFinal`, the parameters after the last step are added as a checkpoint at step
    /// T covering 0 steps (the final model of Grad-Dot and influence functions). Defaults (K = 24,
    /// T = 96): steps 0, 24, 48, 72 (24 steps each) and 96 (0 steps). A gradient is that of the
    /// example's own loss (mean next-character cross-entropy), computed in `Float`. Each
    /// checkpoint records the plain fine-tuning learning rate (AdamW's steps are not lr times
    /// the gradient: the raw classic forms ignore this, the `-scaled` forms absorb it).
    ///
    /// Deterministic; parallel over examples (the result does not depend on `threads`).
    public func gradientFeatures(every interval: Int? = nil, referenceRun: Int = 1, includeFinal: Bool = true,
                                 dimension: Int? = nil, threads: Int = Parallel.defaultThreads) throws -> GradientFeatures {
        let interval = interval ?? settings.gradientInterval
        guard interval >= 1 else {
            throw SimfluenceError.invalidArgument("checkpoint interval must be at least 1 step, got \(interval)")
        }
        guard referenceRun >= 1 && referenceRun <= settings.runs else {
            throw SimfluenceError.invalidArgument("reference run must be in 1...\(settings.runs), got \(referenceRun)")
        }
        let dimension = dimension ?? settings.projectionDimension
        guard dimension >= 0 && dimension <= 1 << 16 else {
            throw SimfluenceError.invalidArgument("projection dimension must be in 0...65536 (0 = none), got \(dimension)")
        }
        let total = settings.stepsPerRun
        var steps = Array(stride(from: 0, to: total, by: interval))
        var covered = steps.map { min(interval, total - $0) }
        if includeFinal { steps.append(total); covered.append(0) }
        let parameters = referenceParameters(run: referenceRun, at: steps)
        let d = model.parameterCount
        let sequences = poolTokens + testTokens
        let projection = dimension > 0 ? GaussianProjection(inputDimension: d, dimension: dimension, seed: projectionSeed) : nil
        let gradients = SharedBuffer<Float>(count: sequences.count * d, value: 0)
        var checkpoints: [GradientCheckpoint] = []
        for (k, p) in parameters.enumerated() {
            _ = LanguageRunTrainer.exampleGradients(model: model, parameters: p, derived: model.derivedWeights(p),
                                                    sequences: sequences, into: gradients, threads: threads)
            let features: Matrix
            if let projection {
                features = projection.project(gradients, count: sequences.count, threads: threads)
            } else {
                features = Matrix(rows: sequences.count, columns: d,
                                  storage: UnsafeBufferPointer(start: gradients.pointer, count: sequences.count * d).map(Double.init))
            }
            let columns = features.columns, split = poolTokens.count * columns
            checkpoints.append(GradientCheckpoint(
                step: steps[k], learningRate: settings.learningRate, stepsCovered: covered[k],
                train: Matrix(rows: poolTokens.count, columns: columns, storage: Array(features.storage[..<split])),
                test: Matrix(rows: testTokens.count, columns: columns, storage: Array(features.storage[split...]))))
        }
        var metadata = [
            "source": "wordnet-lm", "reference_run": "run\(referenceRun)", "checkpoint_interval": String(interval),
            "optimizer": "adamw", "learning_rate": String(settings.learningRate), "weight_decay": String(settings.weightDecay),
            "seed": String(settings.seed), "original_dimension": String(d), "model": model.descriptor,
        ]
        if let projection {
            metadata["projection"] = "gaussian"
            metadata["projection_dimension"] = String(projection.dimension)
            metadata["projection_seed"] = String(projection.seed)
            metadata["projection_draws"] = "row streams, polar method"
        } else {
            metadata["projection"] = "none"
        }
        return GradientFeatures(trainIDs: poolIDs, testIDs: testIDs, batchSize: settings.batchSize,
                                checkpoints: checkpoints, metadata: metadata)
    }
}
