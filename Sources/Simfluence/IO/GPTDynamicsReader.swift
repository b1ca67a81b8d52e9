/// Reads logs in GPTfluence's GPTDynamics layout:
///
///     ROOT/runs/<run>/train_samples_id.json    {"step": s, "samples_id": [id, ...]} per line
///     ROOT/runs/<run>/all_loss_trajectory.out  {"id": test_id, "loss_trajectory": [{"step": 1, "loss": x}, ...]} per line
///
/// ROOT may also be the `runs` folder itself. Losses start after step 1
/// (``TrainingRun/firstLossStep`` = 1). Runs are ordered by ``naturalOrder``; the training
/// vocabulary is every id in any curriculum, in numeric order when all are integers (else
/// natural order); test ids are in the order of the first run's loss file, and the other runs'
/// columns are rearranged to match.
public enum GPTDynamicsReader {
    /// Curriculum file name inside a run folder.
    public static let curriculumFileName = "train_samples_id.json"
    /// Default trajectory file name inside a run folder.
    public static let lossFileName = "all_loss_trajectory.out"

    /// Whether `root` looks like a GPTDynamics log (some `runs/<run>/all_loss_trajectory.out`, or
    /// `<run>/all_loss_trajectory.out` directly under `root`).
    public static func isLayout(_ root: String, lossFile: String = lossFileName) -> Bool {
        (try? runsFolder(root, lossFile: lossFile)) != nil
    }

    /// The folder holding the run folders: `root/runs`, or `root` itself when its subfolders hold
    /// loss files.
    static func runsFolder(_ root: String, lossFile: String) throws -> String {
        try Paths.requireDirectory(root, "the log folder")
        let runs = Paths.join(root, "runs")
        switch Paths.kind(runs) {
        case .directory: return runs
        case .file: throw SimfluenceError.input(file: runs, line: nil, message: "expected runs to be a directory, found a file")
        case .missing: break
        }
        for name in try Paths.subdirectories(root) where Paths.kind(Paths.join(Paths.join(root, name), lossFile)) == .file {
            return root
        }
        throw SimfluenceError.input(file: root, line: nil,
                                    message: "not a GPTDynamics log: expected a runs folder holding <run>/\(curriculumFileName) and <run>/\(lossFile)")
    }

    /// Reads the whole log. `lossFile` selects the trajectory file (for example
    /// "all_bleu_trajectory.out", whose values sit under the same "loss" key). Loss files are
    /// parsed on up to `threads` threads; the result does not depend on the thread count.
    public static func read(_ root: String, lossFile: String = lossFileName, threads: Int = Parallel.defaultThreads) throws -> TrainingLog {
        let runsDir = try runsFolder(root, lossFile: lossFile)
        let names = try Paths.subdirectories(runsDir)
        guard !names.isEmpty else {
            throw SimfluenceError.input(file: runsDir, line: nil,
                                        message: "no runs: expected run folders <run>/ holding \(curriculumFileName) and \(lossFile)")
        }
        return try assemble(names: names, threads: threads) { name, fileName in
            try MappedFile(Paths.join(Paths.join(runsDir, name), fileName == curriculumFileName ? curriculumFileName : lossFile))
        }
    }

