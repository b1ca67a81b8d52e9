import ArgumentParser
import DigitsWorkload
import Foundation
import Simfluence

/// `simfluence train`: real training runs of the built-in digits workload, logged.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the built-in digits MLP on random curricula (or a given one) and log the runs.",
        discussion: """
            The workload mirrors fine-tuning: a 64-32-10 MLP is first trained on a warm-up split \
            of the UCI optical digits, and every run starts from that checkpoint and fine-tunes \
            on a random sample of the training pool. The loss of every test example is recorded \
            before training (step 0) and after every step. With --curriculum, trains exactly that \
            curriculum (ids from the pool) from the same checkpoint: the real outcome of a \
            counterfactual. Example: simfluence train -o /tmp/digits-runs --runs 8
            """)

    @Option(name: [.short, .customLong("output")], help: "The folder to write the log into.")
    var output: String

    @Option(help: "Log layout: native (step-0 losses kept) or gptdynamics (integer ids, steps from 1).")
    var format: LogFormat = .native

    @Option(help: "Train exactly this curriculum instead of random runs (JSON lines, native or GPTDynamics form).")
    var curriculum: String?

    @Option(help: "Run name for --curriculum (default: 'counterfactual').")
    var name = "counterfactual"

    @Flag(help: "Do not record gradient features (for tracin-cp, grad-dot, influence).")
    var noGradients = false

    @Option(help: "Record per-example gradients of the whole pool and test set every K steps of run1 (and at its end).")
    var gradientEvery = 24

    @OptionGroup var workload: WorkloadOptions
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.withProgress { try execute() }
    }

    private func execute() throws {
        let session = try WorkloadSession(workload)
        let trained = session.workload
        let log: TrainingLog
        if let curriculum {
            let batches = try Inputs.curriculum(curriculum)
            let run = try trained.retrain(name: name, ids: batches)
            log = TrainingLog(trainIDs: trained.trainIDs, testIDs: trained.testIDs, runs: [run],
                              metadata: trained.logMetadata.merging(["curriculum": curriculum]) { $1 })
        } else {
            log = try session.trainAll(threads: compute.threadCount)
        }
        try format.write(log, to: output)
        var gradientNote = ""
        if curriculum == nil && !noGradients {
            guard gradientEvery >= 1 else { throw ValidationError("--gradient-every must be at least 1") }
            let features = try session.gradientFeatures(every: gradientEvery, threads: compute.threadCount)
            let dir = (output as NSString).appendingPathComponent(GradientFeaturesFile.folderName)
            try GradientFeaturesFile.write(features, to: dir)
            gradientNote = "; gradient features of run1 at steps \(features.checkpoints.map { String($0.step) }.joined(separator: ", ")) in \(dir)"
        }
        let steps = log.runs.map(\.steps)
        print("trained \(log.runs.count) run(s) of \(steps.min() ?? 0)\(steps.min() == steps.max() ? "" : "-\(steps.max() ?? 0)") steps, \(log.testIDs.count) test examples; wrote \(output) (\(format.rawValue) layout)\(gradientNote)")
    }
}
