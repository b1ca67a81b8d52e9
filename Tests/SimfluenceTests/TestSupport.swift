import Foundation
import Testing
@testable import Simfluence

/// A fresh temporary directory, removed when the value is released.
final class TempDir {
    let path: String
    init() {
        let base = NSTemporaryDirectory()
        path = Paths.join(base, "simfluence-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/relative`.
    func at(_ relative: String) -> String { Paths.join(path, relative) }

    /// Writes `text` to `relative`, creating directories.
    @discardableResult
    func write(_ text: String, to relative: String) -> String {
        let p = at(relative)
        try? FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    @discardableResult
    func write(bytes: [UInt8], to relative: String) -> String {
        let p = at(relative)
        try? FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func listing(_ relative: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: relative.isEmpty ? path : at(relative))) ?? []).sorted()
    }
}

/// The `.input` error thrown by `body`, or nil (recorded as an issue) when it does not throw one.
func inputError(_ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) -> (file: String, line: Int?, message: String)? {
    do {
        _ = try body()
        Issue.record("expected an input error, but the call succeeded", sourceLocation: sourceLocation)
    } catch let SimfluenceError.input(file, line, message) {
        return (file, line, message)
    } catch {
        Issue.record("expected an input error, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Expects `body` to throw `.input` for a file ending in `fileSuffix`, on `line`, with a message
/// containing every fragment.
func expectInputError(file fileSuffix: String, line: Int?, _ fragments: [String],
                      sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Any) {
    guard let e = inputError(body, sourceLocation: sourceLocation) else { return }
    #expect(e.file.hasSuffix(fileSuffix), "file \(e.file) does not end with \(fileSuffix)", sourceLocation: sourceLocation)
    #expect(e.line == line, "line \(String(describing: e.line)), expected \(String(describing: line)) in \(e.message)", sourceLocation: sourceLocation)
    for f in fragments {
        #expect(e.message.contains(f), "message '\(e.message)' lacks '\(f)'", sourceLocation: sourceLocation)
    }
}

/// A trajectory line of the GPTDynamics loss file.
func trajectoryLine(_ id: String, _ losses: [Double], steps: [Int]? = nil) -> String {
    let steps = steps ?? Array(1...losses.count)
    let items = zip(steps, losses).map { "{\"step\": \($0), \"loss\": \($1)}" }.joined(separator: ", ")
    return "{\"id\": \(id), \"loss_trajectory\": [\(items)]}"
}

/// A small log with every feature: two runs of different lengths, duplicate ids in a batch,
/// an unused training id, custom vocabulary order, metadata.
func sampleLog(firstLossStep: Int = 0) -> TrainingLog {
    let trainIDs = ["b", "007", "12", "a\"quoted\"", "unused", "x y"]
    let testIDs = ["3", "t-1", "100"]
    func losses(_ steps: Int, _ seed: Double) -> Matrix {
        let rows = steps - firstLossStep + 1
        return Matrix(rows: rows, columns: 3, storage: (0..<(rows * 3)).map { 1.0 / (Double($0) + seed) + 0.1 * seed })
    }
    let r1 = TrainingRun(name: "run2", batches: [[0, 1], [2, 2, 3], [5]], firstLossStep: firstLossStep, losses: losses(3, 1.5))
    let r2 = TrainingRun(name: "run10", batches: [[1], [0, 5]], firstLossStep: firstLossStep, losses: losses(2, 2.25))
    return TrainingLog(trainIDs: trainIDs, testIDs: testIDs, runs: [r1, r2], metadata: ["seed": "7", "note": "línea\nnueva"])
}
