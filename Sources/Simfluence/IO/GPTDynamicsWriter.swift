/// Writes a ``TrainingLog`` in the GPTDynamics layout (see ``GPTDynamicsReader``):
/// `ROOT/runs/<run>/train_samples_id.json` and `ROOT/runs/<run>/all_loss_trajectory.out`.
///
/// Losses are written from step 1 (a step-0 row, if a run has one, is dropped), with full
/// round-trip precision. Ids are JSON integers when they are canonical decimal integers, else
/// strings. The layout has no place for ``TrainingLog/metadata``, so it is not written; reading
/// back yields the training vocabulary in its canonical order (numeric or natural).
/// Every file is replaced atomically; directories are created as needed. Runs are written in
/// parallel.
public enum GPTDynamicsWriter {
    public static func write(_ log: TrainingLog, to root: String) throws {
        try LogWriting.validate(log)
        try Paths.createDirectory(root)
        if Paths.kind(Paths.join(root, NativeLogReader.headerFileName)) != .missing {
            throw SimfluenceError.invalidArgument("cannot write a GPTDynamics log into '\(root)': it holds a native log (\(NativeLogReader.headerFileName)), which readers would pick instead")
        }
        let runsDir = Paths.join(root, "runs")
        try Paths.createDirectory(runsDir)
        try LogWriting.refuseStaleRuns(log, runsDir: runsDir)
        // Runs are independent files: format them in parallel (formatting numbers dominates).
        try Parallel.forEach(log.runs.count) { k in
            let run = log.runs[k]
            let dir = Paths.join(runsDir, run.name)
            try Paths.createDirectory(dir)
            let curriculum = run.batches.map { $0.map { log.trainIDs[$0] } }
            try AtomicFile.write(to: Paths.join(dir, GPTDynamicsReader.curriculumFileName)) { w in
                try CurriculumFile.write(curriculum, key: "samples_id", into: w)
            }
            let skip = run.firstLossStep == 0 ? 1 : 0
            let n = run.losses.columns
            try AtomicFile.write(to: Paths.join(dir, GPTDynamicsReader.lossFileName)) { w in
                var line = ""
                for (j, id) in log.testIDs.enumerated() {
                    line.removeAll(keepingCapacity: true)
                    line += "{\"id\": \(JSONText.id(id)), \"loss_trajectory\": ["
                    for r in skip..<run.losses.rows {
                        // write(to:) formats into the line without a temporary String per number.
                        line += r > skip ? ", {\"step\": " : "{\"step\": "
                        line += String(run.firstLossStep + r)
                        line += ", \"loss\": "
                        run.losses.storage[r * n + j].write(to: &line)
                        line += "}"
                    }
                    line += "]}\n"
                    try w.write(line)
                }
            }
        }
    }
}

/// Checks shared by the log writers.
enum LogWriting {
    /// Everything a reader would reject, caught before anything is written.
    static func validate(_ log: TrainingLog) throws {
        func fail(_ m: String) -> SimfluenceError { .invalidArgument("cannot write the log: \(m)") }
        guard !log.runs.isEmpty else { throw fail("it has no runs") }
        guard !log.testIDs.isEmpty else { throw fail("it has no test examples") }
        if Set(log.testIDs).count != log.testIDs.count { throw fail("test ids repeat") }
        if Set(log.trainIDs).count != log.trainIDs.count { throw fail("training ids repeat") }
        var names = Set<String>()
        for run in log.runs {
            let name = run.name
            if name.isEmpty || name.hasPrefix(".") || name.contains("/") || name.contains("\0") {
                throw fail("run name '\(name)' cannot be a folder name (empty, hidden, or containing '/')")
            }
            if !names.insert(name).inserted { throw fail("two runs are named '\(name)'") }
            if run.steps == 0 { throw fail("run \(name) has no steps") }
            if run.losses.columns != log.testIDs.count {
                throw fail("run \(name) has \(run.losses.columns) loss columns for \(log.testIDs.count) test ids")
            }
            for (t, batch) in run.batches.enumerated() {
                if batch.isEmpty { throw fail("run \(name), step \(t + 1): empty batch") }
                for i in batch where i < 0 || i >= log.trainIDs.count {
                    throw fail("run \(name), step \(t + 1): training index \(i) is outside the \(log.trainIDs.count) training ids")
                }
            }
            for (k, v) in run.losses.storage.enumerated() where !v.isFinite {
                let r = k / log.testIDs.count, c = k % log.testIDs.count
                throw fail("run \(name): the loss of test example \(log.testIDs[c]) after step \(run.firstLossStep + r) is not finite (\(v))")
            }
        }
    }

    /// Refuses to write into a runs folder holding run folders that are not in `log` (they would
    /// be read back as part of it). Overwriting the log's own runs is fine.
    static func refuseStaleRuns(_ log: TrainingLog, runsDir: String) throws {
        let names = Set(log.runs.map(\.name))
        let stale = try Paths.subdirectories(runsDir).filter { !names.contains($0) }
        if let first = stale.first {
            throw SimfluenceError.invalidArgument("cannot write the log into '\(runsDir)': it already holds run \(first)\(stale.count > 1 ? " and \(stale.count - 1) more" : "") not in this log; remove them or write to an empty folder")
        }
    }
}
