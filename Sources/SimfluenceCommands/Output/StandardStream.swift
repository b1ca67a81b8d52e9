import Foundation

/// Where a command writes human-readable lines: results to standard output, progress and
/// diagnostics to standard error so that `--json` output stays machine-readable.
enum StandardStream {
    case output, error

    func write(_ line: String) {
        let data = Data((line + "\n").utf8)
        switch self {
        case .output: FileHandle.standardOutput.write(data)
        case .error: FileHandle.standardError.write(data)
        }
    }
}
