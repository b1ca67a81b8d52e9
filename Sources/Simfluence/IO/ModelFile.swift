import Foundation

/// The single-file format of a ``FittedSimulator``:
///
///     SIMFLUENCE-MODEL 1\n
///     {"format":"simfluence-model","version":1,"method":...,"form":...,"lambda":...,"train_ids":[...],
///      "test_ids":[...],"seen":[...],"fitted_on":[...],"metadata":{...},"starting_step":0|1,
///      "starting_losses":[...],
///      "payload":{"encoding":"float64-le","layout":"A then B, each tests x train, row-major",
///                 "rows":R,"columns":C,"bytes":N},"checksum":"fnv1a64:<16 hex digits>"}\n
///     <N bytes: A then B as little-endian float64, row-major>
///
/// A stack (``StackMethod``) stores no A and B: its header has a member
/// `"stack":{"methods":[...],"weights":[...],"bytes":[...]}` before `"payload"`, and its payload
/// is its components' own model files (each complete, with its own checksum), one after another,
/// of the given sizes.
///
/// Extended simulators (per-step terms, loss bounds; see Docs/Methods.md) add a header member
/// `"extended":{"step_columns":S,"bounds":true|false}` (and `"carry":rho` when the additive
/// effects carry over, rho != 0; `"lag_kernel":{"starts":[...],"weights":[...]}` for a
/// ``LagKernel``, with `"loss_scale":tau` when its effects scale with the loss and `"saturation":e`
/// when batch entries are weighted by ``Saturation``) before `"payload"`, and append to the
/// payload, after A and B: the step terms u then v (each tests x S, row-major) and, with bounds,
/// the lower then upper loss bound of every test example. Files without the member are read as
/// before (and plain simulators are written exactly as before).
///
/// The JSON header is a single line, with `"checksum"` as its last field. The checksum is the
/// 64-bit FNV-1a hash of the whole file with those 16 hex digits replaced by ASCII '0', so any
/// corruption of the magic line, the header or the payload is detected (a single changed byte
/// always changes FNV-1a). Ids are always JSON strings here, preserved exactly; `lambda` is a
/// number with round-trip precision, `null`, or one of the strings "nan", "inf", "-inf".
/// Parameters round-trip bit for bit.
public enum ModelFile {
    public static let magic = "SIMFLUENCE-MODEL"
    public static let formatName = "simfluence-model"
    public static let version = 1
    static let checksumPrefix = "fnv1a64:"

    /// Writes `sim` atomically to `path` (whose directory must exist), after checking that the
    /// file will load: a model the loader would refuse (repeated ids) is not written.
    public static func write(_ sim: FittedSimulator, to path: String) throws {
        try validate(sim, source: path)
        try writeStreaming(sim, to: path)
    }

    /// The loader's checks of ids, for a model about to be written.
    static func validate(_ sim: FittedSimulator, source: String) throws {
        if let dup = NativeLogReader.firstDuplicate(sim.trainIDs) {
            throw SimfluenceError.invalidArgument("not writing \(source): training id \(JSONText.abbreviated(dup)) appears twice")
        }
        if let dup = NativeLogReader.firstDuplicate(sim.testIDs) {
            throw SimfluenceError.invalidArgument("not writing \(source): test id \(JSONText.abbreviated(dup)) appears twice")
        }
    }

    /// Reads and verifies a model file; its method must be one of `registry`'s.
    public static func read(_ path: String, registry: MethodRegistry = .builtIn) throws -> FittedSimulator {
        let file = try MappedFile(path)
        return try decode(UnsafeRawBufferPointer(file.buffer), source: path, registry: registry)
    }

