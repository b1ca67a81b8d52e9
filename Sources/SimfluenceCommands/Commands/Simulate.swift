import ArgumentParser
import Foundation
import Simfluence

/// `simfluence simulate`: roll a fitted simulator out over a curriculum.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict every test example's loss after every step of a curriculum.",
        discussion: """
            Starts from one loss per test example (--initial, or the mean first recorded loss of \
            the runs the model was fitted on) at step --start-step, then applies the curriculum's \
            batches for the following steps, feeding each prediction back as the next input. \
            Prints CSV (test_id,step,loss; the start step included) or, with --json, one object. \
            Example: simfluence simulate --model model.simfluence --curriculum curriculum.jsonl --test 7
            """)

    @Option(help: "A model file written by 'simfluence fit'.")
    var model: String

    @Option(help: "The curriculum: JSON lines {\"step\": s, \"batch\": [ids]} (native) or {\"step\": s, \"samples_id\": [ids]} (GPTDynamics train_samples_id.json).")
    var curriculum: String

    @Option(help: "Starting losses: a JSON object {\"test id\": loss, ...} or JSON lines {\"id\": ..., \"loss\": ...}. Default: the mean first recorded loss of the fitted runs.")
    var initial: String?

    @Option(help: "The step the starting losses belong to; batches of later steps are applied. Default: the step of the fitted runs' first recorded loss (0 for native logs, 1 for GPTDynamics logs).")
    var startStep: Int?

    @Option(name: .customLong("test"), help: "Simulate only this test example (repeatable). Default: all.")
    var tests: [String] = []

    @Option(help: "What to do with curriculum ids the model never saw: 'error', 'mean' (each acts as a typical example: the mean A and B of the seen ones) or 'zero' (dropped from its batch).")
    var unseen: UnseenPolicy = .error

    @Option(name: [.short, .customLong("output")], help: "Write the predictions to this file (atomically) instead of standard output.")
    var output: String?

    @Flag(help: "Print JSON instead of CSV.")
    var json = false

    @OptionGroup var bootstrap: BootstrapOptions

    @Option(help: "With --bootstrap: the log the model was fitted on (default: the log path the model records, relative to the model file's folder; either way its fingerprint must match the model's).")
    var log: String?

    func run() throws {
        let simulator = try ModelFile.read(model)
        let batches = try Inputs.curriculum(curriculum)
        let start = startStep ?? simulator.startingStep
        guard start >= 0, start <= batches.count else {
            throw ValidationError("--start-step must be between 0 and the curriculum's \(batches.count) steps (got \(start))")
        }
        let testIndex = Dictionary(uniqueKeysWithValues: simulator.testIDs.enumerated().map { ($1, $0) })
        let columns: [Int] = try tests.isEmpty ? Array(simulator.testIDs.indices) : tests.map { id in
            guard let z = testIndex[id] else {
                throw SimfluenceError.invalidArgument("--test \(id): the model has no test example '\(id)' (it has \(simulator.testIDs.count), e.g. \(simulator.testIDs.prefix(3).joined(separator: ", ")))")
            }
            return z
        }
        let startLosses: [Double]
        if let initial {
            let given = try InitialLossFile.read(initial)
            startLosses = try columns.map { z in
                guard let x = given[simulator.testIDs[z]] else {
                    throw SimfluenceError.input(file: initial, line: nil, message: "no starting loss for test example '\(simulator.testIDs[z])'")
                }
                return x
            }
        } else {
            startLosses = columns.map { simulator.startingLosses[$0] }
        }
        let applied = Array(batches[start...])
        // The trajectories and their text: 8 bytes a value in memory, up to ~48 as CSV or JSON.
        try FitChecks.requireMemory(Double(applied.count + 1) * Double(columns.count) * 56,
                                    what: "simulating \(applied.count) steps for \(columns.count) test examples",
                                    detail: "the trajectories and their text", advice: "simulate fewer test examples (--test) or a shorter curriculum")
        let (planned, resolved) = try simulator.plan(applied, unseen: unseen, source: curriculum, firstStep: start + 1)
        let losses = planned.simulate(resolved, initial: startLosses, tests: columns, firstStep: start + 1)
        try FitChecks.requireFiniteRollout(losses, simulator: simulator, columns: columns, start: start, source: model)
        let bands = try bootstrap.bootstrap.map { b in
            try SimulationBootstrap.intervals(simulator, modelPath: model, logPath: log, batches: try simulator.resolve(applied, unseen: .zero, source: curriculum, firstStep: start + 1), firstStep: start + 1, initial: startLosses,
                                              columns: columns, replicates: b, seed: bootstrap.bootstrapSeed)
        }
        let text = json ? jsonText(simulator, columns, losses, start, bands) : csvText(simulator, columns, losses, start, bands)
        if let output {
            try AtomicFile.write(Data(text.utf8), to: output)
        } else {
            print(text, terminator: "")
        }
    }

    /// CSV test_id,step,loss (and lower,upper with bootstrap bands), test by test, step by step.
    private func csvText(_ sim: FittedSimulator, _ columns: [Int], _ losses: Matrix, _ start: Int,
                         _ bands: (lower: Matrix, upper: Matrix)?) -> String {
        var out = bands == nil ? "test_id,step,loss\n" : "test_id,step,loss,lower,upper\n"
        for (c, z) in columns.enumerated() {
            let id = CSV.field(sim.testIDs[z])
            for r in 0..<losses.rows {
                out += "\(id),\(start + r),\(losses[r, c])"
                if let bands { out += ",\(bands.lower[r, c]),\(bands.upper[r, c])" }
                out += "\n"
            }
        }
        return out
    }

    /// One JSON object; with bootstrap bands, "interval", "lower" and "upper" (per trajectory) follow.
    private func jsonText(_ sim: FittedSimulator, _ columns: [Int], _ losses: Matrix, _ start: Int,
                          _ bands: (lower: Matrix, upper: Matrix)?) -> String {
        let trajectories: [JSON] = columns.enumerated().map { c, z in
            .object([("test_id", .string(sim.testIDs[z])), ("loss", .array(losses.column(c).map { .number($0) }))])
        }
        var members: [(String, JSON)] = [
            ("method", .string(sim.method.name)), ("start_step", .number(Double(start))),
            ("steps", .number(Double(losses.rows - 1))), ("trajectories", .array(trajectories)),
        ]
        if let bands {
            func perTrajectory(_ m: Matrix) -> JSON { .array((0..<m.columns).map { c in .array(m.column(c).map { .number($0) }) }) }
            members += [("interval", .string("bootstrap 10th-90th percentile, per trajectory")),
                        ("lower", perTrajectory(bands.lower)), ("upper", perTrajectory(bands.upper))]
        }
        return JSON.object(members).rendered() + "\n"
    }
}

/// CSV quoting for fields that may hold commas, quotes or line breaks (ids can be any string).
enum CSV {
    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
