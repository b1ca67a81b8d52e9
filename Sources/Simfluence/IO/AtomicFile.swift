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
///
/// Targets that are not regular files are never replaced: a character or block device, a FIFO
/// or a socket (for example `/dev/null`, `/dev/stdout`, a named pipe, or a symbolic link to any
/// of them such as `/proc/self/fd/1`) is written through, in place, without a temporary file or
/// a rename (so a write error there can leave part of the output behind, as with any stream;
/// a FIFO nobody reads is an error, not a hang); a symbolic link to a regular file has its
/// target replaced atomically and stays a link; a directory or a dangling link is an error.
public enum AtomicFile {
    /// Replaces `path` with `data`.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { try $0.write(data) }
    }

    /// Whether output for `path` is written in place (a device, FIFO or socket) rather than to a
    /// temporary renamed over it.
    public static func writesInPlace(_ path: String) throws -> Bool {
        try AtomicFileWriter.destination(of: path) == .stream
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
    /// The file being replaced, as given.
    public let target: String
    /// The path actually written: `target`, or the regular file a symbolic link points to.
    let destination: String
    /// The temporary being written; nil when writing a device, FIFO or socket in place.
    let temporary: String?
    /// The temporary's entry in ``ChangedFileGuard``'s table (removed if a read input changes).
    private var guardSlot: Int? = nil
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let capacity = 1 << 20
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    init(target: String) throws {
        self.target = target
        let name = (target as NSString).lastPathComponent
        guard !name.isEmpty else { throw SimfluenceError.invalidArgument("cannot write '\(target)': not a file path") }
        switch try AtomicFileWriter.destination(of: target) {
        case .stream:
            fd = try AtomicFileWriter.openStream(target)
            temporary = nil
            destination = target
        case .file(let path):
            destination = path
            let dir = (path as NSString).deletingLastPathComponent
            let stem = AtomicFileWriter.temporaryStem((path as NSString).lastPathComponent)
            var attempt = 0
            while true {
                let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
                let tmp = Paths.join(dir.isEmpty ? "." : dir, ".\(stem).tmp-\(getpid())-\(suffix)")
                let f = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
                if f >= 0 {
                    temporary = tmp
                    fd = f
                    guardSlot = ChangedFileGuard.enterTemporary(tmp)
                    break
                }
                let e = errno
                attempt += 1
                if e != EEXIST || attempt > 8 {
                    let reason = e == ENOENT ? "the directory '\(dir)' does not exist" : MappedFile.describe(errno: e)
                    throw SimfluenceError.invalidArgument("cannot write '\(target)': \(reason)")
                }
            }
        }
        buffer.reserveCapacity(capacity)
    }

    /// Where output for `target` goes.
    enum Destination: Equatable {
        /// A device, FIFO or socket: written through in place.
        case stream
        /// A regular file (existing or not) at this path, replaced atomically; a symbolic link
        /// to a regular file resolves to the file.
        case file(String)
    }

    static func destination(of target: String) throws -> Destination {
        var st = stat()
        if stat(target, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                var link = stat()
                if lstat(target, &link) == 0, link.st_mode & S_IFMT == S_IFLNK,
                   let resolved = realpath(target, nil) {
                    defer { free(resolved) }
                    return .file(String(cString: resolved))
                }
                return .file(target)
            case S_IFDIR:
                throw SimfluenceError.invalidArgument("cannot write '\(target)': it is a directory")
            default:
                return .stream
            }
        }
        let e = errno
        var link = stat()
        if lstat(target, &link) == 0, link.st_mode & S_IFMT == S_IFLNK {
            throw SimfluenceError.invalidArgument("cannot write '\(target)': it is a symbolic link to a missing file (\(MappedFile.describe(errno: e)))")
        }
        return .file(target)
    }

    /// Opens a device, FIFO or socket for writing in place. A FIFO with no reader fails at once
    /// (non-blocking open) instead of hanging; writes then block as usual.
    static func openStream(_ target: String) throws -> Int32 {
        let f = open(target, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard f >= 0 else {
            let e = errno
            let reason = e == ENXIO ? "no process is reading it (a FIFO or socket needs a reader)" : MappedFile.describe(errno: e)
            throw SimfluenceError.invalidArgument("cannot write '\(target)': \(reason)")
        }
        let flags = fcntl(f, F_GETFL)
        if flags >= 0 { _ = fcntl(f, F_SETFL, flags & ~O_NONBLOCK) }
        return f
    }

    /// The part of a temporary's name taken from the target's name: the name itself, or for
    /// long names (whose temporary would exceed the 255-byte limit of file names) its first
    /// 100 bytes and a hash of the whole.
    static func temporaryStem(_ name: String) -> String {
        let bytes = Array(name.utf8)
        guard bytes.count > 180 else { return name }
        var cut = 100
        while cut > 0 && (bytes[cut] & 0xC0) == 0x80 { cut -= 1 }  // keep UTF-8 sequences whole
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return String(decoding: bytes[..<cut], as: UTF8.self) + "~" + String(h, radix: 16)
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
        guard let temporary else {
            let c = close(fd)
            fd = -1
            if c != 0 {
                let e = errno
                throw SimfluenceError.invalidArgument("cannot write '\(target)': close failed: \(MappedFile.describe(errno: e))")
            }
            return
        }
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
        if rename(temporary, destination) != 0 {
            let e = errno
            unlink(temporary)
            let reason = e == EISDIR ? "it is a directory" : MappedFile.describe(errno: e)
            throw SimfluenceError.invalidArgument("cannot write '\(target)': \(reason)")
        }
        // Make the rename itself durable (best effort).
        let dir = (destination as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
        ChangedFileGuard.leaveTemporary(guardSlot)
        guardSlot = nil
        AtomicFileWriter.removeStaleTemporaries(of: destination)
    }

    /// Removes temporaries of `target` left by writers that were killed before they could clean
    /// up (`.NAME.tmp-PID-RANDOM` whose process PID no longer exists). Temporaries of live
    /// processes (another writer at work) are kept. Best effort: errors are ignored.
    ///
    /// A killed writer's temporary is harmless meanwhile: it is hidden (leading dot), distinctly
    /// named, never read by simfluence, and never renamed by anyone but its own writer.
    static func removeStaleTemporaries(of target: String) {
        let dir = (target as NSString).deletingLastPathComponent
        let prefix = ".\(temporaryStem((target as NSString).lastPathComponent)).tmp-"
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
        if let temporary { unlink(temporary) }
        ChangedFileGuard.leaveTemporary(guardSlot)
        guardSlot = nil
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
#endif
