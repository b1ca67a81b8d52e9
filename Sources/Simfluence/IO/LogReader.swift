/// Reads a training log in either layout, detected from what is on disk:
/// `simfluence-log.json` present means the native layout (``NativeLogReader``);
/// `runs/<run>/all_loss_trajectory.out` (or `<run>/all_loss_trajectory.out` directly under the
/// path) means the GPTDynamics layout (``GPTDynamicsReader``).
public enum LogReader {
    /// The layouts ``read(_:)`` understands.
    public enum Layout: String, Sendable {
        case native
        case gptDynamics = "gptdynamics"
    }

    /// The layout of the log at `path`, or an error saying what was expected.
    public static func detect(_ path: String) throws -> Layout {
        try Paths.requireDirectory(path, "the log folder")
        if NativeLogReader.isLayout(path) { return .native }
        if GPTDynamicsReader.isLayout(path) { return .gptDynamics }
        throw SimfluenceError.input(file: path, line: nil,
                                    message: "not a training log: expected either \(NativeLogReader.headerFileName) (native layout) or runs/<run>/\(GPTDynamicsReader.lossFileName) (GPTDynamics layout), found neither")
    }

    /// Reads the log at `path` (a log folder; the path of a `simfluence-log.json` also works).
    public static func read(_ path: String) throws -> TrainingLog {
        var root = path
        if Paths.kind(path) == .file, (path as NSString).lastPathComponent == NativeLogReader.headerFileName {
            root = (path as NSString).deletingLastPathComponent
            if root.isEmpty { root = "." }
        }
        switch try detect(root) {
        case .native: return try NativeLogReader.read(root)
        case .gptDynamics: return try GPTDynamicsReader.read(root)
        }
    }
}

import Foundation
