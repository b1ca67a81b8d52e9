import Foundation

extension ModelFile {
    /// Writes the same bytes as ``encode(_:)`` without building the file in memory: the header
    /// and the payload are streamed from the parameter storage to an atomic temporary, with the
    /// checksum digits as zeros, while a second thread computes the checksum (FNV-1a is serial,
    /// about 2 s for 1.6 GB, as long as the write itself); the digits are then written in place
    /// before the file is committed. A 1,000 x 100,000 model (1.6 GB of payload) thus needs no
    /// second 1.6 GB copy and no second pass after the write.
    static func writeStreaming(_ sim: FittedSimulator, to path: String) throws {
        #if _endian(little)
        guard 16 * sim.a.storage.count >= 1 << 22 && sim.components.isEmpty else {
            try AtomicFile.write(encode(sim), to: path)
            return
        }
        let parts = payloadParts(sim)
        let head = headerThroughChecksumPrefix(sim, payloadBytes: 8 * parts.reduce(0) { $0 + $1.count })
        let zeros = [UInt8](repeating: UInt8(ascii: "0"), count: 16)
        let tail = Array("\"}\n".utf8)
        let checksum = ChecksumTask {
            var h = head.withUnsafeBytes { fnv1a64($0) }
            h = zeros.withUnsafeBytes { fnv1a64($0, hash: h) }
            h = tail.withUnsafeBytes { fnv1a64($0, hash: h) }
            for part in parts { h = part.withUnsafeBytes { fnv1a64($0, hash: h) } }
            return h
        }
        // A device or FIFO cannot be patched afterwards: write the digits in order instead.
        let inPlace = try AtomicFile.writesInPlace(path)
        let digits = inPlace ? Array(hex16(checksum.value()).utf8) : zeros
        try AtomicFile.write(to: path) { out in
            try (head + digits + tail).withUnsafeBytes { try out.write($0) }
            for part in parts { try part.withUnsafeBytes { try out.write($0) } }
            if !inPlace { try out.overwrite(at: head.count, Array(hex16(checksum.value()).utf8)) }
        }
        #else
        try AtomicFile.write(encode(sim), to: path)
        #endif
    }
}

/// A checksum computed on a background thread; ``value()`` waits for it.
private final class ChecksumTask: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: UInt64 = 0

    init(_ compute: @escaping @Sendable () -> UInt64) {
        DispatchQueue.global().async {
            self.result = compute()
            self.done.signal()
        }
    }

    /// The checksum, once computed (the semaphore orders the write of `result` before this read).
    func value() -> UInt64 {
        done.wait()
        done.signal()
        return result
    }
}
