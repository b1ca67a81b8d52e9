import Foundation
import Testing

/// Long commands report progress on standard error while they run, and `--quiet` silences it.
@Suite struct ProgressCommandTests {
    /// Runs the CLI, reading standard error as it arrives: the progress lines and whether the
    /// process was still running when the first of them arrived.
    static func watch(_ arguments: [String]) throws -> (status: Int32, stderr: String, stdout: String, firstLineWhileRunning: Bool) {
        let process = Process()
        process.executableURL = CLIRunner.executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        nonisolated(unsafe) var outData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        var errText = ""
        var whileRunning: Bool? = nil
        while true {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            errText += String(decoding: chunk, as: UTF8.self)
            if whileRunning == nil, errText.contains("fitting and scoring methods") { whileRunning = process.isRunning }
        }
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus, errText, String(decoding: outData, as: UTF8.self), whileRunning ?? false)
    }

    @Test func evaluateReportsEveryMethodAndFoldAsItGoes() throws {
        let log = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples/tiny-gptdynamics").path
        let r = try Self.watch(["evaluate", log, "--method", "all", "--holdout", "3", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.firstLineWhileRunning, "the first progress line arrived only after the command ended")
        for fragment in ["fitting and scoring methods: linear [0/8]", "fitting and scoring methods: linear-carry [6/8]",
                         "cross-validating 11 lambdas (linear form): fold 1 of 5", "about", "left"] {
            #expect(r.stderr.contains(fragment), "\(fragment)")
        }
        // Standard output is only the JSON.
        #expect(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) is [String: Any])
        let quiet = try CLIRunner.run(["evaluate", log, "--method", "linear", "--holdout", "3", "--quiet"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("fitting and scoring") && !quiet.stderr.contains("cross-validating"))
    }
}
