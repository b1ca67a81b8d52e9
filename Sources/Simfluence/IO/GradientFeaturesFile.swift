import Foundation

/// Reads and writes gradient features (per-example loss gradients at checkpoints of a reference
/// run, for TracIn-CP, Grad-Dot and influence functions) in the layout of Docs/GradientFeatures.md:
///
///     DIR/index.json              {"format": "simfluence-gradients", "version": 1, "batch_size": b,
///                                  "train_ids": [...], "test_ids": [...], "checkpoints": [
///                                    {"step": s, "learning_rate": lr, "steps_covered": n,
///                                     "train": "ckpt0_train.npy", "test": "ckpt0_test.npy"}, ...],
///                                  "dimension": d, "projection": {...}, "metadata": {...}}
///     DIR/ckpt<k>_train.npy       (train ids x d), <f4 or <f8, C order
///     DIR/ckpt<k>_test.npy        (test ids x d)
///
/// `DIR` is conventionally `<log>/gradients`.
public enum GradientFeaturesFile {
    public static let indexFileName = "index.json"
    public static let formatName = "simfluence-gradients"
    public static let version = 1
    /// The folder name, inside a log, where `simfluence train` writes gradient features.
    public static let folderName = "gradients"

    /// Whether `dir` holds a gradient-features index.
    public static func isPresent(_ dir: String) -> Bool {
        Paths.kind(Paths.join(dir, indexFileName)) == .file
    }

    /// The features beside the log at `logPath`: its gradients/ folder (inside the log folder, or
    /// beside a runs/ folder given as the log), or nil when there is none.
    public static func find(forLog logPath: String) throws -> GradientFeatures? {
        let root = URL(fileURLWithPath: logPath)
        for candidate in [root, root.deletingLastPathComponent()] {
            let dir = candidate.appendingPathComponent(folderName).path
            if isPresent(dir) { return try read(dir) }
        }
        return nil
    }

    /// Reads the features in `dir` (the folder holding index.json, or index.json itself).
    public static func read(_ dir: String) throws -> GradientFeatures {
        let folder = dir.hasSuffix("/" + indexFileName) || dir == indexFileName
            ? String(dir.dropLast(indexFileName.count)).trimmingSuffix("/") : dir
        let path = Paths.join(folder.isEmpty ? "." : folder, indexFileName)
        return try decode(index: try MappedFile(path), path: path) { name in
            let npyPath = Paths.join(folder.isEmpty ? "." : folder, name)
            return (npyPath, try NPY.read(npyPath))
        }
    }

