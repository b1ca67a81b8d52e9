import Foundation
import Testing
@_spi(Fuzzing) @testable import Simfluence

/// A stack's model file: its components' files nested in its payload.
@Suite struct StackModelFileTests {
    static func stack() -> FittedSimulator {
        let linear = FittedSimulator(method: .linear, form: .linear, lambda: 0.1, trainIDs: ["a", "b"], testIDs: ["t0", "t1"],
                                     a: Matrix(rows: 2, columns: 2, storage: [0.5, 0.49, 0.51, 0.48]),
                                     b: Matrix(rows: 2, columns: 2, storage: [0.001, -0.002, 0, 0.003]),
                                     seen: [true, true], fittedOn: ["run1", "run2"], startingLosses: [1.5, 2.5])
        var lag = FittedSimulator(method: .lagKernel, form: .additive, lambda: 0.01, trainIDs: ["a", "b"], testIDs: ["t0", "t1"],
                                  a: Matrix(rows: 2, columns: 2), b: Matrix(rows: 2, columns: 2, storage: [0.004, -0.001, 0.002, -0.003]),
                                  seen: [true, true], fittedOn: ["run1", "run2"], startingLosses: [1.5, 2.5])
        lag.stepAlpha = Matrix(rows: 2, columns: 3)
        lag.stepBeta = Matrix(rows: 2, columns: 3, storage: [1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3])
        lag.lagKernel = LagKernel(starts: [0, 1, 2], weights: [1, 0.7, -0.2], lossScale: 1)
        return FittedSimulator.stack([StackComponent(weight: 0.375, simulator: linear), StackComponent(weight: 0.625, simulator: lag)],
                                     method: MethodName(StackMethod.stack),
                                     provenance: FitProvenance(details: ["stack_weights": "linear 0.375, lag-kernel 0.625"]))
    }

    /// `bytes` with the first occurrence of `old` replaced by `new`, resealed (checksum recomputed).
    static func edited(_ bytes: [UInt8], _ old: String, _ new: String) -> [UInt8] {
        let o = Array(old.utf8)
        guard let at = (0...(bytes.count - o.count)).first(where: { Array(bytes[$0..<($0 + o.count)]) == o }) else {
            Issue.record("\(old) not found")
            return bytes
        }
        return ByteLevelParsing.resealingModel(Array(bytes[..<at]) + Array(new.utf8) + Array(bytes[(at + o.count)...]))
    }

    @Test func roundTripsBitForBit() throws {
        let sim = Self.stack()
        let data = ModelFile.encode(sim)
        let back = try data.withUnsafeBytes { try ModelFile.decode($0, source: "mem") }
        #expect(back == sim)
        #expect(ModelFile.encode(back) == data)
        #expect(back.method.name == "stack" && back.components.map(\.weight) == [0.375, 0.625])
        let header = String(decoding: data.prefix(2000), as: UTF8.self)
        #expect(header.contains("\"stack\":{\"methods\":[\"linear\",\"lag-kernel\"],\"weights\":[0.375,0.625]"))
        // Through a file as well.
        let path = NSTemporaryDirectory() + "stack-\(UUID().uuidString).simfluence"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ModelFile.write(sim, to: path)
        #expect(try ModelFile.read(path) == sim)
        // The rollout of the file's stack is the weighted sum of its components'.
        let batches = [[0], [1, 0], [1]]
        let got = back.simulate(batches, initial: [1.5, 2.5])
        let a = sim.components[0].simulator.simulate(batches, initial: [1.5, 2.5])
        let b = sim.components[1].simulator.simulate(batches, initial: [1.5, 2.5])
        for r in 1...3 { for c in 0..<2 { #expect(abs(got[r, c] - (0.375 * a[r, c] + 0.625 * b[r, c])) <= 1e-15) } }
    }

    @Test func malformedStacksAreRefused() throws {
        let bytes = [UInt8](ModelFile.encode(Self.stack()))
        Self.edited(bytes, "\"weights\":[0.375,0.625]", "\"weights\":[0.375]").withUnsafeBytes { raw in
            expectInputError(file: "m", line: 2, ["\"stack\"", "one weight and one size per component"]) { try ModelFile.decode(raw, source: "m") }
        }
        Self.edited(bytes, "\"weights\":[0.375,0.625]", "\"weights\":[0.375,-0.62]").withUnsafeBytes { raw in
            expectInputError(file: "m", line: 2, ["\"stack\".\"weights\"", ">= 0"]) { try ModelFile.decode(raw, source: "m") }
        }
        // A changed byte inside a component fails the stack's checksum.
        var corrupted = bytes
        corrupted[corrupted.count - 3] ^= 0x01
        corrupted.withUnsafeBytes { raw in
            expectInputError(file: "m", line: nil, ["checksum mismatch"]) { try ModelFile.decode(raw, source: "m") }
        }
        // A component that simulates other test examples is refused, by its number and method.
        var other = Self.stack()
        other.components[1].simulator.testIDs = ["t0", "t9"]
        ModelFile.encode(other).withUnsafeBytes { raw in
            expectInputError(file: "m", line: nil, ["stack component 2 (lag-kernel)", "training and test ids"]) { try ModelFile.decode(raw, source: "m") }
        }
        // A stack inside a stack is refused from the component's header.
        var nested = Self.stack()
        nested.components[0].simulator = Self.stack()
        ModelFile.encode(nested).withUnsafeBytes { raw in
            expectInputError(file: "m (stack component 1)", line: 2, ["itself a stack"]) { try ModelFile.decode(raw, source: "m") }
        }
    }
}
