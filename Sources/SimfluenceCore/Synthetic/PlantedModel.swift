/// A known Simfluence-Linear model that generates synthetic logs, for tests, examples and
/// benchmarks: fitting its logs must recover it.
///
/// Per test example z and training example i: A[z, i] (multiplicative) and B[z, i] (additive,
/// loss units). Logs follow L_t = alpha(c_t) L_{t-1} + beta(c_t) + noise, with Gaussian noise
/// of standard deviation ``LogShape/noise`` added to every recorded loss.
public struct PlantedModel: Sendable {
    /// A[z, i], tests x pool.
    public var a: Matrix
    /// B[z, i], tests x pool.
    public var b: Matrix
    /// Loss of every test example before training.
    public var initialLosses: [Double]

    /// The shape of a synthetic log.
    public struct LogShape: Sendable {
        /// Number of runs.
        public var runs: Int
        /// Training examples each run draws (without replacement) from the pool.
        public var sample: Int
        /// Examples per step.
        public var batchSize: Int
        /// Passes over the run's sample, each in a fresh random order.
        public var epochs: Int
        /// Standard deviation of the Gaussian noise added to each recorded loss.
        public var noise: Double
        /// 0: losses recorded from before training (native layout); 1: from after step 1 (GPTDynamics).
        public var firstLossStep: Int

        public init(runs: Int, sample: Int, batchSize: Int, epochs: Int, noise: Double, firstLossStep: Int = 0) {
            self.runs = runs
            self.sample = sample
            self.batchSize = batchSize
            self.epochs = epochs
            self.noise = noise
            self.firstLossStep = firstLossStep
        }
    }

    /// Creates a model from explicit parameters.
    public init(a: Matrix, b: Matrix, initialLosses: [Double]) {
        precondition(a.rows == b.rows && a.columns == b.columns && initialLosses.count == a.rows)
        self.a = a
        self.b = b
        self.initialLosses = initialLosses
    }

    /// A random model in the regime of fine-tuning: each step multiplies the loss by about
    /// 0.985 (A_i about (1 - 0.015) / batchSize, spread per example) and adds a small term
    /// (B_i about 0.004 / batchSize, some examples harmful), so losses fall from about 1..3
    /// towards a floor over a few hundred steps.
    public static func random(pool: Int, tests: Int, batchSize: Int, seed: UInt64) -> PlantedModel {
        var rng = SeededGenerator(seed: seed)
        var a = Matrix(rows: tests, columns: pool), b = Matrix(rows: tests, columns: pool)
        let k = Double(batchSize)
        for z in 0..<tests {
            for i in 0..<pool {
                a[z, i] = (1 - 0.03 * rng.nextUniform()) / k
                b[z, i] = (0.004 + 0.01 * rng.nextGaussian()) / k
            }
        }
        let initial = (0..<tests).map { _ in 1 + 2 * rng.nextUniform() }
        return PlantedModel(a: a, b: b, initialLosses: initial)
    }

    /// Random GPTfluence-style curricula: each run draws `sample` distinct pool indices and
    /// visits them `epochs` times, reshuffled every epoch, `batchSize` at a time (a last, smaller
    /// batch takes the remainder).
    public static func curricula(pool: Int, shape: LogShape, seed: UInt64) -> [[[Int]]] {
        var rng = SeededGenerator(seed: seed)
        return (0..<shape.runs).map { _ in
            var indices = Array(0..<pool)
            indices.shuffle(using: &rng)
            var chosen = Array(indices.prefix(shape.sample))
            var batches: [[Int]] = []
            for _ in 0..<shape.epochs {
                chosen.shuffle(using: &rng)
                var start = 0
                while start < chosen.count {
                    batches.append(Array(chosen[start..<min(start + shape.batchSize, chosen.count)]))
                    start += shape.batchSize
                }
            }
            return batches
        }
    }

    /// The noiseless rollout of `batches` from `initial` (defaults to ``initialLosses``):
    /// `(batches.count + 1)` x tests, row 0 the starting point. Written independently of
    /// ``FittedSimulator/recurrenceRollout(_:initial:tests:firstStep:)`` on purpose: tests use it
    /// as the ground truth a fitted simulator must reproduce.
    public func rollout(_ batches: [[Int]], initial: [Double]? = nil) -> Matrix {
        let start = initial ?? initialLosses
        var out = Matrix(rows: batches.count + 1, columns: a.rows)
        for z in 0..<a.rows {
            var loss = start[z]
            out[0, z] = loss
            for (t, batch) in batches.enumerated() {
                var alpha = 0.0, beta = 0.0
                for i in batch { alpha += a[z, i]; beta += b[z, i] }
                loss = alpha * loss + beta
                out[t + 1, z] = loss
            }
        }
        return out
    }

    /// A synthetic log: training ids "e0", "e1", ...; test ids "t0", ...; runs "run1", ...
    /// Noise enters the recorded losses and propagates (the next step starts from the noisy loss).
    public func generateLog(_ shape: LogShape, seed: UInt64) -> TrainingLog {
        let pool = a.columns, tests = a.rows
        let curricula = PlantedModel.curricula(pool: pool, shape: shape, seed: seed)
        var rng = SeededGenerator(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B)
        var runs: [TrainingRun] = []
        for (r, batches) in curricula.enumerated() {
            var losses = Matrix(rows: batches.count + 1, columns: tests)
            for z in 0..<tests { losses[0, z] = initialLosses[z] }
            for (t, batch) in batches.enumerated() {
                for z in 0..<tests {
                    var alpha = 0.0, beta = 0.0
                    for i in batch { alpha += a[z, i]; beta += b[z, i] }
                    losses[t + 1, z] = alpha * losses[t, z] + beta + shape.noise * rng.nextGaussian()
                }
            }
            if shape.firstLossStep == 1 {
                losses = Matrix(rows: losses.rows - 1, columns: tests, storage: Array(losses.storage[tests...]))
            }
            runs.append(TrainingRun(name: "run\(r + 1)", batches: batches, firstLossStep: shape.firstLossStep, losses: losses))
        }
        return TrainingLog(trainIDs: (0..<pool).map { "e\($0)" }, testIDs: (0..<tests).map { "t\($0)" }, runs: runs,
                           metadata: ["generator": "planted-linear", "seed": String(seed), "noise": String(shape.noise)])
    }
}
