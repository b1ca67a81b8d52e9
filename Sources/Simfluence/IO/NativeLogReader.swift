/// Reads logs in simfluence's native layout (documented in Docs/NativeLayout.md):
///
///     ROOT/simfluence-log.json          {"format": "simfluence-log", "version": 1, "test_ids": [...],
///                                        "first_loss_step": 0, "train_ids": [...], "metadata": {...}}
///     ROOT/runs/<run>/curriculum.jsonl  {"step": t, "batch": [id, ...]} per line, t = 1...T
///     ROOT/runs/<run>/losses.npy        <f8 or <f4, shape (T - first_loss_step + 1, test ids)
///
/// `first_loss_step` (default 0), `train_ids` (default: every id in any curriculum, numeric or
/// natural order) and `metadata` are optional. In a log whose metadata has `"loss_every": k`,
/// NaN rows mark steps whose losses were not recorded (not the first or last row, steps not a
/// multiple of k); they are read as the linear interpolation of the recorded rows around them.
public enum NativeLogReader {
    public static let headerFileName = "simfluence-log.json"
    public static let curriculumFileName = "curriculum.jsonl"
    public static let lossesFileName = "losses.npy"
    public static let formatName = "simfluence-log"
    public static let version = 1

    /// Whether `root` holds a native log header.
    public static func isLayout(_ root: String) -> Bool {
        Paths.kind(Paths.join(root, headerFileName)) == .file
    }

    struct Header {
        var testIDs: [String]
        var firstLossStep: Int
        var trainIDs: [String]?
        var metadata: [String: String]
    }

    static func readHeader(_ path: String) throws -> Header {
        try parseHeader(try MappedFile(path))
    }

    /// The header, from an open (or in-memory) file.
    static func parseHeader(_ file: MappedFile) throws -> Header {
        let path = file.path
        if file.isBlank {
            throw SimfluenceError.input(file: path, line: nil,
                                        message: "empty file: expected a JSON object such as {\"format\": \"simfluence-log\", \"version\": 1, \"test_ids\": [...]}")
        }
        var s = file.scanner()
        let root = try s.parseValue()
        try s.expectEnd("the header object")
        let ctx = JSONReadContext(file: path)
        let members = try ctx.object(root, "the log header")
        let format = try ctx.string(try ctx.field(members, "format", in: "the log header", line: root.line), "\"format\"")
        guard format == formatName else {
            throw ctx.fail(root.line, "expected \"format\": \"\(formatName)\", found \"\(format)\"")
        }
        let versionNode = try ctx.field(members, "version", in: "the log header", line: root.line)
        let v = try ctx.int(versionNode, "\"version\"")
        guard v <= version else {
            throw ctx.fail(versionNode.line, "this log has format version \(v), written by a newer simfluence; this build reads version \(version)")
        }
        guard v >= 1 else { throw ctx.fail(versionNode.line, "expected \"version\" to be 1, found \(v)") }

        let testNode = try ctx.field(members, "test_ids", in: "the log header", line: root.line)
        let testIDs = try ctx.array(testNode, "\"test_ids\"").map { try ctx.id($0, "each of \"test_ids\"") }
        guard !testIDs.isEmpty else { throw ctx.fail(testNode.line, "\"test_ids\" is empty: expected at least one test example") }
        if let dup = firstDuplicate(testIDs) { throw ctx.fail(testNode.line, "test id \(JSONText.abbreviated(dup)) appears twice in \"test_ids\"") }

        var first = 0
        if let node = members["first_loss_step"] {
            first = try ctx.int(node, "\"first_loss_step\"")
            guard first == 0 || first == 1 else {
                throw ctx.fail(node.line, "expected \"first_loss_step\" to be 0 (losses recorded before training) or 1, found \(first)")
            }
        }
        var trainIDs: [String]? = nil
        if let node = members["train_ids"], !node.value.isNull {
            let ids = try ctx.array(node, "\"train_ids\"").map { try ctx.id($0, "each of \"train_ids\"") }
            if let dup = firstDuplicate(ids) { throw ctx.fail(node.line, "training id \(JSONText.abbreviated(dup)) appears twice in \"train_ids\"") }
            trainIDs = ids
        }
        var metadata: [String: String] = [:]
        if let node = members["metadata"], !(node.value.isNull) {
            metadata = try ctx.metadata(node, "\"metadata\"")
        }
        return Header(testIDs: testIDs, firstLossStep: first, trainIDs: trainIDs, metadata: metadata)
    }

    /// The gap k > 1 of a log whose metadata says `"loss_every": k`, else nil (an invalid value is
    /// reported when the gap is used, see ``LossSubsampling/every(requested:log:)``).
    static func gap(_ metadata: [String: String]) -> Int? {
        guard let text = metadata["loss_every"], let k = Int(text), k > 1 else { return nil }
        return k
    }

