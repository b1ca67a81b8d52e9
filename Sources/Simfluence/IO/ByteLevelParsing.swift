/// Byte-level entry points of every reader, for the fuzz targets in `Fuzz/` and for tests.
///
/// Each runs exactly the code the path-based reader runs, on an in-memory copy of `bytes`
/// named `source` in messages, so a crash found here is a crash of the real reader. Not part of
/// the stable API: import with `@_spi(Fuzzing) import Simfluence`.
@_spi(Fuzzing) public enum ByteLevelParsing {
    /// ``CurriculumFile/read(_:)`` on bytes (either form).
    public static func curriculum(_ bytes: UnsafeRawBufferPointer, source: String = "curriculum") throws -> [[String]] {
        try CurriculumFile.parse(MappedFile(copying: bytes, path: source))
    }

    /// ``InitialLossFile/read(_:)`` on bytes.
    public static func initialLosses(_ bytes: UnsafeRawBufferPointer, source: String = "initial") throws -> [String: Double] {
        try InitialLossFile.parse(MappedFile(copying: bytes, path: source))
    }

    /// A GPTDynamics loss file (`all_loss_trajectory.out`) of a run with `steps` steps: test ids
    /// in file order and their trajectories, row-major (one row of `steps` values per id).
    public static func lossTrajectories(_ bytes: UnsafeRawBufferPointer, steps: Int, threads: Int = 1,
                                        source: String = "all_loss_trajectory.out") throws -> (ids: [String], values: [Double]) {
        let r = try LossTrajectoryParser.parse(file: MappedFile(copying: bytes, path: source), steps: steps, threads: threads)
        return (r.ids, r.values)
    }

    /// ``NativeLogReader``'s header parse on bytes: test ids, first loss step, training ids.
    public static func nativeHeader(_ bytes: UnsafeRawBufferPointer, source: String = "simfluence-log.json") throws
        -> (testIDs: [String], firstLossStep: Int, trainIDs: [String]?) {
        let h = try NativeLogReader.parseHeader(MappedFile(copying: bytes, path: source))
        return (h.testIDs, h.firstLossStep, h.trainIDs)
    }

    /// A whole GPTDynamics log assembled from in-memory runs: `(name, curriculum bytes, loss bytes)`.
    public static func gptDynamicsLog(_ runs: [(name: String, curriculum: [UInt8], losses: [UInt8])],
                                      threads: Int = 1) throws -> TrainingLog {
        let files = Dictionary(runs.map { ($0.name, ($0.curriculum, $0.losses)) }, uniquingKeysWith: { a, _ in a })
        return try GPTDynamicsReader.assemble(names: runs.map(\.name), threads: threads) { name, file in
            let pair = files[name] ?? ([], [])
            let bytes = file == GPTDynamicsReader.curriculumFileName ? pair.0 : pair.1
            return bytes.withUnsafeBytes { MappedFile(copying: $0, path: "runs/\(name)/\(file)") }
        }
    }

    /// A whole native log assembled from an in-memory header and runs `(name, curriculum, losses.npy)`.
    public static func nativeLog(header: [UInt8], _ runs: [(name: String, curriculum: [UInt8], losses: [UInt8])]) throws -> TrainingLog {
        let h = try header.withUnsafeBytes { try NativeLogReader.parseHeader(MappedFile(copying: $0, path: NativeLogReader.headerFileName)) }
        let files = Dictionary(runs.map { ($0.name, ($0.curriculum, $0.losses)) }, uniquingKeysWith: { a, _ in a })
        return try NativeLogReader.assemble(header: h, names: runs.map(\.name)) { name, file in
            let pair = files[name] ?? ([], [])
            let bytes = file == NativeLogReader.curriculumFileName ? pair.0 : pair.1
            return bytes.withUnsafeBytes { MappedFile(copying: $0, path: "runs/\(name)/\(file)") }
        }
    }

    /// `bytes` with the model-file checksum recomputed, when they are shaped enough like a model
    /// file to have one (else unchanged), so a fuzzer reaches the checks behind the checksum.
    /// Gradient features from the bytes of an index and of the .npy files it names (by name;
    /// a missing name is a missing file).
    public static func gradientFeatures(index: [UInt8], files: [String: [UInt8]]) throws -> GradientFeatures {
        let file = index.withUnsafeBytes { MappedFile(copying: $0, path: "index.json") }
        return try GradientFeaturesFile.decode(index: file, path: "index.json") { name in
            guard let bytes = files[name] else {
                throw SimfluenceError.input(file: name, line: nil, message: "cannot open: no such file")
            }
            return (name, try bytes.withUnsafeBytes { try NPY.decode($0, source: name) })
        }
    }

    public static func resealingModel(_ bytes: [UInt8]) -> [UInt8] {
        guard let nl1 = bytes.firstIndex(of: 0x0A), let nl2 = bytes[(nl1 + 1)...].firstIndex(of: 0x0A) else { return bytes }
        let hexStart = nl2 - 18
        guard hexStart > nl1 else { return bytes }
        var out = bytes
        var h = out.withUnsafeBytes { ModelFile.fnv1a64(UnsafeRawBufferPointer(rebasing: $0[0..<hexStart])) }
        h = Array(repeating: UInt8(ascii: "0"), count: 16).withUnsafeBytes { ModelFile.fnv1a64($0, hash: h) }
        h = out.withUnsafeBytes { ModelFile.fnv1a64(UnsafeRawBufferPointer(rebasing: $0[(hexStart + 16)...]), hash: h) }
        out.replaceSubrange(hexStart..<(hexStart + 16), with: Array(ModelFile.hex16(h).utf8))
        return out
    }
}