    /// The file's bytes.
    public static func encode(_ sim: FittedSimulator) -> Data {
        let parts = payloadParts(sim)
        let nested = sim.components.map { encode($0.simulator) }
        let nestedBytes = nested.reduce(0) { $0 + $1.count }
        var out = Data(headerThroughChecksumPrefix(sim, payloadBytes: 8 * parts.reduce(0) { $0 + $1.count } + nestedBytes,
                                                   componentBytes: nested.map(\.count)))
        let hexStart = out.count
        out.append(contentsOf: Array(repeating: UInt8(ascii: "0"), count: 16))
        out.append(contentsOf: Array("\"}\n".utf8))
        let payloadStart = out.count
        out.count += 8 * parts.reduce(0) { $0 + $1.count }
        out.withUnsafeMutableBytes { raw in
            var offset = payloadStart
            for m in parts {
                for v in m {
                    raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: offset, as: UInt64.self)
                    offset += 8
                }
            }
        }
        for part in nested { out.append(part) }
        let sum = out.withUnsafeBytes { fnv1a64($0) }
        let hex = Array(hex16(sum).utf8)
        out.replaceSubrange(hexStart..<(hexStart + 16), with: hex)
        return out
    }

    /// The payload's arrays in file order: A and B, then for extended simulators the step terms u
    /// and v (when there are step columns) and the lower and upper loss bounds (when bounded);
    /// none for a stack, whose payload is its components' files.
    static func payloadParts(_ sim: FittedSimulator) -> [[Double]] {
        guard sim.components.isEmpty else { return [] }
        var parts = [sim.a.storage, sim.b.storage]
        if let u = sim.stepAlpha, u.columns > 0 {
            parts.append(u.storage)
            parts.append(sim.stepBeta?.storage ?? [Double](repeating: 0, count: sim.testIDs.count * u.columns))
        }
        if let lower = sim.lossLower, let upper = sim.lossUpper { parts += [lower, upper] }
        return parts
    }

    /// The magic line and the JSON header up to and including `"checksum":"fnv1a64:`;
    /// `componentBytes` are the sizes of a stack's component files.
    static func headerThroughChecksumPrefix(_ sim: FittedSimulator, payloadBytes: Int, componentBytes: [Int] = []) -> [UInt8] {
        let rows = sim.testIDs.count, columns = sim.trainIDs.count
        let stepColumns = sim.stepAlpha?.columns ?? 0
        let bounded = sim.lossLower != nil && sim.lossUpper != nil
        let lambda: String
        switch sim.lambda {
        case nil: lambda = "null"
        case let l? where l.isNaN: lambda = "\"nan\""
        case let l? where l.isInfinite: lambda = l > 0 ? "\"inf\"" : "\"-inf\""
        case let l?: lambda = JSONText.number(l)
        }
        func strings(_ a: [String]) -> String { "[" + a.map(JSONText.quoted).joined(separator: ",") + "]" }
        var header = "{\"format\":\"\(formatName)\",\"version\":\(version)"
        header += ",\"method\":\(JSONText.quoted(sim.method.name)),\"form\":\(JSONText.quoted(sim.form.rawValue)),\"lambda\":\(lambda)"
        header += ",\"train_ids\":\(strings(sim.trainIDs)),\"test_ids\":\(strings(sim.testIDs))"
        header += ",\"seen\":[" + sim.seen.map { $0 ? "true" : "false" }.joined(separator: ",") + "]"
        header += ",\"fitted_on\":\(strings(sim.fittedOn))"
        header += ",\"metadata\":{" + sim.metadata.keys.sorted().map { JSONText.quoted($0) + ":" + JSONText.quoted(sim.metadata[$0] ?? "") }.joined(separator: ",") + "}"
        header += ",\"starting_step\":\(sim.startingStep),\"starting_losses\":["
        header += sim.startingLosses.map { $0.isFinite ? JSONText.number($0) : "null" }.joined(separator: ",") + "]"
        if sim.isExtended {
            header += ",\"extended\":{\"step_columns\":\(stepColumns),\"bounds\":\(bounded)"
            if sim.carry != 0 { header += ",\"carry\":\(JSONText.number(sim.carry))" }
            if let k = sim.lagKernel {
                header += ",\"lag_kernel\":{\"starts\":[" + k.starts.map(String.init).joined(separator: ",") + "],\"weights\":["
                header += k.weights.map(JSONText.number).joined(separator: ",") + "]"
                if k.lossScale != 0 { header += ",\"loss_scale\":" + JSONText.number(k.lossScale) }
                if k.saturation != 0 { header += ",\"saturation\":" + JSONText.number(k.saturation) }
                header += "}"
            }
            header += "}"
        }
        if !sim.components.isEmpty {
            header += ",\"stack\":{\"methods\":\(strings(sim.components.map(\.simulator.method.name)))"
            header += ",\"weights\":[" + sim.components.map { JSONText.number($0.weight) }.joined(separator: ",") + "]"
            header += ",\"bytes\":[" + componentBytes.map(String.init).joined(separator: ",") + "]}"
        }
        header += ",\"payload\":{\"encoding\":\"float64-le\",\"layout\":\"A then B, each tests x train, row-major\""
        header += ",\"rows\":\(rows),\"columns\":\(columns),\"bytes\":\(payloadBytes)}"
        header += ",\"checksum\":\"\(checksumPrefix)"
        return Array("\(magic) \(version)\n".utf8) + Array(header.utf8)
    }

    /// FNV-1a, 64 bit, over `bytes`, continuing from `hash`.
    static func fnv1a64(_ bytes: UnsafeRawBufferPointer, hash: UInt64 = 0xcbf29ce484222325) -> UInt64 {
        var h = hash
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100000001b3
        }
        return h
    }

    static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Decodes and verifies model-file bytes; `source` names them in errors, `registry` the
    /// methods the file may name. Steps: the magic line, the header line and its checksum, the
    /// header's fields, the payload.
    public static func decode(_ bytes: UnsafeRawBufferPointer, source: String,
                              registry: MethodRegistry = .builtIn) throws -> FittedSimulator {
        try decode(bytes, source: source, registry: registry, component: false)
    }

    /// ``decode(_:source:registry:)`` of a whole file, or of a stack's component (`component`),
    /// which may not be a stack itself: refused from its header, before its payload is read, so
    /// a file cannot nest stacks to any depth.
    private static func decode(_ bytes: UnsafeRawBufferPointer, source: String, registry: MethodRegistry,
                               component: Bool) throws -> FittedSimulator {
        let (fileVersion, headerStart) = try magicLine(bytes, source: source)
        let header = try headerLine(bytes, start: headerStart, source: source)
        let fields = try headerFields(header, fileVersion: fileVersion, source: source, registry: registry)
        if component && !fields.stackWeights.isEmpty {
            throw SimfluenceError.input(file: source, line: 2, message: "a stack's component is itself a stack; components must be single simulators")
        }
        return try payload(bytes, start: header.payloadStart, fields: fields, source: source, registry: registry)
    }

    /// Line 1: the magic and the format version; returns the version and where line 2 starts.
    private static func magicLine(_ bytes: UnsafeRawBufferPointer, source: String) throws -> (version: Int, next: Int) {
        func fail(_ line: Int?, _ m: String) -> SimfluenceError { .input(file: source, line: line, message: m) }
        let n = bytes.count
        guard n > 0 else { throw fail(nil, "empty file: expected a simfluence model (first line '\(magic) \(version)')") }
        let prefix = Array("\(magic) ".utf8)
        let head = Array(bytes.prefix(prefix.count))
        guard head == Array(prefix.prefix(head.count)), n > prefix.count else {
            if head == Array(prefix.prefix(head.count)) {
                throw fail(1, "truncated: the file ends after \(n) bytes, inside the first line")
            }
            let shown = String(decoding: bytes.prefix(24).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw fail(1, "not a simfluence model file: expected it to start with '\(magic) \(version)', found '\(shown)'")
        }
        guard let nl1 = bytes[prefix.count...].prefix(32).firstIndex(of: 0x0A) else {
            if n < prefix.count + 32 { throw fail(1, "truncated: the file ends after \(n) bytes, inside the first line") }
            throw fail(1, "malformed first line: expected '\(magic) \(version)'")
        }
        let versionText = String(decoding: bytes[prefix.count..<nl1], as: UTF8.self)
        guard let fileVersion = Int(versionText), fileVersion >= 1 else {
            throw fail(1, "malformed first line: expected '\(magic) <version>', found version '\(versionText)'")
        }
        guard fileVersion <= version else {
            throw fail(1, "model format version \(fileVersion) was written by a newer simfluence; this build reads version \(version)")
        }
        return (fileVersion, nl1 + 1)
    }

    /// The parsed header line, verified against the payload size and the checksum.
    private struct HeaderLine {
        var members: [JSONMember]
        var payload: [JSONMember]
        var payloadBytes: Int
        var payloadStart: Int
    }

    /// Line 2: the JSON header ending with the checksum field; checks the payload's size and the
    /// checksum over the whole file.
    private static func headerLine(_ bytes: UnsafeRawBufferPointer, start headerStart: Int, source: String) throws -> HeaderLine {
        func fail(_ line: Int?, _ m: String) -> SimfluenceError { .input(file: source, line: line, message: m) }
        let n = bytes.count
        guard let nl2 = bytes[headerStart...].firstIndex(of: 0x0A) else {
            throw fail(2, "truncated: the header line is incomplete (the file ends after \(n) bytes)")
        }
        let suffixHead = Array("\"checksum\":\"\(checksumPrefix)".utf8)
        let suffixLength = suffixHead.count + 16 + 2
        guard nl2 - headerStart >= suffixLength,
              Array(bytes[(nl2 - suffixLength)..<(nl2 - 18)]) == suffixHead,
              Array(bytes[(nl2 - 2)..<nl2]) == Array("\"}".utf8) else {
            throw fail(2, "corrupted header: expected it to end with the \"checksum\" field")
        }
        let hexStart = nl2 - 18
        let storedHex = String(decoding: bytes[hexStart..<(hexStart + 16)], as: UTF8.self)
        let header: JSONNode
        do {
            guard let base = bytes.baseAddress else { throw fail(nil, "empty file") }
            var s = JSONScanner(base: base.assumingMemoryBound(to: UInt8.self), start: headerStart, end: nl2, line: 2, file: source)
            header = try s.parseValue()
            try s.expectEnd("the header object")
        } catch let SimfluenceError.input(_, line, message) {
            throw fail(line, "corrupted header: \(message)")
        }
        let ctx = JSONReadContext(file: source)
        let members = try ctx.object(header, "the header")
        let payload = try ctx.object(try ctx.field(members, "payload", in: "the header", line: 2), "\"payload\"")
        let payloadBytes = try ctx.int(try ctx.field(payload, "bytes", in: "\"payload\"", line: 2), "\"payload\".\"bytes\"")
        let payloadStart = nl2 + 1
        let found = n - payloadStart
        if found < payloadBytes {
            throw fail(nil, "truncated: the header promises \(payloadBytes) payload bytes, but only \(found) follow it")
        }
        if found > payloadBytes {
            throw fail(nil, "corrupted: \(found - payloadBytes) unexpected bytes after the \(payloadBytes)-byte payload")
        }
        // Checksum over everything, with the stored digits read as zeros.
        var h = fnv1a64(UnsafeRawBufferPointer(rebasing: bytes[0..<hexStart]))
        h = Array(repeating: UInt8(ascii: "0"), count: 16).withUnsafeBytes { fnv1a64($0, hash: h) }
        h = fnv1a64(UnsafeRawBufferPointer(rebasing: bytes[(hexStart + 16)...]), hash: h)
        guard storedHex == hex16(h) else {
            throw fail(nil, "checksum mismatch (stored \(checksumPrefix)\(storedHex), computed \(checksumPrefix)\(hex16(h))): the file is corrupted")
        }
        return HeaderLine(members: members, payload: payload, payloadBytes: payloadBytes, payloadStart: payloadStart)
    }

    /// The header's fields, checked against each other (the checksum holds, so what follows
    /// checks a file another program may have written).
    private struct HeaderFields {
        var method: MethodName, form: RecurrenceForm, lambda: Double?
        var trainIDs: [String], testIDs: [String], seen: [Bool], fittedOn: [String]
        var provenance: FitProvenance
        var startingStep: Int, startingLosses: [Double]
        var stepColumns = 0, bounded = false, carry = 0.0
        var lagKernel: LagKernel?
        /// A stack's component weights and file sizes (empty otherwise).
        var stackWeights: [Double] = [], stackBytes: [Int] = []
        var payloadBytes: Int
    }

    private static func headerFields(_ header: HeaderLine, fileVersion: Int, source: String,
                                     registry: MethodRegistry) throws -> HeaderFields {
        func fail(_ line: Int?, _ m: String) -> SimfluenceError { .input(file: source, line: line, message: m) }
        let ctx = JSONReadContext(file: source)
        let members = header.members
        func field(_ k: String) throws -> JSONNode { try ctx.field(members, k, in: "the header", line: 2) }
        guard try ctx.string(try field("format"), "\"format\"") == formatName else {
            throw fail(2, "expected \"format\": \"\(formatName)\"")
        }
        let headerVersion = try ctx.int(try field("version"), "\"version\"")
        guard headerVersion == fileVersion else {
            throw fail(2, "the header says version \(headerVersion) but the first line says \(fileVersion)")
        }
        let methodText = try ctx.string(try field("method"), "\"method\"")
        guard let method = registry.method(named: methodText) else {
            throw fail(2, "unknown \"method\" \"\(JSONText.abbreviated(methodText))\": this build knows \(registry.methods.map(\.name).joined(separator: ", "))")
        }
        let formText = try ctx.string(try field("form"), "\"form\"")
        guard let form = RecurrenceForm(rawValue: formText) else {
            throw fail(2, "unknown \"form\" \"\(formText)\": expected one of \(RecurrenceForm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let lambda = try lambdaField(try field("lambda"), fail: fail)
        let trainIDs = try ctx.array(try field("train_ids"), "\"train_ids\"").map { try ctx.id($0, "each of \"train_ids\"") }
        let testIDs = try ctx.array(try field("test_ids"), "\"test_ids\"").map { try ctx.id($0, "each of \"test_ids\"") }
        let seen = try ctx.array(try field("seen"), "\"seen\"").map { node -> Bool in
            guard case .bool(let b) = node.value else { throw fail(2, "expected each of \"seen\" to be true or false, found \(node.value.kind)") }
            return b
        }
        let fittedOn = try ctx.array(try field("fitted_on"), "\"fitted_on\"").map { try ctx.string($0, "each of \"fitted_on\"") }
        var metadata: [String: String] = [:]
        if let node = members["metadata"], !node.value.isNull { metadata = try ctx.metadata(node, "\"metadata\"") }
        let provenance: FitProvenance
        do {
            provenance = try FitProvenance(metadata: metadata)
        } catch SimfluenceError.invalidArgument(let message) {
            throw fail(2, message)
        }
        // Where a simulation without given starting losses starts. Models written before these
        // fields existed would silently start every simulation from a loss of 0: refuse them.
        guard members["starting_losses"] != nil, members["starting_step"] != nil else {
            throw fail(2, "the header has no \"starting_step\"/\"starting_losses\" (written by an earlier simfluence build that did not record where simulations start); refit the model")
        }
        let startingStep = try ctx.int(try field("starting_step"), "\"starting_step\"")
        guard startingStep == 0 || startingStep == 1 else {
            throw fail(2, "expected \"starting_step\" to be 0 or 1, found \(startingStep)")
        }
        let startingLosses = try ctx.array(try field("starting_losses"), "\"starting_losses\"").map { node -> Double in
            if node.value.isNull { return .nan }
            guard let v = node.value.double else {
                throw fail(2, "expected each of \"starting_losses\" to be a number or null, found \(node.value.kind)")
            }
            return v
        }
        guard startingLosses.count == testIDs.count else {
            throw fail(2, "\"starting_losses\" has \(startingLosses.count) values for \(testIDs.count) test ids")
        }
        let encoding = try ctx.string(try ctx.field(header.payload, "encoding", in: "\"payload\"", line: 2), "\"payload\".\"encoding\"")
        guard encoding == "float64-le" else { throw fail(2, "unsupported payload encoding \"\(encoding)\": expected \"float64-le\"") }
        let rows = try ctx.int(try ctx.field(header.payload, "rows", in: "\"payload\"", line: 2), "\"payload\".\"rows\"")
        let columns = try ctx.int(try ctx.field(header.payload, "columns", in: "\"payload\"", line: 2), "\"payload\".\"columns\"")
        guard rows == testIDs.count, columns == trainIDs.count else {
            throw fail(2, "the payload is \(rows) x \(columns) but there are \(testIDs.count) test ids and \(trainIDs.count) training ids")
        }
        guard seen.count == columns else {
            throw fail(2, "\"seen\" has \(seen.count) flags for \(columns) training ids")
        }
        // Ids index the parameters: a repeated id would make them ambiguous (and crash lookups).
        if let dup = NativeLogReader.firstDuplicate(trainIDs) {
            throw fail(2, "training id \(JSONText.abbreviated(dup)) appears twice in \"train_ids\"")
        }
        if let dup = NativeLogReader.firstDuplicate(testIDs) {
            throw fail(2, "test id \(JSONText.abbreviated(dup)) appears twice in \"test_ids\"")
        }
        var fields = HeaderFields(method: method, form: form, lambda: lambda, trainIDs: trainIDs, testIDs: testIDs, seen: seen,
                                  fittedOn: fittedOn, provenance: provenance, startingStep: startingStep,
                                  startingLosses: startingLosses, payloadBytes: header.payloadBytes)
        if let node = members["extended"], !node.value.isNull {
            let ext = try ctx.object(node, "\"extended\"")
            fields.stepColumns = try ctx.int(try ctx.field(ext, "step_columns", in: "\"extended\"", line: 2), "\"extended\".\"step_columns\"")
            if let bn = ext["bounds"], case .bool(let b) = bn.value { fields.bounded = b }
            if let cn = ext["carry"], !cn.value.isNull {
                guard let c = cn.value.double, c >= 0 && c < 1 else {
                    throw fail(2, "\"extended\".\"carry\" must be a number in [0, 1)")
                }
                fields.carry = c
            }
            if let kn = ext["lag_kernel"], !kn.value.isNull {
                fields.lagKernel = try lagKernelField(kn, ctx: ctx, fail: fail)
                guard fields.carry == 0 else {
                    throw fail(2, "\"extended\" has both \"carry\" and \"lag_kernel\": a simulator spreads its effects by one or the other")
                }
            }
            guard fields.stepColumns >= 0 && fields.stepColumns < 1 << 30 else { throw fail(2, "\"extended\".\"step_columns\" is out of range") }
        }
        if let node = members["stack"], !node.value.isNull {
            let stack = try ctx.object(node, "\"stack\"")
            fields.stackWeights = try ctx.array(try ctx.field(stack, "weights", in: "\"stack\"", line: 2), "\"stack\".\"weights\"").map { node in
                guard let w = node.value.double, w.isFinite, w >= 0 else { throw fail(2, "\"stack\".\"weights\" must hold finite numbers >= 0") }
                return w
            }
            fields.stackBytes = try ctx.array(try ctx.field(stack, "bytes", in: "\"stack\"", line: 2), "\"stack\".\"bytes\"").map { node in
                let b = try ctx.int(node, "each of \"stack\".\"bytes\"")
                guard b > 0 && b <= header.payloadBytes else { throw fail(2, "\"stack\".\"bytes\" must hold sizes between 1 and the payload's") }
                return b
            }
            guard !fields.stackWeights.isEmpty, fields.stackWeights.count == fields.stackBytes.count else {
                throw fail(2, "\"stack\" needs one weight and one size per component, and at least one component")
            }
            guard members["extended"] == nil || members["extended"]!.value.isNull else {
                throw fail(2, "a stack has no \"extended\" terms of its own: its components carry them")
            }
        }
        return fields
    }

    /// `"extended"."lag_kernel"`: bins starting at 0 and increasing, one finite weight each.
    private static func lagKernelField(_ node: JSONNode, ctx: JSONReadContext, fail: (Int?, String) -> SimfluenceError) throws -> LagKernel {
        let what = "\"extended\".\"lag_kernel\""
        let object = try ctx.object(node, what)
        let starts = try ctx.array(try ctx.field(object, "starts", in: what, line: 2), what + ".\"starts\"").map {
            try ctx.int($0, what + ".\"starts\"")
        }
        let weights = try ctx.array(try ctx.field(object, "weights", in: what, line: 2), what + ".\"weights\"").map { node in
            guard let w = node.value.double, w.isFinite else { throw fail(2, what + ".\"weights\" must hold finite numbers") }
            return w
        }
        guard starts.first == 0, starts.count == weights.count, zip(starts, starts.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw fail(2, what + " needs one weight per bin and bins starting at lag 0, at increasing lags")
        }
        var lossScale = 0.0
        if let node = object["loss_scale"], !node.value.isNull {
            guard let tau = node.value.double, tau.isFinite, tau >= 0 else {
                throw fail(2, what + ".\"loss_scale\" must be a finite number >= 0")
            }
            lossScale = tau
        }
        var saturation = 0.0
        if let node = object["saturation"], !node.value.isNull {
            guard let e = node.value.double, e.isFinite, e >= 0 else {
                throw fail(2, what + ".\"saturation\" must be a finite number >= 0")
            }
            saturation = e
        }
        return LagKernel(starts: starts, weights: weights, lossScale: lossScale, saturation: saturation)
    }

    /// `"lambda"`: a number, null, or "nan" / "inf" / "-inf".
    private static func lambdaField(_ node: JSONNode, fail: (Int?, String) -> SimfluenceError) throws -> Double? {
        switch node.value {
        case .null: return nil
        case .string("nan"): return .nan
        case .string("inf"): return .infinity
        case .string("-inf"): return -.infinity
        default:
            guard let l = node.value.double else {
                throw fail(2, "expected \"lambda\" to be a number or null, found \(node.value.kind)")
            }
            return l
        }
    }

    /// The payload: A and B, then the step terms and the loss bounds of extended simulators.
    private static func payload(_ bytes: UnsafeRawBufferPointer, start payloadStart: Int, fields f: HeaderFields,
                                source: String, registry: MethodRegistry) throws -> FittedSimulator {
        if !f.stackWeights.isEmpty { return try stackPayload(bytes, start: payloadStart, fields: f, source: source, registry: registry) }
        let rows = f.testIDs.count, columns = f.trainIDs.count
        let (cells, o1) = rows.multipliedReportingOverflow(by: columns)
        let (abBytes, o2) = cells.multipliedReportingOverflow(by: 16)
        let (stepCells, o3) = rows.multipliedReportingOverflow(by: f.stepColumns)
        let extraBytes = (2 * stepCells + (f.bounded ? 2 * rows : 0)) * 8
        let expected = abBytes + extraBytes
        guard !o1, !o2, !o3, expected == f.payloadBytes else {
            throw SimfluenceError.input(file: source, line: 2, message:
                "the payload should hold 2 x \(rows) x \(columns) float64 values (\(expected) bytes), but the header says \(f.payloadBytes) bytes")
        }
        func values(at start: Int, count: Int) -> [Double] {
            (0..<count).map { k in
                Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 8 * k, as: UInt64.self)))
            }
        }
        var sim = FittedSimulator(method: f.method, form: f.form, lambda: f.lambda, trainIDs: f.trainIDs, testIDs: f.testIDs,
                                  a: Matrix(rows: rows, columns: columns, storage: values(at: payloadStart, count: cells)),
                                  b: Matrix(rows: rows, columns: columns, storage: values(at: payloadStart + 8 * cells, count: cells)),
                                  seen: f.seen, fittedOn: f.fittedOn, startingStep: f.startingStep,
                                  startingLosses: f.startingLosses, provenance: f.provenance)
        var offset = payloadStart + 16 * cells
        if f.stepColumns > 0 {
            sim.stepAlpha = Matrix(rows: rows, columns: f.stepColumns, storage: values(at: offset, count: stepCells))
            offset += 8 * stepCells
            sim.stepBeta = Matrix(rows: rows, columns: f.stepColumns, storage: values(at: offset, count: stepCells))
            offset += 8 * stepCells
        }
        if f.bounded {
            sim.lossLower = values(at: offset, count: rows)
            sim.lossUpper = values(at: offset + 8 * rows, count: rows)
        }
        sim.carry = f.carry
        sim.lagKernel = f.lagKernel
        return sim
    }

    /// A stack's payload: its component files, each decoded and verified on its own, with the
    /// stack's training and test ids.
    private static func stackPayload(_ bytes: UnsafeRawBufferPointer, start payloadStart: Int, fields f: HeaderFields,
                                     source: String, registry: MethodRegistry) throws -> FittedSimulator {
        let total = f.stackBytes.reduce(0) { $0 + $1 }
        guard total == f.payloadBytes else {
            throw SimfluenceError.input(file: source, line: 2, message:
                "the stack's components add up to \(total) bytes, but the header says the payload has \(f.payloadBytes)")
        }
        var offset = payloadStart
        let components = try f.stackBytes.enumerated().map { k, size -> StackComponent in
            let part = try decode(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)]),
                                  source: "\(source) (stack component \(k + 1))", registry: registry, component: true)
            offset += size
            guard part.trainIDs == f.trainIDs, part.testIDs == f.testIDs else {
                throw SimfluenceError.input(file: source, line: nil, message:
                    "stack component \(k + 1) (\(part.method.name)) does not simulate the stack's training and test ids")
            }
            return StackComponent(weight: f.stackWeights[k], simulator: part)
        }
        var sim = FittedSimulator.stack(components, method: f.method, provenance: f.provenance)
        sim.seen = f.seen
        sim.fittedOn = f.fittedOn
        sim.startingStep = f.startingStep
        sim.startingLosses = f.startingLosses
        sim.lambda = f.lambda
        sim.form = f.form
        return sim
    }
}
