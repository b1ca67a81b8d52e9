import ArgumentParser
import DigitsWorkload
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
    @Option(help: "Test examples whose loss is recorded before training and after every step.") var test = 200

    func validate() throws {
        guard runs >= 1, pool >= 1, test >= 1, batch >= 1, epochs >= 1 else {
            throw ValidationError("--runs, --pool, --test, --batch and --epochs must be at least 1")
        }
        guard sample >= 1, sample <= pool else { throw ValidationError("--sample must be between 1 and --pool (\(pool))") }
    }
}

/// The built-in digits workload's protocol, one flag per setting (GPTfluence's defaults).
struct WorkloadOptions: ParsableArguments {
    @OptionGroup var shape: RunShapeOptions
    @Option(help: "Fine-tuning optimizer: sgd-momentum or adam.") var optimizer: OptimizerKind = .sgdMomentum
    @Option(help: "Fine-tuning learning rate (default: 0.01 for sgd-momentum, 0.003 for adam).") var learningRate: Double?
    @Option(help: "SGD momentum.") var momentum = 0.9
    @Option(help: "Seed of every random choice: splits, label flips, initialisation, curricula.") var seed: UInt64 = 0
    @Option(help: "Examples in the warm-up (pre-training) split, disjoint from pool and test.") var warmupSize = 300
    @Option(help: "Epochs of warm-up training that produce the checkpoint every run starts from.") var warmupEpochs = 4
    @Option(help: "Fraction of pool examples given a wrong label (recorded in the log's metadata).") var flipLabels = 0.0

    /// The protocol these flags describe.
    var settings: WorkloadProtocol {
        WorkloadProtocol(poolSize: shape.pool, sampleSize: shape.sample, batchSize: shape.batch, epochs: shape.epochs,
                         runs: shape.runs, testSize: shape.test, optimizer: optimizer, learningRate: learningRate, momentum: momentum,
                         seed: seed, warmupSize: warmupSize, warmupEpochs: warmupEpochs, flipLabels: flipLabels)
    }
}
