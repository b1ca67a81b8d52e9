import Foundation
import Testing
@_spi(Fuzzing) @testable import Simfluence

@Suite struct ExtendedModelFileTests {
    @Test func stepTermsAndBoundsRoundTrip() throws {
        var sim = FittedSimulator(method: .linearTime, form: .linear, lambda: 10, trainIDs: ["a", "b"], testIDs: ["t0", "t1"],
                                  a: Matrix(rows: 2, columns: 2, storage: [0.5, 0.49, 0.51, 0.48]),
                                  b: Matrix(rows: 2, columns: 2, storage: [0.001, -0.002, 0, 0.003]),
                                  seen: [true, true], fittedOn: ["run1"], provenance: FitProvenance(details: ["step_knots": "3"]))
        sim.stepAlpha = Matrix(rows: 2, columns: 3, storage: [0.01, 0.02, 0.03, -0.01, -0.02, -0.03])
        sim.stepBeta = Matrix(rows: 2, columns: 3, storage: [1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3])
        sim.lossLower = [0, -0.5]
        sim.lossUpper = [4, 6.25]
        let data = ModelFile.encode(sim)
        let back = try data.withUnsafeBytes { try ModelFile.decode($0, source: "mem") }
        #expect(back.stepAlpha == sim.stepAlpha && back.stepBeta == sim.stepBeta)
        #expect(back.lossLower == sim.lossLower && back.lossUpper == sim.lossUpper)
        #expect(back.a == sim.a && back.b == sim.b && back.method == .linearTime)
        // A plain simulator is written without the extended member, as before.
        var plain = sim
        plain.stepAlpha = nil; plain.stepBeta = nil; plain.lossLower = nil; plain.lossUpper = nil
        let text = String(decoding: ModelFile.encode(plain).prefix(4000), as: UTF8.self)
        #expect(!text.contains("\"extended\""))
        let plainBack = try ModelFile.encode(plain).withUnsafeBytes { try ModelFile.decode($0, source: "mem") }
        #expect(!plainBack.isExtended)
        #expect(!ModelFile.encode(sim).withUnsafeBytes { String(decoding: $0.prefix(4000), as: UTF8.self) }.contains("\"carry\""))
    }

    @Test func lagKernelRoundTripsAndBadKernelsAreRefused() throws {
        var sim = FittedSimulator(method: .lagKernel, form: .additive, lambda: 0.01, trainIDs: ["a", "b"], testIDs: ["t0"],
                                  a: Matrix(rows: 1, columns: 2), b: Matrix(rows: 1, columns: 2, storage: [0.001, -0.002]),
                                  seen: [true, true], fittedOn: ["run1"])
        sim.stepAlpha = Matrix(rows: 1, columns: 3)
        sim.stepBeta = Matrix(rows: 1, columns: 3, storage: [1e-3, 2e-3, 3e-3])
        sim.lagKernel = LagKernel(starts: [0, 1, 2], weights: [1, 0.7, -0.123456789012345])
        let back = try ModelFile.encode(sim).withUnsafeBytes { try ModelFile.decode($0, source: "mem") }
        #expect(back == sim)
        #expect(back.lagKernel == sim.lagKernel)
        // A kernel whose bins do not start at lag 0 is refused with the member's name.
        // (Zero parameters, so the payload survives the round trip through text.)
        var zeroed = sim
        zeroed.b = Matrix(rows: 1, columns: 2)
        zeroed.stepBeta = Matrix(rows: 1, columns: 3)
        let text = String(decoding: ModelFile.encode(zeroed), as: UTF8.self)
            .replacingOccurrences(of: "\"starts\":[0,1,2]", with: "\"starts\":[1,2,3]")
        ByteLevelParsing.resealingModel(Array(text.utf8)).withUnsafeBytes { raw in
            expectInputError(file: "m", line: 2, ["lag_kernel", "starting at lag 0"]) { try ModelFile.decode(raw, source: "m") }
        }
        // A loss scale and a saturation exponent round-trip, and negative ones are refused with
        // the member's name.
        var scaled = sim
        scaled.lagKernel = LagKernel(starts: [0, 1, 2], weights: [1, 0.7, -0.123456789012345], lossScale: 0.75, saturation: 1.5)
        let scaledBack = try ModelFile.encode(scaled).withUnsafeBytes { try ModelFile.decode($0, source: "mem") }
        #expect(scaledBack.lagKernel?.lossScale == 0.75 && scaledBack.lagKernel?.saturation == 1.5)
        #expect(scaledBack == scaled)
        zeroed.lagKernel = scaled.lagKernel
        for (member, value) in [("loss_scale", "0.75"), ("saturation", "1.5")] {
            let negative = String(decoding: ModelFile.encode(zeroed), as: UTF8.self)
                .replacingOccurrences(of: "\"\(member)\":\(value)", with: "\"\(member)\":-1")
            #expect(negative.contains("\"\(member)\":-1"))
            ByteLevelParsing.resealingModel(Array(negative.utf8)).withUnsafeBytes { raw in
                expectInputError(file: "m", line: 2, [member, ">= 0"]) { try ModelFile.decode(raw, source: "m") }
            }
        }
        // Carry-over and a lag kernel together are refused.
        var both = sim
        both.carry = 0.5
        ModelFile.encode(both).withUnsafeBytes { raw in
            expectInputError(file: "m", line: 2, ["both \"carry\" and \"lag_kernel\""]) { try ModelFile.decode(raw, source: "m") }
        }
    }

    @Test func carryOverRoundTrips() throws {
        var sim = FittedSimulator(method: .linearCarry, form: .linear, lambda: 1, trainIDs: ["a"], testIDs: ["t"],
                                  a: Matrix(rows: 1, columns: 1, storage: [0.9]), b: Matrix(rows: 1, columns: 1, storage: [-0.01]),
                                  seen: [true], fittedOn: ["run1"])
        sim.carry = 0.7
        #expect(sim.isExtended)
        let back = try ModelFile.encode(sim).withUnsafeBytes { try ModelFile.decode($0, source: "mem") }
        #expect(back == sim)
    }
}
