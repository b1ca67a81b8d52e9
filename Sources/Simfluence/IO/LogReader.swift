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
        // Native runs (runs/<run>/curriculum.jsonl or losses.npy) without the header: the writer
        // writes the header last, when it closes, so this is an unfinished log.
        let runs = Paths.join(path, "runs")
        if let names = try? Paths.subdirectories(runs), names.contains(where: { name in
            [NativeLogReader.curriculumFileName, NativeLogReader.lossesFileName].contains {
                Paths.kind(Paths.join(Paths.join(runs, name), $0)) == .file
            }
        }) {
            throw SimfluenceError.input(file: path, line: nil,
                                        message: "no \(NativeLogReader.headerFileName) (did the training script finish? the header is written last, when the log is closed); the runs/ folder holds native-layout runs")
        }
        if GPTDynamicsReader.isLayout(path) { return .gptDynamics }
        throw SimfluenceError.input(file: path, line: nil,
                                    message: "not a training log: expected either \(NativeLogReader.headerFileName) (native layout) or runs/<run>/\(GPTDynamicsReader.lossFileName) (GPTDynamics layout), found neither")
    }

    /// Reads the log at `path` (a log folder; the path of a `simfluence-log.json` also works).
    ///
    /// Before reading, estimates the memory the log needs (``estimateMemory(_:)``) and refuses,
    /// with the estimate, a log that would not fit in ``MemoryLimit/current(environment:)``.
    public static func read(_ path: String) throws -> TrainingLog {
        try read(path, memoryBudget: try MemoryLimit.current())
    }

    /// Reads the log at `path`, refusing it up front when it needs more than `memoryBudget`
    /// (nil: no check).
    public static func read(_ path: String, memoryBudget: MemoryLimit.Budget?) throws -> TrainingLog {
        var root = path
        if Paths.kind(path) == .file, (path as NSString).lastPathComponent == NativeLogReader.headerFileName {
            root = (path as NSString).deletingLastPathComponent
            if root.isEmpty { root = "." }
        }
        let layout = try detect(root)
        if let memoryBudget {
            let estimate = estimateMemory(root, layout: layout)
            try MemoryLimit.require(estimate.bytes, budget: memoryBudget, what: "loading this log", detail: estimate.detail,
                                    advice: "free memory or read a log with fewer runs or test examples") { message in
                .input(file: root, line: nil, message: message)
            }
        }
        switch layout {
        case .native: return try NativeLogReader.read(root)
        case .gptDynamics: return try GPTDynamicsReader.read(root)
        }
    }

    /// An estimate (an upper bound in practice) of the memory reading the log at `root` takes,
    /// from file sizes and `.npy` headers alone, with a short breakdown for messages. Losses
    /// are held as float64 (8 bytes each, float32 files widen); a GPTDynamics loss value takes at
    /// least 21 bytes of text ({"step":1,"loss":0},), and the reader briefly holds one run's
    /// losses twice. A curriculum id takes at least 2 bytes of text and about 24 bytes in memory.
    /// Files that cannot be read count by size; the reader reports them properly afterwards.
    public static func estimateMemory(_ root: String, layout: Layout) -> (bytes: Int, detail: String) {
        var lossBytes = 0, largestRun = 0, curriculumBytes = 0, runs = 0
        func size(_ path: String) -> Int {
            var st = stat()
            return stat(path, &st) == 0 ? Int(st.st_size) : 0
        }
        switch layout {
        case .native:
            let runsDir = Paths.join(root, "runs")
            for name in (try? Paths.subdirectories(runsDir)) ?? [] {
                let dir = Paths.join(runsDir, name)
                runs += 1
                let npyPath = Paths.join(dir, NativeLogReader.lossesFileName)
                if let (shape, _) = try? NPY.peek(npyPath) {
                    let (c, o) = shape.reduce((1, false)) { acc, d in
                        let (m, o) = acc.0.multipliedReportingOverflow(by: d)
                        return (m, acc.1 || o)
                    }
                    lossBytes = lossBytes.addingClamped(o ? Int.max : c.multipliedClamped(by: 8))
                } else {
                    lossBytes = lossBytes.addingClamped(size(npyPath))
                }
                curriculumBytes = curriculumBytes.addingClamped(size(Paths.join(dir, NativeLogReader.curriculumFileName)).multipliedClamped(by: 12))
            }
        case .gptDynamics:
            guard let runsDir = try? GPTDynamicsReader.runsFolder(root, lossFile: GPTDynamicsReader.lossFileName) else { break }
            for name in (try? Paths.subdirectories(runsDir)) ?? [] {
                let dir = Paths.join(runsDir, name)
                runs += 1
                let values = size(Paths.join(dir, GPTDynamicsReader.lossFileName)) / 21
                lossBytes = lossBytes.addingClamped(values.multipliedClamped(by: 8))
                largestRun = max(largestRun, values.multipliedClamped(by: 8))
                curriculumBytes = curriculumBytes.addingClamped(size(Paths.join(dir, GPTDynamicsReader.curriculumFileName)).multipliedClamped(by: 12))
            }
        }
        let total = lossBytes.addingClamped(largestRun).addingClamped(curriculumBytes)
        let detail = "losses of \(runs) run\(runs == 1 ? "" : "s"): \(MemoryLimit.describe(bytes: lossBytes.addingClamped(largestRun))), curricula: \(MemoryLimit.describe(bytes: curriculumBytes))"
        return (total, detail)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Int {
    /// `self + x`, or Int.max on overflow (sizes in estimates).
    func addingClamped(_ x: Int) -> Int {
        let (v, o) = addingReportingOverflow(x)
        return o ? .max : v
    }

    /// `self * x`, or Int.max on overflow (sizes in estimates).
    func multipliedClamped(by x: Int) -> Int {
        let (v, o) = multipliedReportingOverflow(by: x)
        return o ? .max : v
    }
}
