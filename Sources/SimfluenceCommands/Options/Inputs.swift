import Simfluence

/// Reading a command's inputs, with the warnings every command gives about them.
enum Inputs {
    /// The log at `path`, warning about negative integer ids (``NegativeIDs``).
    static func log(_ path: String) throws -> TrainingLog {
        let log = try LogReader.read(path)
        if let w = NegativeIDs.warning(count: NegativeIDs.appearances(in: log), source: path) { StandardStream.error.write(w) }
        return log
    }

    /// The curriculum at `path`, warning about negative integer ids.
    static func curriculum(_ path: String) throws -> [[String]] {
        let batches = try CurriculumFile.read(path)
        if let w = NegativeIDs.warning(count: NegativeIDs.appearances(in: batches), source: path) { StandardStream.error.write(w) }
        return batches
    }
}
