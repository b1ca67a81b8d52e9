/// Writes a ``TrainingLog`` in the native layout (see ``NativeLogReader`` and
/// Docs/NativeLayout.md): losses as float64 `.npy` (or float32 on request), curricula as JSON
/// lines, and a header carrying the test ids, the training vocabulary in its exact order,
/// `first_loss_step` and the metadata, so reading back gives an equal log.
///
/// Every file is replaced atomically and directories are created as needed. The header is
/// written last, so an interrupted first write does not leave something that looks like a log.
/// All runs must share one ``TrainingRun/firstLossStep``.
public enum NativeLogWriter {
    public static func write(_ log: TrainingLog, to root: String, dtype: NPYDType = .float64) throws {
        try LogWriting.validate(log)
        let first = log.runs[0].firstLossStep
        if let other = log.runs.first(where: { $0.firstLossStep != first }) {
            throw SimfluenceError.invalidArgument("cannot write the log in the native layout: run \(log.runs[0].name) records losses from step \(first) but run \(other.name) from step \(other.firstLossStep); the layout has one first_loss_step for all runs")
        }
        try Paths.createDirectory(root)
        let runsDir = Paths.join(root, "runs")
        try Paths.createDirectory(runsDir)
        try LogWriting.refuseStaleRuns(log, runsDir: runsDir)
        for run in log.runs {
            let dir = Paths.join(runsDir, run.name)
            try Paths.createDirectory(dir)
            try CurriculumFile.write(run.batches.map { $0.map { log.trainIDs[$0] } },
                                     to: Paths.join(dir, NativeLogReader.curriculumFileName))
            try NPY.write(run.losses, dtype: dtype, to: Paths.join(dir, NativeLogReader.lossesFileName))
        }
        let header = """
        {"format": "\(NativeLogReader.formatName)",
         "version": \(NativeLogReader.version),
         "first_loss_step": \(first),
         "test_ids": [\(log.testIDs.map(JSONText.id).joined(separator: ", "))],
         "train_ids": [\(log.trainIDs.map(JSONText.id).joined(separator: ", "))],
         "metadata": \(JSONText.stringObject(log.metadata))}

        """
        try AtomicFile.write(to: Paths.join(root, NativeLogReader.headerFileName)) { try $0.write(header) }
    }
}
