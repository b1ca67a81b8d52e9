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
}
