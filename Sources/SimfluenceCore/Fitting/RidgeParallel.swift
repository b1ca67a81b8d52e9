import Dispatch

/// A raw pointer handed to parallel workers that write disjoint parts of it.
struct RidgeSharedPointer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Double>
}

/// Runs `count` items on up to `threads` workers: each worker calls `body` once with a sequence
/// that hands it the next unclaimed item (in increasing order) whenever it asks, so a worker
/// reuses its scratch space across items and no worker idles while another still has a queue
/// (the items of a fit differ in cost). Per-item results must not depend on which worker ran
/// them (they do not in the fitting code: each item is computed on its own). If items throw, the
/// error of the lowest-numbered failing item is rethrown: every item below a failing one has
/// been claimed, and is finished, before the workers stop.
func ridgeParallel(_ count: Int, threads: Int, _ body: @Sendable (RidgeItems) throws -> Void) throws {
    let queue = RidgeItems.Queue(count: count)
    let workers = max(1, min(threads, count))
    try Parallel.forEach(workers, threads: workers) { _ in
        let items = RidgeItems(queue)
        do { try body(items) } catch { queue.fail(item: items.current, error) }
    }
    if let error = queue.firstError { throw error }
}

/// One worker's view of a ``ridgeParallel(_:threads:_:)`` loop: iterating it claims items.
final class RidgeItems: Sequence, IteratorProtocol, @unchecked Sendable {
    /// The shared counter, and the failure with the lowest item number.
    final class Queue: @unchecked Sendable {
        private let lock = DispatchSemaphore(value: 1)
        private var next = 0, stopped = false, failedItem = Int.max
        private(set) var firstError: (any Error)?
        let count: Int
        init(count: Int) { self.count = count }

        func claim() -> Int? {
            lock.wait(); defer { lock.signal() }
            guard !stopped && next < count else { return nil }
            next += 1
            return next - 1
        }

        func fail(item: Int, _ error: any Error) {
            lock.wait(); defer { lock.signal() }
            stopped = true
            if item < failedItem { failedItem = item; firstError = error }
        }
    }

    private let queue: Queue
    /// The item this worker claimed last (-1 before the first).
    private(set) var current = -1
    init(_ queue: Queue) { self.queue = queue }

    func next() -> Int? {
        guard let item = queue.claim() else { return nil }
        current = item
        return item
    }
}
