import Foundation

/// How much memory this process may use, and refusing work that needs more before it starts, so
/// that a log or a fit too large for the machine ends with an estimate and advice instead of
/// the kernel killing the process half-way (perhaps while it writes a file).
public enum MemoryLimit {
    /// Environment variable that overrides the detected limit: bytes, or a number with a K, M,
    /// G or T suffix (powers of 1024), e.g. `SIMFLUENCE_MEMORY_LIMIT=512M`. `none` disables the checks.
    public static let environmentVariable = "SIMFLUENCE_MEMORY_LIMIT"

    /// A limit in bytes and where it comes from (for messages).
    public struct Budget: Sendable, Equatable {
        public var bytes: Int
        public var source: String
        public init(bytes: Int, source: String) {
            self.bytes = bytes
            self.source = source
        }
    }

    /// The memory this process may use: ``environmentVariable`` when set, otherwise the smallest
    /// of `MemAvailable` in /proc/meminfo, the room left under the cgroup's limit (v2
    /// `memory.max`, or v1 `memory.limit_in_bytes`), and the room left under the process's own
    /// limits (`RLIMIT_AS` against its address space, `RLIMIT_DATA` against its data segment,
    /// as `ulimit -v` / `prlimit --as` set them); nil when unknown (not Linux) or disabled. A
    /// malformed variable is an error.
    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Budget? {
        if let text = environment[environmentVariable] {
            if text.lowercased() == "none" { return nil }
            guard let bytes = parse(text) else {
                throw SimfluenceError.invalidArgument("\(environmentVariable)='\(text)' is not a size: expected bytes or a number with a K, M, G or T suffix (e.g. 512M), or 'none'")
            }
            return Budget(bytes: bytes, source: "\(environmentVariable)=\(text)")
        }
        var best: Budget? = nil
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }) {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kb = Int(fields[1]) {
                best = Budget(bytes: kb * 1024, source: "MemAvailable in /proc/meminfo")
            }
        }
        func consider(_ room: Int, _ source: String) {
            if best == nil || room < best!.bytes { best = Budget(bytes: Swift.max(0, room), source: source) }
        }
        for (limitFile, usageFile) in [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                       ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")] {
            guard let maxText = try? String(contentsOfFile: limitFile, encoding: .utf8),
                  let max = Int(maxText.trimmingCharacters(in: .whitespacesAndNewlines)), max < 1 << 60 else { continue }
            let used = (try? String(contentsOfFile: usageFile, encoding: .utf8))
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            consider(max - used, "the cgroup limit \((limitFile as NSString).lastPathComponent)")
            break
        }
        #if os(Linux)
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func statusKB(_ key: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return 0 }
            return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
        }
        for (resource, key, name) in [(Int32(RLIMIT_AS.rawValue), "VmSize", "RLIMIT_AS (address space, ulimit -v)"),
                                      (Int32(RLIMIT_DATA.rawValue), "VmData", "RLIMIT_DATA (data segment, ulimit -d)")] {
            var limit = rlimit()
            guard getrlimit(__rlimit_resource_t(UInt32(resource)), &limit) == 0, limit.rlim_cur != rlim_t.max,
                  limit.rlim_cur < rlim_t(Int.max) else { continue }
            consider(Int(limit.rlim_cur) - statusKB(key), "the process limit \(name)")
        }
        #endif
        return best
    }

    /// "512M" -> 536870912; nil when malformed or negative.
    static func parse(_ text: String) -> Int? {
        var t = text.trimmingCharacters(in: .whitespaces).uppercased()
        if t.hasSuffix("B") { t.removeLast() }
        var scale = 1.0
        if let last = t.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            scale = pow(1024, Double(power))
            t.removeLast()
        }
        guard let v = Double(t.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else { return nil }
        let bytes = v * scale
        return bytes < Double(Int.max) ? Int(bytes) : Int.max
    }

    /// "1.5 GB", "300 MB", "12 KB", "17 bytes" (powers of 1024).
    public static func describe(bytes: Int) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB"]
        var v = Double(bytes)
        var u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(bytes) bytes" }
        return v >= 100 ? "\(Int(v.rounded())) \(units[u])" : String(format: "%.1f %@", v, units[u])
    }

    /// Throws when `needed` bytes exceed `budget`: "<what> needs about X of memory (<detail>), but
    /// only Y is available (<source>); <advice>". `error` builds the error from the message.
    public static func require(_ needed: Int, budget: Budget?, what: String, detail: String, advice: String,
                               error: (String) -> SimfluenceError = { .invalidArgument($0) }) throws {
        guard let budget, needed > budget.bytes else { return }
        throw error("\(what) needs about \(describe(bytes: needed)) of memory (\(detail)), but only \(describe(bytes: budget.bytes)) is available (\(budget.source)); \(advice), or set \(environmentVariable) to override (e.g. \(environmentVariable)=none)")
    }
}