    /// Builds the log from runs `names` (in that order); `open(run, file)` opens a run's
    /// curriculum (`file` = ``curriculumFileName``) or its loss file (``lossFileName``). The files
    /// may be real or in memory; messages name them by their `path`.
    static func assemble(names: [String], threads: Int,
                         open: (_ run: String, _ file: String) throws -> MappedFile) throws -> TrainingLog {
        struct RawRun { var name: String; var curriculum: [[String]]; var losses: Matrix }
        var raw: [RawRun] = []
        var testIDs: [String] = []
        var testIndex: [String: Int] = [:]
        var firstRun = ""
        for name in names {
            let curriculumFile = try open(name, curriculumFileName)
            let curriculum = try CurriculumFile.parseLines(curriculumFile, displayName: curriculumFile.path)
            let lossMapped = try open(name, lossFileName)
            let lossPath = lossMapped.path
            let parsed = try LossTrajectoryParser.parse(file: lossMapped, steps: curriculum.count, threads: threads)
            if raw.isEmpty {
                testIDs = parsed.ids
                testIndex = Dictionary(uniqueKeysWithValues: testIDs.enumerated().map { ($1, $0) })
                firstRun = name
            }
            // Same test set as the first run, columns in the first run's order.
            var column = [Int](repeating: 0, count: parsed.ids.count)
            for (i, id) in parsed.ids.enumerated() {
                guard let c = testIndex[id] else {
                    throw SimfluenceError.input(file: lossPath, line: parsed.lines[i],
                                                message: "test example \(JSONText.abbreviated(id)) is not recorded by run \(firstRun) (the first run); every run must record the same test examples")
                }
                column[i] = c
            }
            if parsed.ids.count < testIDs.count {
                let present = Set(parsed.ids)
                let missing = testIDs.filter { !present.contains($0) }
                throw SimfluenceError.input(file: lossPath, line: nil,
                                            message: "does not record test example \(missing[0]), which run \(firstRun) records (\(missing.count) of \(testIDs.count) test examples missing); every run must record the same test examples")
            }
            let n = testIDs.count, t = curriculum.count
            var losses = Matrix(rows: t, columns: n)
            parsed.values.withUnsafeBufferPointer { v in
                losses.storage.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n {
                        let c = column[i]
                        for k in 0..<t { out[k * n + c] = v[i * t + k] }
                    }
                }
            }
            raw.append(RawRun(name: name, curriculum: curriculum, losses: losses))
        }
        let trainIDs = ExampleIDs.sortedVocabulary(raw.lazy.flatMap { $0.curriculum.joined() })
        let index = Dictionary(uniqueKeysWithValues: trainIDs.enumerated().map { ($1, $0) })
        let runs = try raw.map { r in
            let batches = try ExampleIDs.indices(r.curriculum, index) { id, step in
                SimfluenceError.invalidArgument("internal: id \(id) of step \(step) missing from the vocabulary")
            }
            return TrainingRun(name: r.name, batches: batches, firstLossStep: 1, losses: r.losses)
        }
        return TrainingLog(trainIDs: trainIDs, testIDs: testIDs, runs: runs)
    }
}

/// Parses `all_loss_trajectory.out`-style files, lines in parallel.
enum LossTrajectoryParser {
    struct Result {
        /// Test ids in file order.
        var ids: [String]
        /// 1-based line of each test example.
        var lines: [Int]
        /// Losses, `ids.count` rows of `steps` values (row i = test example i's trajectory).
        var values: [Double]
    }

    /// Shares the output buffer between the parsing threads; each line writes only its own row.
    private enum Outcome: Sendable {
        case id(String)
        case failure(SimfluenceError)
    }