    static func firstDuplicate(_ ids: [String]) -> String? {
        var seen = Set<String>()
        for id in ids where !seen.insert(id).inserted { return id }
        return nil
    }

    /// Reads the whole log.
    public static func read(_ root: String) throws -> TrainingLog {
        try Paths.requireDirectory(root, "the log folder")
        let headerPath = Paths.join(root, headerFileName)
        let header = try readHeader(headerPath)
        let runsDir = Paths.join(root, "runs")
        try Paths.requireDirectory(runsDir, "the runs folder")
        let names = try Paths.subdirectories(runsDir)
        guard !names.isEmpty else {
            throw SimfluenceError.input(file: runsDir, line: nil,
                                        message: "no runs: expected run folders <run>/ holding \(curriculumFileName) and \(lossesFileName)")
        }
        return try assemble(header: header, names: names) { name, fileName in
            try MappedFile(Paths.join(Paths.join(runsDir, name), fileName))
        }
    }

    /// Builds the log from `header` and runs `names` (in that order); `open(run, file)` opens a
    /// run's ``curriculumFileName`` or ``lossesFileName``, real or in memory.
    static func assemble(header: Header, names: [String],
                         open: (_ run: String, _ file: String) throws -> MappedFile) throws -> TrainingLog {
        let n = header.testIDs.count
        let f = header.firstLossStep
        let every = gap(header.metadata)
        var curricula: [[[String]]] = []
        var curriculumPaths: [String] = []
        var losses: [Matrix] = []
        for name in names {
            let curriculumFile = try open(name, curriculumFileName)
            let curriculumPath = curriculumFile.path
            let curriculum = try CurriculumFile.parseLines(curriculumFile, displayName: curriculumPath)
            let lossFile = try open(name, lossesFileName)
            let lossPath = lossFile.path
            let array = try NPY.decode(UnsafeRawBufferPointer(lossFile.buffer), source: lossPath)
            let rows = curriculum.count - f + 1
            let fitsAs1D = array.shape.count == 1 && n == 1 && array.shape[0] == rows
            guard array.shape == [rows, n] || fitsAs1D else {
                throw SimfluenceError.input(file: lossPath, line: nil,
                                            message: "expected shape \(NPY.describe(shape: [rows, n])) (losses after steps \(f)...\(curriculum.count) of the \(curriculum.count)-step curriculum, one column per test id in \(headerFileName)), found \(NPY.describe(shape: array.shape))")
            }
            // NaN marks a step whose losses were not recorded: allowed only in the rows a gapped
            // log (metadata "loss_every": k) leaves unobserved, and filled in below.
            let unrecorded: (Int) -> Bool = { k in
                guard let every, array.values[k].isNaN else { return false }
                let r = k / n
                return r != 0 && r != rows - 1 && (f + r) % every != 0
            }
            if let k = array.values.indices.first(where: { LossValues.problem(array.values[$0]) != nil && !unrecorded($0) }) {
                let r = k / n, c = k % n
                let hint = array.values[k].isNaN
                    ? (every == nil
                        ? " (NaN marks an unrecorded step only in a log whose metadata has \"loss_every\")"
                        : " (with \"loss_every\": \(every!), the first and last rows and every step that is a multiple of \(every!) must be recorded)")
                    : ""
                throw SimfluenceError.input(file: lossPath, line: nil,
                                            message: "row \(r) (loss after step \(f + r)), column \(c) (test example \(JSONText.abbreviated(header.testIDs[c]))): loss \(LossValues.problem(array.values[k]) ?? "")\(hint)")
            }
            curricula.append(curriculum)
            curriculumPaths.append(curriculumPath)
            losses.append(Matrix(rows: rows, columns: n, storage: array.values))
        }
        let trainIDs = header.trainIDs ?? ExampleIDs.sortedVocabulary(curricula.lazy.flatMap { $0.joined() })
        let index = Dictionary(uniqueKeysWithValues: trainIDs.enumerated().map { ($1, $0) })
        var runs: [TrainingRun] = []
        for (k, name) in names.enumerated() {
            let curriculumPath = curriculumPaths[k]
            let batches = try ExampleIDs.indices(curricula[k], index) { id, step in
                SimfluenceError.input(file: curriculumPath, line: nil,
                                      message: "step \(step): training example \(JSONText.abbreviated(id)) is not listed in \"train_ids\" of \(headerFileName)")
            }
            let run = TrainingRun(name: name, batches: batches, firstLossStep: f, losses: losses[k])
            // Unrecorded (NaN) rows: the linear interpolation of the recorded rows around them.
            runs.append(run.losses.storage.contains(where: \.isNaN) ? LossSubsampling.interpolated(run, every: every) : run)
        }
        return TrainingLog(trainIDs: trainIDs, testIDs: header.testIDs, runs: runs, metadata: header.metadata)
    }
}

extension JSONValue {
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
