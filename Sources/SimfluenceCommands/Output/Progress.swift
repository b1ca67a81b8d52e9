import Foundation

/// Stage-by-stage progress on standard error: a line that updates in place on a terminal,
/// plain lines otherwise (logs, CI, pipes).
final class Progress {
    /// Stage lines are whole lines even on a terminal: ``ProgressPrinter`` rewrites the line
    /// below them while a stage runs.
    private let interactive = false
    private var quiet: Bool { StandardStream.quiet }
    private let clock = ContinuousClock()
    private var stageStart: ContinuousClock.Instant
    private var stageName = ""
    private let total: Int
    private var index = 0
    /// Wall time of every finished stage, in order: (name, seconds).
    private(set) var timings: [(String, Double)] = []

    init(stages: Int) {
        total = stages
        stageStart = clock.now
    }

    /// Starts the next stage.
    func begin(_ name: String) {
        index += 1
        stageName = name
        stageStart = clock.now
        let line = "[\(index)/\(total)] \(name)..."
        if quiet { return }
        fflush(nil)  // keep results and progress in order when both go to one place
        if interactive {
            FileHandle.standardError.write(Data(line.utf8))
        } else {
            StandardStream.error.write(line)
        }
    }

    /// Ends the current stage and returns its wall time in seconds.
    @discardableResult
    func end() -> Double {
        let seconds = (clock.now - stageStart).inSeconds
        timings.append((stageName, seconds))
        if quiet { return seconds }
        fflush(nil)
        if interactive {
            FileHandle.standardError.write(Data(" done (\(Format.seconds(seconds)))\n".utf8))
        } else {
            StandardStream.error.write("[\(index)/\(total)] \(stageName): done in \(Format.seconds(seconds))")
        }
        return seconds
    }
}
