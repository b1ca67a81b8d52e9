#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// Where a command writes human-readable lines: results to standard output, progress and
/// diagnostics to standard error so that `--json` output stays machine-readable.
///
/// Both go through C's buffered streams, the ones `print` uses, so lines stay in order; a write
/// error on standard output is caught once, when the command ends (``finish()``).
enum StandardStream {
    case output, error

    func write(_ line: String) {
        put(line + "\n")
    }

    /// Writes `text` as it is; on standard output the first write error is remembered.
    func put(_ text: String) {
        switch self {
        case .output:
            if fputs(text, stdout) == EOF, StandardStream.firstOutputError == nil {
                StandardStream.firstOutputError = errno
            }
        case .error:
            fputs(text, stderr)
            fflush(stderr)
        }
    }

    /// `--quiet`: progress lines (``Progress``, ``ProgressPrinter``) are not printed.
    nonisolated(unsafe) static var quiet = false

    /// errno of the first failed write to standard output.
    nonisolated(unsafe) static var firstOutputError: Int32? = nil

    /// Flushes standard output and reports whether everything written to it arrived: nil, or
    /// the reason it did not (a full disk, a closed descriptor, a reader that went away).
    static func finish() -> String? {
        let flushed = fflush(stdout)
        let e = errno
        if let first = firstOutputError { return String(cString: strerror(first)) }
        guard flushed != 0 || ferror(stdout) != 0 else { return nil }
        return flushed != 0 ? String(cString: strerror(e)) : "an earlier write failed"
    }
}

/// Every `print` of the commands goes through ``StandardStream/output``, so a failed write is
/// remembered with its reason and reported when the command ends (this shadows the standard
/// library's `print` inside this module on purpose).
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    StandardStream.output.put(items.map { "\($0)" }.joined(separator: separator) + terminator)
}

/// Runs the command line, then makes a lost standard output an error: non-zero exit and a
/// message on standard error, never a silent exit 0 with a cut table or CSV (SIGPIPE is
/// ignored so that a reader that went away is reported as such instead of killing the process).
public func runSimfluence() -> Never {
    signal(SIGPIPE, SIG_IGN)
    SimfluenceCommand.main()
    if let reason = StandardStream.finish() {
        fputs("Error: writing standard output failed: \(reason); the output is incomplete\n", stderr)
        exit(1)
    }
    exit(0)
}
