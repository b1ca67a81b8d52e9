import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What happens when a file is cut short while simfluence reads it through a memory mapping
/// (another program truncated or rewrote a 380 MB curriculum mid-read, say): the kernel sends
/// SIGBUS on the first access past the new end. Mapping stays (it is what makes large logs
/// fast to read); instead, the first mapping installs a SIGBUS handler that names every file
/// being read, removes the temporaries of outputs being written, and exits with status 1 — an
/// error message and no partial output instead of a crash.
///
/// The handler only does what is safe in a signal handler (write(2), unlink(2), _exit(2)) on
/// C strings prepared beforehand in fixed tables.
enum ChangedFileGuard {
    /// At most this many mapped files and temporaries are named and cleaned up at once.
    static let slots = 64
    nonisolated(unsafe) static let mapped = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slots)
    nonisolated(unsafe) static let temporaries = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slots)
    static let lock = NSLock()
    nonisolated(unsafe) static var installed = false

    /// Records that `path` is mapped; returns the slot to release (nil when the table is full,
    /// in which case the file is still read, just not named by the handler).
    static func enterMapped(_ path: String) -> Int? { enter(path, mapped) }
    static func leaveMapped(_ slot: Int?) { leave(slot, mapped) }
    /// Records a temporary output file the handler must remove.
    static func enterTemporary(_ path: String) -> Int? { enter(path, temporaries) }
    static func leaveTemporary(_ slot: Int?) { leave(slot, temporaries) }

    private static func enter(_ path: String, _ table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        if !installed {
            for k in 0..<slots { mapped[k] = nil; temporaries[k] = nil }
            installed = true
            signal(SIGBUS, changedFileHandler)
        }
        for k in 0..<slots where table[k] == nil {
            table[k] = strdup(path)
            return k
        }
        return nil
    }

    private static func leave(_ slot: Int?, _ table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) {
        guard let slot else { return }
        lock.lock()
        defer { lock.unlock() }
        let p = table[slot]
        table[slot] = nil
        free(p)
    }
}

/// The SIGBUS handler (see ``ChangedFileGuard``).
private func changedFileHandler(_ signal: Int32) {
    func say(_ p: UnsafePointer<CChar>) { _ = write(2, p, strlen(p)) }
    say("Error: a file changed while simfluence was reading it (it was truncated or rewritten); nothing was written. Files being read:")
    for k in 0..<ChangedFileGuard.slots {
        if let p = ChangedFileGuard.mapped[k] { say(" "); say(p) }
    }
    say("\n")
    for k in 0..<ChangedFileGuard.slots {
        if let p = ChangedFileGuard.temporaries[k] { unlink(p) }
    }
    _exit(1)
}
