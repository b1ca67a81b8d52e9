import Dispatch

/// Progress of long work (fits, cross-validation folds, evaluations, studies), reported to
/// whoever is listening: the core does no I/O, it calls the sink a program installed around
/// its work with ``FitProgress/withSink(_:_:)`` (the CLI prints it on standard error).
/// Updates come from the thread that called the fit, at coarse points (a method, a fold, a
/// stage), or, for the blocks of a long parallel solve, from its workers through a
/// ``ProgressCounter``, which serialises them (the listener is never called concurrently); they
/// cost nothing when nobody listens. One sink per
/// process: install it from one thread, around the work (not while other threads fit).
public enum FitProgress {
    /// One update: what is being done (`task`, the same for every update of one series of
    /// units, so a listener can time the series and estimate what is left), what this unit is
    /// (`detail`), and how far (`done` of `total` units finished).
    public struct Update: Sendable, Equatable {
        public var task: String
        public var detail: String
        public var done: Int
        public var total: Int

        public init(task: String, detail: String, done: Int, total: Int) {
            self.task = task
            self.detail = detail
            self.done = done
            self.total = total
        }
    }

    /// The listener (nil: nobody listens).
    nonisolated(unsafe) private static var sink: (@Sendable (Update) -> Void)?

    /// Runs `body` with `listener` receiving the updates, then restores the previous listener.
    public static func withSink<T>(_ listener: @escaping @Sendable (Update) -> Void, _ body: () throws -> T) rethrows -> T {
        let previous = sink
        sink = listener
        defer { sink = previous }
        return try body()
    }

    /// Reports `done` of `total` units of `task` (this unit: `detail`) to the current listener.
    public static func report(_ task: @autoclosure () -> String, _ detail: @autoclosure () -> String = "", done: Int, total: Int) {
        guard let sink else { return }
        sink(Update(task: task(), detail: detail(), done: done, total: total))
    }
}

/// Counts the finished units of parallel work (blocks of test examples) and reports each to
/// ``FitProgress`` from the worker that finished it, one report at a time (under a lock), so a
/// listener sees `done` increase by one per update.
final class ProgressCounter: @unchecked Sendable {
    private let lock = DispatchSemaphore(value: 1)
    private var done = 0
    let task: String, total: Int
    /// The update's detail after `done` units.
    let detail: @Sendable (Int) -> String

    /// Reports 0 of `total` `unit`s of `task` at once; each update's detail is "done of total unit".
    convenience init(task: String, unit: String, total: Int) {
        self.init(task: task, total: total) { "\($0) of \(total) \(unit)" }
    }

    /// Reports 0 of `total` units of `task` at once; `detail(done)` describes each update.
    init(task: String, total: Int, detail: @escaping @Sendable (Int) -> String) {
        self.task = task
        self.total = total
        self.detail = detail
        FitProgress.report(task, detail(0), done: 0, total: total)
    }

    /// One more unit finished.
    func advance() {
        lock.wait()
        defer { lock.signal() }
        done += 1
        FitProgress.report(task, detail(done), done: done, total: total)
    }
}
