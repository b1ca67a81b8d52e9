import Foundation

/// Runs the built `simfluence` executable (built next to the test bundle by `swift test`).
struct CLIRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Whether the child ran over its time limit and was killed.
        var timedOut: Bool
        var seconds: Double
    }

    static var executable: URL {
        // The test bundle lives in the build products folder, beside the executable.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("simfluence")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/simfluence")
    }

    /// Runs the executable with extra environment variables; a child still running after
    /// `timeout` seconds is killed and the result says so.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let start = Date()
        nonisolated(unsafe) var timedOut = false
        let timer = DispatchSource.makeTimerSource()
        let (outData, errData) = try runCollecting(process) {
            timer.schedule(deadline: .now() + timeout)
            timer.setEventHandler {
                if process.isRunning { timedOut = true; kill(process.processIdentifier, SIGKILL) }
            }
            timer.resume()
        }
        timer.cancel()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), timedOut: timedOut,
                      seconds: Date().timeIntervalSince(start))
    }

    /// Runs `script` with /bin/sh (for redirections and limits); environment values of nil are
    /// removed from the child's environment.
    static func runShell(_ script: String, environment: [String: String?] = [:], timeout: Double = 120) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let start = Date()
        let (outData, errData) = try runCollecting(process)
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return Result(status: status, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), timedOut: false,
                      seconds: Date().timeIntervalSince(start))
    }

    /// Starts `process` with piped standard output and error, calls `started`, reads both pipes
    /// fully (so a large output cannot block the child) and waits for it to exit.
    private static func runCollecting(_ process: Process, started: () -> Void = {}) throws -> (Data, Data) {
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        started()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (outData, errData)
    }

    /// A fresh temporary directory, inside this test process's scratch folder (removed when the
    /// process exits, so test runs leave nothing in the system's temporary folder).
    static func temporaryDirectory() throws -> String {
        _ = scratchFolderCreated
        let path = scratchFolder + "/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// The folder that holds every `CLIRunner.temporaryDirectory()` of this test process.
private let scratchFolder = NSTemporaryDirectory() + "simfluence-cli-test-" + UUID().uuidString

/// Creates `scratchFolder` once and removes it, with everything the tests wrote, at exit.
private let scratchFolderCreated: Void = {
    try? FileManager.default.createDirectory(atPath: scratchFolder, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: scratchFolder) }
}()
