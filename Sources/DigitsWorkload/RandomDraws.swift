import SimfluenceCore

/// Seeded random choices of the workload, written out here (rather than taken from the
/// standard library's `shuffle`/`random(in:)`) so that they are fixed by this code alone.
enum RandomDraws {
    /// Independent streams derived from one seed.
    enum Stream: UInt64 {
        case split = 1, flip = 2, initialisation = 3, warmup = 4, run = 1000, order = 0x100_0000_0000
    }

    /// A generator for `stream` (plus `offset`, e.g. the run number) of `seed`.
    static func generator(seed: UInt64, _ stream: Stream, offset: UInt64 = 0) -> SeededGenerator {
        var mixer = SeededGenerator(seed: seed ^ ((stream.rawValue &+ offset) &* 0xD1B5_4A32_D192_ED03))
        return SeededGenerator(seed: mixer.next())
    }

    /// A uniform integer in `0..<n` (multiply-high; bias below 2^-50 for the sizes used here).
    static func below(_ n: Int, using rng: inout SeededGenerator) -> Int {
        precondition(n > 0)
        return Int(UInt64(n).multipliedFullWidth(by: rng.next()).high)
    }

    /// Fisher-Yates shuffle of `a`.
    static func shuffle<T>(_ a: inout [T], using rng: inout SeededGenerator) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, below(i + 1, using: &rng))
        }
    }

    /// `k` distinct elements of `0..<n`, in random order (partial Fisher-Yates).
    static func sample(_ k: Int, of n: Int, using rng: inout SeededGenerator) -> [Int] {
        precondition(k >= 0 && k <= n)
        var a = Array(0..<n)
        for i in 0..<k {
            a.swapAt(i, i + below(n - i, using: &rng))
        }
        return Array(a[0..<k])
    }
}