    private final class Output: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Double>
        init(_ p: UnsafeMutablePointer<Double>) { pointer = p }
    }

    static func parse(path: String, steps: Int, threads: Int) throws -> Result {
        try parse(file: try MappedFile(path), steps: steps, threads: threads)
    }

    /// Parses an open (or in-memory) loss file; `file.path` names it in errors.
    static func parse(file: MappedFile, steps: Int, threads: Int) throws -> Result {
        let path = file.path
        let base = file.base
        // Split into non-blank lines.
        var starts: [Int] = [], ends: [Int] = [], lines: [Int] = []
        var pos = 0, lineNo = 1
        let n = file.count
        while pos < n {
            var end = n
            if let nl = memchrLine(base, pos, n) { end = nl }
            var p = pos
            while p < end, base[p] == 0x20 || base[p] == 0x09 || base[p] == 0x0D { p += 1 }
            if p < end {
                starts.append(pos); ends.append(end); lines.append(lineNo)
            }
            pos = end + 1
            lineNo += 1
        }
        if starts.isEmpty {
            throw SimfluenceError.input(file: path, line: nil,
                                        message: "empty file: expected one JSON object per test example, such as {\"id\": 0, \"loss_trajectory\": [{\"step\": 1, \"loss\": 2.5}, ...]}")
        }
        let count = starts.count
        var values = [Double](repeating: 0, count: count * steps)
        // Every line is parsed (in parallel) to an id or its error; the sequential pass below then
        // reports the first problem in line order, parse errors and duplicate ids alike, exactly
        // as a sequential reader would.
        let outcomes: [Outcome] = try values.withUnsafeMutableBufferPointer { buf in
            guard let basePointer = buf.baseAddress else { return [] }
            let out = Output(basePointer)
            let useThreads = count * steps < 4096 ? 1 : threads
            let (s, e, l) = (starts, ends, lines)
            return try Parallel.map(count, threads: useThreads) { i -> Outcome in
                do {
                    return .id(try parseLine(file: file, start: s[i], end: e[i], line: l[i], path: path, steps: steps,
                                             out: out.pointer + i * steps))
                } catch let error as SimfluenceError {
                    return .failure(error)
                }
            }
        }
        var ids: [String] = []
        ids.reserveCapacity(count)
        var seen: [String: Int] = [:]
        seen.reserveCapacity(count)
        for (i, outcome) in outcomes.enumerated() {
            switch outcome {
            case .failure(let error): throw error
            case .id(let id):
                if let first = seen[id] {
                    throw SimfluenceError.input(file: path, line: lines[i],
                                                message: "test example \(JSONText.abbreviated(id)) appears again (first on line \(first)); each test example must appear once per run")
                }
                seen[id] = lines[i]
                ids.append(id)
            }
        }
        if steps == 0 || ids.count != count {
            throw SimfluenceError.input(file: path, line: nil, message: "the run has no steps")
        }
        return Result(ids: ids, lines: lines, values: values)
    }

    @inline(__always)
    private static func memchrLine(_ base: UnsafePointer<UInt8>, _ from: Int, _ n: Int) -> Int? {
        guard let p = memchr(base + from, 0x0A, n - from) else { return nil }
        return UnsafeRawPointer(p) - UnsafeRawPointer(base)
    }

    /// Parses one line into `out[0..<steps]`; returns the test id. Errors name the test example
    /// when its id can be found on the line.
    static func parseLine(file: MappedFile, start: Int, end: Int, line: Int, path: String, steps: Int,
                          out: UnsafeMutablePointer<Double>) throws -> String {
        var id: String? = nil
        do {
            return try parseLineBody(file: file, start: start, end: end, line: line, path: path, steps: steps, out: out, id: &id)
        } catch SimfluenceError.input(let f, let l, let message) {
            let known = id ?? findID(file: file, start: start, end: end, path: path)
            guard let known, !message.hasPrefix("test example") else { throw SimfluenceError.input(file: f, line: l, message: message) }
            throw SimfluenceError.input(file: f, line: l, message: "test example \(JSONText.abbreviated(known)): \(message)")
        }
    }

    /// Best-effort recovery of the "id" of a line whose parse failed (for the message only).
    private static func findID(file: MappedFile, start: Int, end: Int, path: String) -> String? {
        var s = JSONScanner(base: file.base, start: start, end: end, line: 0, file: path)
        guard (try? s.beginObject("")) != nil else { return nil }
        var started = false
        while let key = try? s.nextKey(&started) {
            if key == "id" { return try? s.readID("") }
            guard (try? s.skipValue()) != nil else { return nil }
        }
        return nil
    }

    private static func parseLineBody(file: MappedFile, start: Int, end: Int, line: Int, path: String, steps: Int,
                                      out: UnsafeMutablePointer<Double>, id: inout String?) throws -> String {
        var s = JSONScanner(base: file.base, start: start, end: end, line: line, file: path)
        try s.beginObject("each line (one test example)")
        var length: Int? = nil
        var started = false
        while let key = try s.nextRawKey(&started) {
            if key.is("id", in: s.base) {
                id = try s.readID("\"id\"")
            } else if key.is("loss_trajectory", in: s.base) {
                try s.beginArray("\"loss_trajectory\"")
                var k = 0
                var more = false
                while try s.nextElement(&more) {
                    try s.beginObject("element \(k + 1) of \"loss_trajectory\"")
                    var step: Int? = nil
                    var loss: Double? = nil
                    var inner = false
                    while let field = try s.nextRawKey(&inner) {
                        if field.is("step", in: s.base) {
                            step = try s.readInt("\"step\" of element \(k + 1) of \"loss_trajectory\"")
                        } else if field.is("loss", in: s.base) {
                            loss = try s.readDouble("\"loss\" of element \(k + 1) of \"loss_trajectory\"")
                        } else {
                            try s.skipValue()
                        }
                    }
                    guard let step else {
                        throw s.error("element \(k + 1) of \"loss_trajectory\" has no \"step\" field")
                    }
                    guard let loss else {
                        throw s.error("step \(step) of \"loss_trajectory\" has no \"loss\" field")
                    }
                    if step != k + 1 {
                        throw s.error(CurriculumFile.stepMessage(expected: k + 1, found: step))
                    }
                    if let problem = LossValues.problem(loss) {
                        throw s.error("loss at step \(step) \(problem)")
                    }
                    if k < steps { out[k] = loss }
                    k += 1
                }
                length = k
            } else {
                try s.skipValue()
            }
        }
        try s.expectEnd("the JSON object (one object per line)")
        guard let id else { throw s.error("expected an \"id\" field, found none") }
        guard let length else { throw s.error("expected a \"loss_trajectory\" field, found none") }
        if length != steps {
            throw s.error("the loss trajectory has \(length) steps, but the run's \(GPTDynamicsReader.curriculumFileName) has \(steps) steps")
        }
        return id
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
