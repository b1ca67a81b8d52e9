import Foundation
import Simfluence
import Testing

@Suite struct ModelFileStreamingTests {
    /// Models above the streaming threshold are written without an in-memory copy; the bytes
    /// must equal `encode` and read back exactly.
    @Test func streamedFileEqualsEncodedBytes() throws {
        let tests = 40, train = 7000
        var a = Matrix(rows: tests, columns: train), b = Matrix(rows: tests, columns: train)
        var g = SeededGenerator(seed: 4)
        for k in 0..<a.storage.count { a.storage[k] = g.nextGaussian(); b.storage[k] = g.nextGaussian() }
        let sim = FittedSimulator(method: .linear, form: .linear, lambda: 0.5, trainIDs: (0..<train).map { "e\($0)" },
                                  testIDs: (0..<tests).map { "t\($0)" }, a: a, b: b,
                                  seen: Array(repeating: true, count: train), fittedOn: ["run1"], provenance: FitProvenance(details: ["k": "v"]))
        let path = NSTemporaryDirectory() + "simfluence-stream-\(UUID().uuidString).simfluence"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ModelFile.write(sim, to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes == ModelFile.encode(sim))
        #expect(try ModelFile.read(path) == sim)
    }
}
