import ArgumentParser
import DigitsWorkload
import LanguageWorkload
import Simfluence
import SimfluenceReport

/// The workloads the tool can retrain exactly (`--workload`).
enum BuiltInWorkload: String, ExpressibleByArgument, CaseIterable {
    /// A 64-32-10 MLP fine-tuned on UCI digits.
    case digits
    /// A character-level transformer pre-trained and fine-tuned on WordNet glosses.
    case lm
}

/// A built-in workload as the commands use it: the retrainable workload and what the commands
/// need besides (its runs, gradient features, how the report draws an example).
struct WorkloadSession {
    let workload: any RetrainableWorkload
    /// A short description for progress lines ("the digits MLP").
    let title: String
    /// Runs and orders per subset of the workload's own log.
    let runs: Int
    let orders: Int
    private let gradients: @Sendable (Int, Int) throws -> GradientFeatures
    private let view: @Sendable (String) -> ExampleView?

    /// The workload the flags describe.
    init(_ options: WorkloadOptions) throws {
        switch options.workload {
        case .digits:
            let digits = try DigitsFineTuning(protocol: options.settings)
            workload = digits
            title = "the digits MLP"
            runs = digits.settings.runs
            orders = digits.settings.orders
            gradients = { every, threads in try digits.gradientFeatures(every: every, threads: threads) }
            view = { id in
                let pixels = digits.pixels(of: id)
                return pixels.isEmpty ? nil : .digit(pixels: pixels, label: digits.label(of: id) ?? -1)
            }
        case .lm:
            let lm = try LanguageFineTuning(protocol: options.languageSettings)
            workload = lm
            title = "the character transformer"
            runs = lm.settings.runs
            orders = lm.settings.orders
            gradients = { every, threads in try lm.gradientFeatures(every: every, threads: threads) }
            view = { id in lm.text(of: id).map { .text($0) } }
        }
    }

    /// The workload's log: every run from the shared checkpoint.
    func trainAll(threads: Int) throws -> TrainingLog {
        try workload.trainRuns(runs, orders: orders, threads: threads)
    }

    /// Per-example gradients of the pool and test set at every `every` steps of run 1 (and its end).
    func gradientFeatures(every: Int = 24, threads: Int) throws -> GradientFeatures {
        try gradients(every, threads)
    }

    /// How the report shows each of `ids`.
    func views(_ ids: [String]) -> [String: ExampleView] {
        var out: [String: ExampleView] = [:]
        for id in ids { if let v = view(id) { out[id] = v } }
        return out
    }
}
