import SimfluenceCore

/// The digits workload's named random streams over ``SeededDraws`` (the seeded draws shared by
/// the built-in workloads).
enum RandomDraws {
    /// Independent streams derived from one seed.
    enum Stream: UInt64 {
        case split = 1, flip = 2, initialisation = 3, warmup = 4, run = 1000, order = 0x100_0000_0000
    }

    /// A generator for `stream` (plus `offset`, e.g. the run number) of `seed`.
    static func generator(seed: UInt64, _ stream: Stream, offset: UInt64 = 0) -> SeededGenerator {
        SeededDraws.generator(seed: seed, stream: stream.rawValue, offset: offset)
    }

    /// A uniform integer in `0..<n`.
    static func below(_ n: Int, using rng: inout SeededGenerator) -> Int { SeededDraws.below(n, using: &rng) }

    /// Fisher-Yates shuffle of `a`.
    static func shuffle<T>(_ a: inout [T], using rng: inout SeededGenerator) { SeededDraws.shuffle(&a, using: &rng) }

    /// `k` distinct elements of `0..<n`, in random order.
    static func sample(_ k: Int, of n: Int, using rng: inout SeededGenerator) -> [Int] {
        SeededDraws.sample(k, of: n, using: &rng)
    }
}
