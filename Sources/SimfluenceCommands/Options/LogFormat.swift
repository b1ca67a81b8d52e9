import ArgumentParser
import Simfluence

/// The on-disk layout a command writes logs in.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    /// simfluence's native layout (JSON lines curricula, .npy losses, step-0 losses kept).
    case native
    /// GPTfluence's GPTDynamics layout (integer ids where possible, steps from 1).
    case gptdynamics

    /// Writes `log` to `directory` in this layout.
    func write(_ log: TrainingLog, to directory: String) throws {
        switch self {
        case .native: try NativeLogWriter.write(log, to: directory)
        case .gptdynamics: try GPTDynamicsWriter.write(log, to: directory)
        }
    }
}
