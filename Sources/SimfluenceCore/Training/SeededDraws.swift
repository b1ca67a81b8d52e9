/// Seeded random choices for the built-in workloads (splits, curricula, initialisation),
/// written out here rather than taken from the standard library's `shuffle` or `random(in:)`,
/// so that every choice is fixed by this code alone and is the same on every platform.
public enum SeededDraws {
    /// A generator for stream number `stream` (plus `offset`, e.g. a run number) of `seed`:
    /// streams with different `stream &+ offset` are independent in practice. A workload names
    /// its streams with distinct constants.
    public static func generator(seed: UInt64, stream: UInt64, offset: UInt64 = 0) -> SeededGenerator {
        var mixer = SeededGenerator(seed: seed ^ ((stream &+ offset) &* 0xD1B5_4A32_D192_ED03))
        return SeededGenerator(seed: mixer.next())
    }

    /// A uniform integer in `0..<n` (multiply-high; bias below 2^-50 for n below 2^14).
    public static func below(_ n: Int, using rng: inout SeededGenerator) -> Int {
        precondition(n > 0)
        return Int(UInt64(n).multipliedFullWidth(by: rng.next()).high)
    }

    /// Fisher-Yates shuffle of `a`, from the last element down.
    public static func shuffle<T>(_ a: inout [T], using rng: inout SeededGenerator) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, below(i + 1, using: &rng))
        }
    }

    /// `k` distinct elements of `0..<n`, in random order (partial Fisher-Yates).
    public static func sample(_ k: Int, of n: Int, using rng: inout SeededGenerator) -> [Int] {
        precondition(k >= 0 && k <= n)
        var a = Array(0..<n)
        for i in 0..<k {
            a.swapAt(i, i + below(n - i, using: &rng))
        }
        return Array(a[0..<k])
    }

    /// The batches (indices into a pool of `poolSize` examples) of random subset `subset` trained
    /// in order `order` (0-based): a random `sampleSize` of the pool, drawn from stream
    /// `runStream` with offset `subset`, reshuffled for each of `epochs` epochs and cut into
    /// batches of `batchSize` (the last batch of an epoch smaller if `batchSize` does not divide
    /// `sampleSize`). Order 0 shuffles with the subset's own stream, so subset r in order 0 is
    /// run r of a log with one order per subset; order o > 0 shuffles with stream `orderStream`,
    /// offset `subset << 16 | order`, so the orders of one subset hold the same examples, each
    /// equally often, in different sequences.
    public static func curriculum(seed: UInt64, runStream: UInt64, orderStream: UInt64, subset: Int, order: Int,
                                  poolSize: Int, sampleSize: Int, batchSize: Int, epochs: Int) -> [[Int]] {
        precondition(batchSize >= 1 && epochs >= 0 && order >= 0)
        var rng = generator(seed: seed, stream: runStream, offset: UInt64(truncatingIfNeeded: subset))
        var sample = Self.sample(sampleSize, of: poolSize, using: &rng)
        if order > 0 {
            rng = generator(seed: seed, stream: orderStream,
                            offset: UInt64(truncatingIfNeeded: subset) << 16 | UInt64(truncatingIfNeeded: order))
        }
        var batches: [[Int]] = []
        batches.reserveCapacity(epochs * ((sampleSize + batchSize - 1) / batchSize))
        for _ in 0..<epochs {
            shuffle(&sample, using: &rng)
            for start in stride(from: 0, to: sample.count, by: batchSize) {
                batches.append(Array(sample[start..<min(start + batchSize, sample.count)]))
            }
        }
        return batches
    }
}
