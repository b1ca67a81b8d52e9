import ArgumentParser
import Foundation
import Simfluence

/// `simfluence fit`: fit a simulator on every run of a log and save it.
struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a simulator on logged training runs and save it as a model file.",
        discussion: """
            Fits one ridge problem per test example on every step of every run in RUNS (teacher \
            forcing), the objective of Simfluence-Linear, its additive or multiplicative \
            variant, or an extended simulator (Docs/Methods.md). Example: simfluence fit Examples/tiny-gptdynamics --method linear -o model.simfluence

            With --shard K/N only slice K of N of the test set is fitted (see Docs/Sharding.md); \
            with --lambda auto every shard cross-validates on all test examples, so all shards \
            choose the same lambda as an unsharded fit.
            """)

    @Argument(help: "The log: a folder in the GPTDynamics layout (or its runs/ folder) or the native layout.")
    var runs: String

    @Option(help: ArgumentHelp("The simulator to fit (default linear).",
                               discussion: MethodRegistry.builtIn.helpText, valueName: "name"))
    var method: MethodName = .linear

    @Option(name: [.short, .customLong("output")], help: "Where to write the fitted model (written atomically).")
    var output: String

    @OptionGroup var lambda: LambdaOptions
    @OptionGroup var gradientOptions: GradientOptions
    @OptionGroup var subsampling: SubsamplingOptions
    @OptionGroup var compute: ComputeOptions

    @OptionGroup var solverOptions: SolverOptions

    @Option(help: ArgumentHelp(
        "Fit only slice K of N of the test set (contiguous slices, K from 1); join the parts with `simfluence merge`.",
        valueName: "K/N"), transform: ShardSpec.parseArgument)
    var shard: ShardSpec?

    @Flag(help: "Print the lambda grid and cross-validation scores.")
    var verbose = false

    @Flag(help: "Print a JSON summary instead of text.")
    var json = false

    /// Refuses, while parsing, a --solver or --shard the method does not take.
    func validate() throws {
        let d = method.descriptor
        if !d.solvers.contains(solverOptions.solver) {
            throw ValidationError("\(method) does not take --solver \(solverOptions.solver.rawValue) (it takes \(d.solvers.sorted().map(\.rawValue).joined(separator: ", ")))")
        }
        if shard != nil, case .unsupported(let why) = d.sharding {
            throw ValidationError("\(method) cannot be fitted with --shard: \(why)")
        }
    }

    func run() throws {
        try compute.withProgress { try execute() }
    }

    private func execute() throws {
        let log = try Inputs.log(runs)
        let gradients = method.readsGradients ? try gradientOptions.features(forLog: runs) : nil
        var inputs = MethodInputs(lambda: try lambda.choice(), gradients: gradients, damping: gradientOptions.damping)
        inputs.every = try subsampling.every(for: log)
        inputs.solver = solverOptions.choice
        let fit = try FitPipeline.fit(method, log: log, inputs: inputs, shard: shard, logPath: runs, modelPath: output,
                                      threads: compute.threadCount)
        let simulator = fit.simulator
        try ModelFile.write(simulator, to: output)
        printNotes(fit, method: fit.simulator.method.name)
        if json {
            var object: [(String, JSON)] = [
                ("method", .string(simulator.method.name)), ("lambda", .number(simulator.lambda)),
                ("runs", .number(Double(log.runs.count))), ("train_examples", .number(Double(log.trainIDs.count))),
                ("test_examples", .number(Double(log.testIDs.count))), ("seconds", .number(fit.seconds)),
                ("output", .string(output)), ("shard", shard.map { .string($0.description) } ?? .null),
            ]
            if let s = fit.selection { object.append(("cross_validation", JSON(s))) }
            if let choice = simulator.provenance.details["auto_choice"] { object.append(("auto_choice", .string(choice))) }
            if let weights = simulator.provenance.details["stack_weights"] { object.append(("stack_weights", .string(weights))) }
            if let k = simulator.lagKernel {
                object.append(("lag_kernel", .object([("loss_scale", .number(k.lossScale)), ("saturation", .number(k.saturation))])))
            }
            object.append(("notes", .array(fit.notes.map { .string($0) })))
            print(JSON.object(object).rendered())
        } else {
            if verbose, let s = fit.selection { printSelection(s) }
            let how = fit.selection.map { "chosen by \($0.folds)-fold cross-validation" } ?? "fixed"
            let slice = shard.map { " (shard \($0): \(simulator.testIDs.count) of them)" } ?? ""
            if let choice = simulator.provenance.details["auto_choice"] { print("auto chose \(choice)") }
            if let weights = simulator.provenance.details["stack_weights"] { print("stack weights: \(weights)") }
            print("fitted \(simulator.method.name) on \(log.runs.count) runs, \(log.trainIDs.count) training examples, \(log.testIDs.count) test examples\(slice)")
            if !simulator.components.isEmpty {
                print("a stack of \(simulator.components.count) simulators (\(simulator.components.map(\.simulator.method.name).joined(separator: ", "))), weighed by cross-validation; \(Format.seconds(fit.seconds))")
            } else if let lambda = simulator.lambda {
                print("lambda = \(Format.number(lambda)) (\(how)); \(Format.seconds(fit.seconds))")
                if let k = simulator.lagKernel {
                    print("lag kernel: loss scale tau = \(Format.number(k.lossScale)), saturation exponent \(Format.number(k.saturation)) (\(fit.selection == nil ? "fixed" : "chosen by the same cross-validation"))")
                }
            } else {
                print("scores from gradient features; scale = \(simulator.provenance.scale.map { String($0.scale) } ?? "1 (raw)"); \(Format.seconds(fit.seconds))")
            }
            print("wrote \(output)")
        }
    }
}

