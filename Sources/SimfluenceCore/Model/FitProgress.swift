/// Progress of long work (fits, cross-validation folds, evaluations, studies), reported to
/// whoever is listening: the core does no I/O, it calls the sink a program installed around
/// its work with ``FitProgress/withSink(_:_:)`` (the CLI prints it on standard error).
/// Updates come from the thread that called the fit, at coarse points (a method, a fold, a
/// stage), never from worker threads, and cost nothing when nobody listens. One sink per
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
