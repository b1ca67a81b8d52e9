/// Progress of long work (fits, cross-validation folds, evaluations, studies), reported to
/// whoever is listening: the core does no I/O, it calls the sink a caller installed for the
/// current task with ``FitProgress/$sink`` (`FitProgress.$sink.withValue(printer) { ... }`).
/// Updates come from the calling thread only, at coarse points (a method, a fold, a stage), so
/// a sink may print without locking and the cost is nil when nobody listens.
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

    /// The listener of the current task (nil: nobody listens).
    @TaskLocal public static var sink: (@Sendable (Update) -> Void)?

    /// Reports `done` of `total` units of `task` (this unit: `detail`) to the current listener.
    public static func report(_ task: @autoclosure () -> String, _ detail: @autoclosure () -> String = "", done: Int, total: Int) {
        guard let sink else { return }
        sink(Update(task: task(), detail: detail(), done: done, total: total))
    }
}