/// Prints a lambda search's grid and scores, one line per grid point, marking the choice.
func printSelection(_ s: LambdaSelection, to stream: StandardStream = .output) {
    for line in selectionLines(s) { stream.write(line) }
}

/// The lines `--verbose` prints for a lambda search: every grid point with its score, the
/// chosen one marked, points below the search's screen marked as not scored.
func selectionLines(_ s: LambdaSelection) -> [String] {
    var lines = ["lambda grid (\(s.folds)-fold cross-validated all-steps MSE):"]
    for (p, (lambda, score)) in zip(s.grid, s.scores).enumerated() {
        let shown = p < s.screened ? "not scored (below the screen)" : Format.number(score)
        lines.append("  \(Format.number(lambda).padding(toLength: 10, withPad: " ", startingAt: 0)) \(shown)\(lambda == s.chosen ? "  <- chosen" : "")")
    }
    if s.screened > 0 {
        lines.append("  (the whole grid was scored on a sample of test examples, the rest only down to just below the best point)")
    }
    return lines
}

/// Prints a fit's notes (``MethodFit/notes``) and, when cross-validation chose an end of its
/// grid, that the best lambda may lie beyond it; on standard error, each "note: method: ...".
func printNotes(_ fit: MethodFit, method: String) {
    for note in fit.notes { StandardStream.error.write("note: \(method): \(note)") }
    if let s = fit.selection { warnIfAtGridEdge(s, method: method) }
}

/// Warns (on standard error) when cross-validation chose an end of its grid: the best lambda
/// may lie beyond it.
func warnIfAtGridEdge(_ s: LambdaSelection, method: String) {
    guard s.grid.count > 1, s.chosen == s.grid.first || s.chosen == s.grid.last else { return }
    let side = s.chosen == s.grid.first ? "smallest" : "largest"
    StandardStream.error.write("note: \(method): cross-validation chose the \(side) lambda of the grid (\(Format.number(s.chosen))); a wider --lambda-grid may do better")
}