    /// Decodes an index file and its matrices; `matrix(name)` reads the .npy the index names
    /// (returning the path it stands for, for messages).
    static func decode(index file: MappedFile, path: String,
                       matrix readNPY: (String) throws -> (path: String, array: NPYArray)) throws -> GradientFeatures {
        if file.isBlank { throw SimfluenceError.input(file: path, line: nil, message: "empty file: expected the gradient-features index object") }
        var s = file.scanner()
        let root = try s.parseValue()
        try s.expectEnd("the index object")
        let ctx = JSONReadContext(file: path)
        let m = try ctx.object(root, "the gradient-features index")
        let format = try ctx.string(try ctx.field(m, "format", in: "the index", line: root.line), "\"format\"")
        guard format == formatName else { throw ctx.fail(root.line, "expected \"format\": \"\(formatName)\", found \"\(format)\"") }
        let versionNode = try ctx.field(m, "version", in: "the index", line: root.line)
        let v = try ctx.int(versionNode, "\"version\"")
        guard v == version else { throw ctx.fail(versionNode.line, "expected \"version\": \(version), found \(v)") }
        let batchNode = try ctx.field(m, "batch_size", in: "the index", line: root.line)
        let batchSize = try ctx.int(batchNode, "\"batch_size\"")
        guard batchSize >= 1, batchSize <= GradientFeatures.largestCount else {
            throw ctx.fail(batchNode.line, "\"batch_size\" must be between 1 and \(GradientFeatures.largestCount), found \(batchSize)")
        }
        let trainIDs = try ctx.array(try ctx.field(m, "train_ids", in: "the index", line: root.line), "\"train_ids\"")
            .map { try ctx.id($0, "each of \"train_ids\"") }
        let testIDs = try ctx.array(try ctx.field(m, "test_ids", in: "the index", line: root.line), "\"test_ids\"")
            .map { try ctx.id($0, "each of \"test_ids\"") }
        let checkpointNodes = try ctx.array(try ctx.field(m, "checkpoints", in: "the index", line: root.line), "\"checkpoints\"")
        guard !checkpointNodes.isEmpty else { throw ctx.fail(root.line, "\"checkpoints\" is empty: expected at least one checkpoint") }
        var checkpoints: [GradientCheckpoint] = []
        for node in checkpointNodes {
            let c = try ctx.object(node, "each checkpoint")
            let what = "checkpoint \(checkpoints.count)"
            let step = try ctx.int(try ctx.field(c, "step", in: what, line: node.line), "\"step\"")
            let lr = try ctx.finite(try ctx.field(c, "learning_rate", in: what, line: node.line), "\"learning_rate\"")
            let covered = try ctx.int(try ctx.field(c, "steps_covered", in: what, line: node.line), "\"steps_covered\"")
            guard step >= 0, covered >= 0, lr >= 0 else {
                throw ctx.fail(node.line, "\(what): \"step\", \"steps_covered\" and \"learning_rate\" must be >= 0")
            }
            guard step <= GradientFeatures.largestCount, covered <= GradientFeatures.largestCount else {
                throw ctx.fail(node.line, "\(what): \"step\" and \"steps_covered\" must be at most \(GradientFeatures.largestCount) (found \(step) and \(covered))")
            }
            func matrix(_ key: String, rows: Int) throws -> Matrix {
                let name = try ctx.string(try ctx.field(c, key, in: what, line: node.line), "\"\(key)\"")
                let (npyPath, array) = try readNPY(name)
                guard array.shape.count == 2, array.shape[0] == rows else {
                    throw SimfluenceError.input(file: npyPath, line: nil,
                                                message: "expected a 2-D matrix with \(rows) rows (one per id in \"\(key)_ids\" of \(indexFileName)), found shape \(NPY.describe(shape: array.shape))")
                }
                if let k = array.values.firstIndex(where: { !$0.isFinite }) {
                    throw SimfluenceError.input(file: npyPath, line: nil,
                                                message: "row \(k / array.shape[1]), column \(k % array.shape[1]): gradient is not finite (\(array.values[k]))")
                }
                return array.matrix
            }
            let train = try matrix("train", rows: trainIDs.count)
            let test = try matrix("test", rows: testIDs.count)
            checkpoints.append(GradientCheckpoint(step: step, learningRate: lr, stepsCovered: covered, train: train, test: test))
        }
        var metadata: [String: String] = [:]
        if let node = m["metadata"], !node.value.isNull { metadata = try ctx.metadata(node, "\"metadata\"") }
        if let node = m["projection"], !node.value.isNull { metadata["projection"] = node.value.compactText }
        let features = GradientFeatures(trainIDs: trainIDs, testIDs: testIDs, batchSize: batchSize,
                                        checkpoints: checkpoints, metadata: metadata)
        do { try features.validate() } catch let error as SimfluenceError {
            throw SimfluenceError.input(file: path, line: nil, message: error.description)
        }
        return features
    }

    /// Writes `features` into `dir` (created if needed): every matrix atomically, the index last.
    public static func write(_ features: GradientFeatures, to dir: String, dtype: NPYDType = .float64) throws {
        try Paths.createDirectory(dir)
        var entries: [String] = []
        for (k, c) in features.checkpoints.enumerated() {
            let train = "ckpt\(k)_train.npy", test = "ckpt\(k)_test.npy"
            try NPY.write(c.train, dtype: dtype, to: Paths.join(dir, train))
            try NPY.write(c.test, dtype: dtype, to: Paths.join(dir, test))
            var lr = ""
            c.learningRate.write(to: &lr)
            entries.append("{\"step\": \(c.step), \"learning_rate\": \(lr), \"steps_covered\": \(c.stepsCovered), \"train\": \(JSONText.quoted(train)), \"test\": \(JSONText.quoted(test))}")
        }
        let projection = features.metadata["projection"].flatMap { $0.hasPrefix("{") ? $0 : nil } ?? "{\"kind\": \"none\"}"
        var metadata = features.metadata
        metadata["projection"] = nil
        let index = """
            {"format": \(JSONText.quoted(formatName)), "version": \(version), "batch_size": \(features.batchSize), \
            "dimension": \(features.dimension),
             "train_ids": \(JSONText.stringArray(features.trainIDs)),
             "test_ids": \(JSONText.stringArray(features.testIDs)),
             "projection": \(projection),
             "checkpoints": [
              \(entries.joined(separator: ",\n  "))],
             "metadata": \(JSONText.stringObject(metadata))}

            """
        try AtomicFile.write(to: Paths.join(dir, indexFileName)) { try $0.write(index) }
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
