import Foundation
import Simfluence

/// Prints ``FitProgress`` updates on standard error as work goes: on a terminal one status line
/// rewritten in place with a counter and an ETA; otherwise (logs, CI, pipes) a line when a new
/// series starts and then at most one every few seconds, each with the counter, the elapsed
/// time and an ETA. Standard output stays clean for `--json` and CSV.
final class ProgressPrinter: @unchecked Sendable {
    private let interactive = isatty(STDERR_FILENO) != 0
    private let clock = ContinuousClock()
    private let lock = NSLock()
    private var series: [String: ContinuousClock.Instant] = [:]
    private var lastLine: ContinuousClock.Instant?
    private var lastTask = ""
    /// Least time between two lines of one series when standard error is not a terminal.
    static let interval: Duration = .seconds(2)

    func handle(_ u: FitProgress.Update) {
        lock.lock()
        defer { lock.unlock() }
        let now = clock.now
        let start = series[u.task] ?? now
        if series[u.task] == nil || u.done == 0 { series[u.task] = now }
        let newSeries = u.task != lastTask
        if !interactive, !newSeries, let last = lastLine, now - last < Self.interval, u.done < u.total { return }
        lastLine = now
        lastTask = u.task
        let elapsed = (now - start).inSeconds
        var text = u.task + (u.detail.isEmpty ? "" : ": " + u.detail)
        if u.total > 0 {
            text += " [\(u.done)/\(u.total)]"
            if u.done > 0 && u.done < u.total {
                let eta = elapsed / Double(u.done) * Double(u.total - u.done)
                text += ", \(Format.seconds(elapsed)) elapsed, about \(Format.seconds(eta)) left"
            }
        }
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + (u.done >= u.total && u.total > 0 ? "\n" : "")).utf8))
        } else {
            StandardStream.error.write(text)
        }
    }
}

extension ComputeOptions {
    /// Runs `body` with progress on standard error (``ProgressPrinter``), or silently with `--quiet`.
    func withProgress<T>(_ body: () throws -> T) rethrows -> T {
        StandardStream.quiet = quiet
        if quiet { return try body() }
        let printer = ProgressPrinter()
        return try FitProgress.withSink({ printer.handle($0) }, body)
    }
}
