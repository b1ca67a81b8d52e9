import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic file replacement: content goes to a temporary file in the target's directory, is
/// flushed to disk (`fsync`), and is then renamed over the target. Readers see either the old
/// file or the complete new one. On any failure the temporary is removed and an existing target
/// is left untouched.
///
/// The target's directory must exist. Failures are reported as
/// ``SimfluenceError/invalidArgument(_:)`` naming the path.
public enum AtomicFile {
    /// Replaces `path` with `data`.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { try $0.write(data) }
    }

    /// Streams content into `path`: `body` writes through the ``AtomicFileWriter`` it is given;
    /// when it returns, the content is flushed and committed. If `body` throws, nothing is
    /// committed and its error is rethrown.
    public static func write(to path: String, _ body: (AtomicFileWriter) throws -> Void) throws {
        let writer = try AtomicFileWriter(target: path)
        do {
            try body(writer)
            try writer.commit()
        } catch {
            writer.abandon()
            throw error
        }
    }
}

/// The sink an ``AtomicFile`` body writes into. Buffered; all methods throw on I/O errors.
public final class AtomicFileWriter {
    /// The file being replaced.
    public let target: String
    let temporary: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let capacity = 1 << 20
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    init(target: String) throws {
        self.target = target
        let dir = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        guard !name.isEmpty else { throw SimfluenceError.invalidArgument("cannot write '\(target)': not a file path") }
        var attempt = 0
        while true {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let tmp = Paths.join(dir.isEmpty ? "." : dir, ".\(name).tmp-\(getpid())-\(suffix)")
            let f = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if f >= 0 {
                temporary = tmp
                fd = f
                break
            }
            let e = errno
            attempt += 1
            if e != EEXIST || attempt > 8 {
                let reason = e == ENOENT ? "the directory '\(dir)' does not exist" : MappedFile.describe(errno: e)
                throw SimfluenceError.invalidArgument("cannot write '\(target)': \(reason)")
            }
        }
        buffer.reserveCapacity(capacity)
    }

    deinit {
        if fd >= 0 { abandon() }
    }

    /// Appends raw bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
        }
    }

    /// Appends `data`.
    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Appends the bytes of `bytes`.
    public func write(bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends the UTF-8 of `string`.
    public func write(_ string: String) throws {
        var s = string
        try s.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Replaces bytes already written at `offset` (from the start of the file) with `bytes`,
    /// for a field whose value is known only once the rest has been written.
    func overwrite(at offset: Int, _ bytes: [UInt8]) throws {
        precondition(offset >= 0 && offset + bytes.count <= bytesWritten + buffer.count)
        try flush()
        try bytes.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(offset + done))
                if n < 0 {
                    let e = errno
                    if e == EINTR { continue }
                    throw SimfluenceError.invalidArgument("cannot write '\(target)': \(MappedFile.describe(errno: e))")
                }
                done += n
            }
        }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = systemWrite(fd, p, left)
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                throw SimfluenceError.invalidArgument("cannot write '\(target)': \(MappedFile.describe(errno: e))")
            }
            p += n
            left -= n
            bytesWritten += n
        }
    }

    func commit() throws {
        try flush()
        if fsync(fd) != 0 {
            let e = errno
            throw SimfluenceError.invalidArgument("cannot write '\(target)': fsync failed: \(MappedFile.describe(errno: e))")
        }
        let c = close(fd)
        fd = -1
        if c != 0 {
            let e = errno
            unlink(temporary)
            throw SimfluenceError.invalidArgument("cannot write '\(target)': close failed: \(MappedFile.describe(errno: e))")
        }
        if rename(temporary, target) != 0 {
            let e = errno
            unlink(temporary)
            let reason = e == EISDIR ? "it is a directory" : MappedFile.describe(errno: e)
            throw SimfluenceError.invalidArgument("cannot write '\(target)': \(reason)")
        }
        // Make the rename itself durable (best effort).
        let dir = (target as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
        AtomicFileWriter.removeStaleTemporaries(of: target)
    }

    /// Removes temporaries of `target` left by writers that were killed before they could clean
    /// up (`.NAME.tmp-PID-RANDOM` whose process PID no longer exists). Temporaries of live
    /// processes (another writer at work) are kept. Best effort: errors are ignored.
    ///
    /// A killed writer's temporary is harmless meanwhile: it is hidden (leading dot), distinctly
    /// named, never read by simfluence, and never renamed by anyone but its own writer.
    static func removeStaleTemporaries(of target: String) {
        let dir = (target as NSString).deletingLastPathComponent
        let prefix = ".\((target as NSString).lastPathComponent).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir) else { return }
        for name in names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink(Paths.join(dir.isEmpty ? "." : dir, name))
            }
        }
    }

    func abandon() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        unlink(temporary)
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
#endif
