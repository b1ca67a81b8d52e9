import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, memory-mapped view of a whole file. Unmapped when released.
///
/// Opening reports missing files, directories and permission problems as
/// ``SimfluenceError/input(file:line:message:)`` naming the file.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// Start of the bytes (a valid, unused pointer when the file is empty).
    let base: UnsafePointer<UInt8>
    let count: Int
    private let mapping: UnsafeMutableRawPointer?
    /// Memory owned by this value (a placeholder for empty files, or a copy of in-memory bytes).
    private let placeholder: UnsafeMutablePointer<UInt8>?
    /// This mapping's entry in ``ChangedFileGuard``'s table.
    private var guardSlot: Int? = nil

    /// An in-memory "file" holding a copy of `bytes`, named `path` in messages. Lets the parsers
    /// that work on files run on bytes (fuzzing, tests) through exactly the same code.
    init(copying bytes: UnsafeRawBufferPointer, path: String) {
        self.path = path
        count = bytes.count
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
        if let src = bytes.baseAddress, bytes.count > 0 {
            p.initialize(from: src.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        }
        placeholder = p
        mapping = nil
        base = UnsafePointer(p)
    }

    init(_ path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then rejected below).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let e = errno
            throw SimfluenceError.input(file: path, line: nil, message: "cannot open: \(MappedFile.describe(errno: e))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            throw SimfluenceError.input(file: path, line: nil, message: "cannot stat: \(MappedFile.describe(errno: e))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw SimfluenceError.input(file: path, line: nil, message: "expected a file, found a directory")
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw SimfluenceError.input(file: path, line: nil, message: "expected a regular file, found a device, pipe or socket")
        }
        let size = Int(st.st_size)
        count = size
        if size == 0 {
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
            placeholder = p
            mapping = nil
            base = UnsafePointer(p)
            return
        }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            let e = errno
            throw SimfluenceError.input(file: path, line: nil, message: "cannot map \(size) bytes: \(MappedFile.describe(errno: e))")
        }
        mapping = m
        placeholder = nil
        base = UnsafePointer(m.assumingMemoryBound(to: UInt8.self))
        guardSlot = ChangedFileGuard.enterMapped(path)
    }

    deinit {
        if let mapping { munmap(mapping, count) }
        ChangedFileGuard.leaveMapped(guardSlot)
        placeholder?.deallocate()
    }

    var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// A scanner over the whole file, starting at line 1.
    func scanner(displayName: String? = nil) -> JSONScanner {
        JSONScanner(base: base, start: 0, end: count, line: 1, file: displayName ?? path)
    }

    /// Whether the file holds only whitespace.
    var isBlank: Bool {
        for i in 0..<count {
            let c = base[i]
            if c != 0x20 && c != 0x0A && c != 0x0D && c != 0x09 { return false }
        }
        return true
    }

    static func describe(errno e: Int32) -> String {
        switch e {
        case ENOENT: return "no such file"
        case EACCES: return "permission denied"
        case EISDIR: return "expected a file, found a directory"
        case ENOTDIR: return "a parent of this path is not a directory"
        default: return String(cString: strerror(e))
        }
    }
}

/// Small path and directory helpers shared by the readers and writers.
enum Paths {
    /// `path` as an absolute, standardized path (relative paths against the working directory).
    static func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : Paths.join(FileManager.default.currentDirectoryPath, path)
        return (full as NSString).standardizingPath
    }

    /// `path` relative to the directory `dir` (both made absolute first): "../runs" and the like.
    static func relative(_ path: String, from dir: String) -> String {
        let target = absolute(path).split(separator: "/", omittingEmptySubsequences: true)
        let base = absolute(dir).split(separator: "/", omittingEmptySubsequences: true)
        var common = 0
        while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
        let parts = Array(repeating: "..", count: base.count - common) + target[common...].map(String.init)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// `a/b`, without doubling a trailing slash.
    static func join(_ a: String, _ b: String) -> String {
        if a.isEmpty { return b }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    enum Kind { case missing, file, directory }

    static func kind(_ path: String) -> Kind {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return .missing }
        return isDir.boolValue ? .directory : .file
    }

    /// Throws unless `path` is an existing directory.
    static func requireDirectory(_ path: String, _ what: String) throws {
        switch kind(path) {
        case .directory: return
        case .file: throw SimfluenceError.input(file: path, line: nil, message: "expected \(what) to be a directory, found a file")
        case .missing: throw SimfluenceError.input(file: path, line: nil, message: "\(what) does not exist")
        }
    }

    /// Names of the non-hidden subdirectories of `dir`, in natural order.
    static func subdirectories(_ dir: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir)
        } catch {
            throw SimfluenceError.input(file: dir, line: nil, message: "cannot list directory: \(error.localizedDescription)")
        }
        return names.filter { !$0.hasPrefix(".") && kind(join(dir, $0)) == .directory }.sorted(by: naturalOrder)
    }

    /// Creates `dir` and its parents; a writer error if that fails or a file is in the way.
    static func createDirectory(_ dir: String) throws {
        switch kind(dir) {
        case .directory: return
        case .file: throw SimfluenceError.invalidArgument("cannot write into '\(dir)': it is a file, not a directory")
        case .missing:
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw SimfluenceError.invalidArgument("cannot create directory '\(dir)': \(error.localizedDescription)")
            }
        }
    }
}
