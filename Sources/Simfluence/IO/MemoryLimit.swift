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

    /// The memory this process may use: ``environmentVariable`` when set, otherwise the smaller of
    /// `MemAvailable` in /proc/meminfo and the room left under a cgroup v2 `memory.max`; nil when
    /// unknown (not Linux) or disabled. A malformed variable is an error.
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
        if let maxText = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let max = Int(maxText.trimmingCharacters(in: .whitespacesAndNewlines)) {
            let used = (try? String(contentsOfFile: "/sys/fs/cgroup/memory.current", encoding: .utf8))
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            let room = Swift.max(0, max - used)
            if best == nil || room < best!.bytes {
                best = Budget(bytes: room, source: "the cgroup limit memory.max")
            }
        }
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
