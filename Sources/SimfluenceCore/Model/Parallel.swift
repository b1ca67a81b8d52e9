import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Deterministic data parallelism over independent work items.
///
/// Work items are split into contiguous chunks, one per thread; each item's result depends only
/// on the item, so the output is bit-identical for any thread count.
public enum Parallel {
    /// The number of threads used when a caller does not say: the machine's active processors.
    public static var defaultThreads: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }

    /// Calls `body(i)` for every `i` in `0..<count`, on up to `threads` threads. `body` must only
    /// write state owned by item `i`. If items throw, the error of the lowest-numbered chunk is
    /// rethrown, so the error reported does not depend on timing.
    public static func forEach(_ count: Int, threads: Int = defaultThreads, _ body: @Sendable (Int) throws -> Void) throws {
        let threads = max(1, min(threads, count))
        if threads <= 1 {
            for i in 0..<count { try body(i) }
            return
        }
        let errors = Slots<any Error>(count: threads)
        DispatchQueue.concurrentPerform(iterations: threads) { chunk in
            let lo = count * chunk / threads, hi = count * (chunk + 1) / threads
            do { for i in lo..<hi { try body(i) } } catch { errors.set(chunk, error) }
        }
        if let error = errors.values().compactMap({ $0 }).first { throw error }
    }

    /// `body(i)` for every `i` in `0..<count`, computed in parallel and returned in index order.
    public static func map<T: Sendable>(_ count: Int, threads: Int = defaultThreads, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        let results = Slots<T>(count: count)
        try forEach(count, threads: threads) { i in results.set(i, try body(i)) }
        return results.values().map { $0! }
    }
}

/// Fixed slots written by distinct threads at distinct indices and read after all writers end.
private final class Slots<T>: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<T?>
    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }
    deinit {
        buffer.deinitialize()
        buffer.deallocate()
    }
    func set(_ i: Int, _ value: T) { buffer[i] = value }
    func values() -> [T?] { Array(buffer) }
}
