import Foundation

extension ModelFile {
    /// Writes the same bytes as ``encode(_:)`` without building the file in memory: the checksum
    /// is computed over the header and the parameter storage in place, then the header and the
    /// payload are streamed to an atomic temporary. A 1,000 x 100,000 model (1.6 GB of payload)
    /// thus needs no second 1.6 GB copy.
    static func writeStreaming(_ sim: FittedSimulator, to path: String) throws {
        #if _endian(little)
        guard 16 * sim.a.storage.count >= 1 << 22 else {
            try AtomicFile.write(encode(sim), to: path)
            return
        }
        let parts = payloadParts(sim)
        let head = headerThroughChecksumPrefix(sim, payloadBytes: 8 * parts.reduce(0) { $0 + $1.count })
        let zeros = [UInt8](repeating: UInt8(ascii: "0"), count: 16)
        let tail = Array("\"}\n".utf8)
        var h = head.withUnsafeBytes { fnv1a64($0) }
        h = zeros.withUnsafeBytes { fnv1a64($0, hash: h) }
        h = tail.withUnsafeBytes { fnv1a64($0, hash: h) }
        for part in parts { h = part.withUnsafeBytes { fnv1a64($0, hash: h) } }
        let hex = Array(hex16(h).utf8)
        try AtomicFile.write(to: path) { out in
            try (head + hex + tail).withUnsafeBytes { try out.write($0) }
            for part in parts { try part.withUnsafeBytes { try out.write($0) } }
        }
        #else
        try AtomicFile.write(encode(sim), to: path)
        #endif
    }
}
