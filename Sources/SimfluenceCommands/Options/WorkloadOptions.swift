import ArgumentParser
import DigitsWorkload
import LanguageWorkload
import Simfluence

extension OptimizerKind: ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// The shape of a set of runs, shared by `train`, `demo` and `synth` (GPTfluence's defaults).
struct RunShapeOptions: ParsableArguments {
    @Option(help: "Training pool size (examples the runs sample from).") var pool = 200
    @Option(help: "Examples each run samples from the pool, without replacement.") var sample = 128
    @Option(help: "Examples per step.") var batch = 4
    @Option(help: "Passes over each run's sample (each reshuffled).") var epochs = 3
    @Option(help: "Number of runs.") var runs = 32
    @Option(help: "Test examples whose loss is recorded before training and after every step (default: 200 digits, 100 texts).")
    var test: Int?

    /// The test-set size for `workload`.
    func testCount(_ workload: BuiltInWorkload) -> Int { test ?? (workload == .digits ? 200 : 100) }

    func validate() throws {
        guard runs >= 1, pool >= 1, (test ?? 1) >= 1, batch >= 1, epochs >= 1 else {
            throw ValidationError("--runs, --pool, --test, --batch and --epochs must be at least 1")
        }
        guard sample >= 1, sample <= pool else { throw ValidationError("--sample must be between 1 and --pool (\(pool))") }
        for (flag, value) in [("--runs", runs), ("--pool", pool), ("--test", test ?? 0), ("--batch", batch), ("--epochs", epochs)]
        where value > Self.largestCount {
            throw ValidationError("\(flag) must be at most \(Self.largestCount) (got \(value))")
        }
        if recordedLosses > Double(Self.largestCount) * 100 {
            throw ValidationError("--runs x steps x --test asks for \(Format.number(recordedLosses)) recorded losses (\(runs) runs of \(steps) steps, \(test ?? 200) test examples); at most 1e9 are supported")
        }
    }

    /// Largest value accepted for any count flag.
    static let largestCount = 10_000_000

    /// Optimizer steps per run: ceil(sample / batch) per epoch.
    var steps: Int { (sample + batch - 1) / batch * epochs }

    /// Losses a log of this shape records (runs x (steps + 1) x test, the test set's largest
    /// default, 200, when --test is not given), as a Double so that no product overflows.
    var recordedLosses: Double { Double(runs) * (Double(steps) + 1) * Double(test ?? 200) }
}

/// The built-in digits workload's protocol, one flag per setting (GPTfluence's defaults).
struct WorkloadOptions: ParsableArguments {
    @Option(help: "The built-in workload: digits (a 64-32-10 MLP on UCI digits) or lm (a character transformer fine-tuned on WordNet glosses, Docs/LanguageWorkload.md).")
    var workload: BuiltInWorkload = .digits
    @OptionGroup var shape: RunShapeOptions
    @Option(help: "Fine-tuning optimizer of the digits workload: sgd-momentum or adam (lm always uses AdamW).") var optimizer: OptimizerKind = .sgdMomentum
    @Option(help: "Fine-tuning learning rate (default: 0.01 for sgd-momentum, 0.003 for adam, 0.001 for lm).") var learningRate: Double?
    @Option(help: "SGD momentum (digits).") var momentum = 0.9
    @Option(help: "Seed of every random choice: splits, label flips, initialisation, curricula.") var seed: UInt64 = 0
    @Option(help: "Examples in the warm-up (pre-training) split, disjoint from pool and test (digits; lm: --pretrain-size).") var warmupSize = 300
    @Option(help: "Epochs of warm-up training that produce the checkpoint every run starts from (digits).") var warmupEpochs = 4
    @Option(help: "Fraction of pool examples given a wrong label, recorded in the log's metadata (digits).") var flipLabels = 0.0
    @OptionGroup var language: LanguageModelOptions
    @Option(help: "Orders per random subset: each subset is drawn once and trained in K fresh orders (K consecutive runs share a subset), so held-out runs form order groups (Spearman across orders).")
    var orders = 1

    func validate() throws {
        if workload == .lm && (flipLabels != 0 || optimizer != .sgdMomentum) {
            throw ValidationError("--flip-labels and --optimizer apply to the digits workload only (lm trains with AdamW on texts)")
        }
        guard orders >= 1, orders <= shape.runs else { throw ValidationError("--orders must be between 1 and --runs (\(shape.runs))") }
        guard warmupSize >= 0, warmupSize <= RunShapeOptions.largestCount, warmupEpochs >= 0, warmupEpochs <= 100_000 else {
            throw ValidationError("--warmup-size must be between 0 and \(RunShapeOptions.largestCount) and --warmup-epochs between 0 and 100000")
        }
    }

    /// The language-model protocol these flags describe.
    var languageSettings: LanguageProtocol {
        var p = LanguageProtocol(poolSize: shape.pool, sampleSize: shape.sample, batchSize: shape.batch, epochs: shape.epochs,
                                 runs: shape.runs, testSize: shape.testCount(.lm), learningRate: learningRate ?? 1e-3,
                                 weightDecay: language.weightDecay, seed: seed, pretrainSize: language.pretrainSize,
                                 pretrainSteps: language.pretrainSteps, layers: language.layers, width: language.width,
                                 heads: language.heads, mlpWidth: 4 * language.width, context: language.context)
        p.orders = orders
        return p
    }

    /// The protocol these flags describe.
    var settings: WorkloadProtocol {
        WorkloadProtocol(poolSize: shape.pool, sampleSize: shape.sample, batchSize: shape.batch, epochs: shape.epochs,
                         runs: shape.runs, testSize: shape.testCount(.digits), optimizer: optimizer, learningRate: learningRate, momentum: momentum,
                         seed: seed, warmupSize: warmupSize, warmupEpochs: warmupEpochs, flipLabels: flipLabels)
            .withOrders(orders)
    }
}

/// The language-model workload's own settings (`--workload lm`; Docs/LanguageWorkload.md).
struct LanguageModelOptions: ParsableArguments {
    @Option(help: "lm: transformer blocks.") var layers = 2
    @Option(help: "lm: width of the residual stream.") var width = 64
    @Option(help: "lm: attention heads (must divide --width).") var heads = 4
    @Option(help: "lm: characters of a text the model reads (longer texts are cut).") var context = 96
    @Option(help: "lm: AdamW weight decay.") var weightDecay = 0.01
    @Option(help: "lm: texts of the pre-training split.") var pretrainSize = 2000
    @Option(help: "lm: optimizer steps of pre-training.") var pretrainSteps = 300

    func validate() throws {
        // Bounds that keep the model and its workspaces far below any machine's memory.
        for (flag, value, limit) in [("--layers", layers, 64), ("--width", width, 4096), ("--heads", heads, 256),
                                     ("--context", context, 4096), ("--pretrain-size", pretrainSize, 1_000_000),
                                     ("--pretrain-steps", pretrainSteps, 10_000_000)]
        where value < 0 || value > limit {
            throw ValidationError("\(flag) must be between 0 and \(limit) (got \(value))")
        }
        guard weightDecay.isFinite && weightDecay >= 0 else { throw ValidationError("--weight-decay must be a number >= 0") }
    }
}
