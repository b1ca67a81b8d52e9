import RealModule
import SimfluenceCore

/// A seeded Gaussian random projection `g -> R^T g` from `inputDimension` to `dimension`
/// values, applied to many vectors without materialising R (`inputDimension x dimension`):
/// entries N(0, 1 / dimension), so dot products of projected vectors are unbiased estimates of
/// the original ones (as ``GradientFeatures/projected(to:seed:)``, whose draws differ).
///
/// R's columns come in strips of ``stripWidth``; the piece of row a (input coordinate a) in
/// strip s is drawn from its own generator, ``SeededDraws/generator(seed:stream:offset:)`` with
/// `seed`, stream s and offset a, by Marsaglia's polar method in `Float` (two 24-bit uniforms
/// in (-1, 1) from each 64-bit draw, pairs outside the unit disc rejected, both deviates of a
/// pair used). So any piece can be drawn on any thread, in any order, with the same bits.
public struct GaussianProjection: Sendable, Equatable {
    /// Length of the vectors projected.
    public let inputDimension: Int
    /// Length of the projected vectors.
    public let dimension: Int
    /// Seeds every entry of R.
    public let seed: UInt64

    /// Columns of R per strip (the unit of work of ``project``: one strip's output columns stay
    /// in cache while all input coordinates stream past).
    static let stripWidth = 256
    /// Input coordinates multiplied together in `Float` before their partial result is added
    /// in `Double`.
    static let blockRows = 256

    /// A projection from `inputDimension` to `dimension` values (both at least 1) seeded by `seed`.
    public init(inputDimension: Int, dimension: Int, seed: UInt64) {
        precondition(inputDimension >= 1 && dimension >= 1)
        self.inputDimension = inputDimension
        self.dimension = dimension
        self.seed = seed
    }

    /// Number of column strips.
    var strips: Int { (dimension + Self.stripWidth - 1) / Self.stripWidth }

    /// Columns of strip `s`.
    func columns(ofStrip s: Int) -> Range<Int> {
        (s * Self.stripWidth)..<min(dimension, (s + 1) * Self.stripWidth)
    }

    /// The piece of row `a` of R in strip `s` into `out`.
    func drawPiece(row a: Int, strip s: Int, into out: UnsafeMutablePointer<Float>) {
        var rng = SeededDraws.generator(seed: seed, stream: UInt64(s), offset: UInt64(a))
        let width = columns(ofStrip: s).count
        let scale = 1 / Float(dimension).squareRoot()
        let unit: Float = 0x1.0p-23
        var k = 0
        while k < width {
            var x: Float = 0, y: Float = 0, r: Float = 0
            repeat {
                let bits = rng.next()
                x = Float(bits >> 40) * unit - 1
                y = Float((bits >> 16) & 0xFF_FFFF) * unit - 1
                r = x * x + y * y
            } while r >= 1 || r == 0
            let f = (-2 * Float.log(r) / r).squareRoot() * scale
            out[k] = x * f
            if k + 1 < width { out[k + 1] = y * f }
            k += 2
        }
    }

    /// Row `a` of R as `Double`s (for tests and checks).
    public func row(_ a: Int) -> [Double] {
        var r = [Float](repeating: 0, count: dimension)
        r.withUnsafeMutableBufferPointer { b in
            for s in 0..<strips { drawPiece(row: a, strip: s, into: b.baseAddress! + s * Self.stripWidth) }
        }
        return r.map(Double.init)
    }

    /// `R^T v` for each of `count` vectors stored back to back in `vectors` (`count x
    /// inputDimension`, row-major), as a `count x dimension` matrix. Per strip of columns, blocks
    /// of ``blockRows`` input coordinates are multiplied in `Float` and their partial results
    /// added in `Double`, block by block in ascending order. Parallel over strips, so the result
    /// does not depend on `threads`.
    func project(_ vectors: SharedBuffer<Float>, count: Int, threads: Int) -> Matrix {
        let d = inputDimension, k = dimension
        precondition(vectors.count >= count * d)
        let out = SharedBuffer<Double>(count: count * k, value: 0)
        try? Parallel.forEach(strips, threads: threads) { s in
            let cols = columns(ofStrip: s), width = cols.count
            let block = UnsafeMutablePointer<Float>.allocate(capacity: Self.blockRows * width)
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count * width))
            defer { block.deallocate(); partial.deallocate() }
            var a0 = 0
            while a0 < d {
                let rows = min(Self.blockRows, d - a0)
                for r in 0..<rows { drawPiece(row: a0 + r, strip: s, into: block + r * width) }
                MatrixKernels.multiply(m: count, n: width, k: rows, a: UnsafePointer(vectors.pointer + a0), aRow: d, aCol: 1,
                                       b: UnsafePointer(block), ldb: width, c: partial, ldc: width, accumulate: false)
                for e in 0..<count {
                    let o = out.pointer + e * k + cols.lowerBound, p = partial + e * width
                    for j in 0..<width { o[j] += Double(p[j]) }
                }
                a0 += rows
            }
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
        let (steps, covered) = try settings.gradientCheckpoints(every: interval,
                                                                referenceRun: referenceRun, includeFinal: includeFinal)
        let dimension = dimension ?? settings.projectionDimension
        guard dimension >= 0 && dimension <= 1 << 16 else {
            throw SimfluenceError.invalidArgument("projection dimension must be in 0...65536 (0 = none), got \(dimension)")
        }
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
            metadata["projection_draws"] = "strips of 256 columns, a stream per row and strip, polar method in float32"
        } else {
            metadata["projection"] = "none"
        }
        return GradientFeatures(trainIDs: poolIDs, testIDs: testIDs, batchSize: settings.batchSize,
                                checkpoints: checkpoints, metadata: metadata)
    }
}
