import Foundation
import Testing
@testable import Simfluence

@Suite struct ModelFileTests {
    func model(lambda: Double? = 0.125) -> FittedSimulator {
        let specials: [Double] = [-0.0, Double.leastNonzeroMagnitude, Double(bitPattern: 0x000F_FFFF_FFFF_FFFF), 1e300, -1e-300, 0.1, .infinity, -.infinity,
                                  Double(bitPattern: 0x7FF8_0000_0000_1234), Double(bitPattern: 0xFFF0_0000_0000_0001), 1.0 / 3.0, -7]
        let a = Matrix(rows: 2, columns: 3, storage: Array(specials[0..<6]))
        let b = Matrix(rows: 2, columns: 3, storage: Array(specials[6..<12]))
        return FittedSimulator(method: .linear, form: .linear, lambda: lambda, trainIDs: ["7", "x \"y\"\n", "ü"], testIDs: ["007", "t"],
                               a: a, b: b, seen: [true, false, true], fittedOn: ["run1", "run10"],
                               provenance: FitProvenance(log: "/tmp/a b", details: ["grid": "[0.1, 1]", "ünï": "\u{1}\t"]))
    }

    func bitsEqual(_ x: FittedSimulator, _ y: FittedSimulator) -> Bool {
        x.method == y.method && x.form == y.form && x.lambda?.bitPattern == y.lambda?.bitPattern && x.trainIDs == y.trainIDs
            && x.testIDs == y.testIDs && x.seen == y.seen && x.fittedOn == y.fittedOn && x.metadata == y.metadata
            && x.a.rows == y.a.rows && x.a.columns == y.a.columns
            && x.a.storage.map(\.bitPattern) == y.a.storage.map(\.bitPattern)
            && x.b.storage.map(\.bitPattern) == y.b.storage.map(\.bitPattern)
    }

    @Test(arguments: [nil, 0.125, -0.0, 1e-300, Double.infinity, Double.nan])
    func roundTripIsBitExact(lambda: Double?) throws {
        let dir = TempDir()
        let m = model(lambda: lambda)
        try ModelFile.write(m, to: dir.at("m.simfluence"))
        let back = try ModelFile.read(dir.at("m.simfluence"))
        #expect(bitsEqual(m, back))
        #expect(dir.listing() == ["m.simfluence"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.at("m.simfluence")))
        #expect(bytes.starts(with: Array("SIMFLUENCE-MODEL 1\n{\"format\":\"simfluence-model\",\"version\":1,".utf8)))
    }

    @Test func emptyAndOtherForms() throws {
        let dir = TempDir()
        for form in RecurrenceForm.allCases {
            let m = FittedSimulator(method: .tracinCP, form: form, lambda: nil, trainIDs: [], testIDs: [],
                                    a: Matrix(rows: 0, columns: 0), b: Matrix(rows: 0, columns: 0), seen: [], fittedOn: [])
            try ModelFile.write(m, to: dir.at("e"))
            #expect(try ModelFile.read(dir.at("e")) == m)
        }
    }

    @Test func everySingleByteCorruptionIsDetected() throws {
        let bytes = [UInt8](ModelFile.encode(model()))
        for i in 0..<bytes.count {
            for flip: UInt8 in [0x01, 0x80] {
                var bad = bytes
                bad[i] ^= flip
                let threw = bad.withUnsafeBytes { raw -> Bool in
                    do { _ = try ModelFile.decode(raw, source: "m"); return false } catch { return true }
                }
                #expect(threw, "flipping byte \(i) with \(flip) went unnoticed")
            }
        }
    }

    @Test func corruptionMessages() throws {
        let dir = TempDir()
        let bytes = [UInt8](ModelFile.encode(model()))
        let p = dir.at("m")
        func check(_ b: [UInt8], line: Int?, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            dir.write(bytes: b, to: "m")
            expectInputError(file: "m", line: line, fragments, sourceLocation: sourceLocation) { try ModelFile.read(p) }
        }
        var payloadFlip = bytes
        payloadFlip[bytes.count - 3] ^= 0x10
        check(payloadFlip, line: nil, ["checksum mismatch", "corrupted"])
        check(Array(bytes.dropLast(8)), line: nil, ["truncated", "promises 96 payload bytes", "only 88 follow"])
        check(bytes + [0], line: nil, ["1 unexpected bytes after the 96-byte payload"])
        check(Array(bytes.prefix(40)), line: 2, ["truncated", "header line is incomplete"])
        check(Array(bytes.prefix(10)), line: 1, ["truncated"])
        check([], line: nil, ["empty file"])
        check(Array("PK\u{3}\u{4} zip file".utf8), line: 1, ["not a simfluence model file", "SIMFLUENCE-MODEL 1"])
        var future = bytes
        future[17] = UInt8(ascii: "2")
        check(future, line: 1, ["model format version 2", "newer simfluence"])
        // A header edited by hand no longer matches its checksum.
        let needle = Array("\"method\":\"linear\"".utf8)
        let at = try #require((0..<bytes.count).first { Array(bytes[$0..<min(bytes.count, $0 + needle.count)]) == needle })
        var edited = bytes
        edited.replaceSubrange(at..<(at + needle.count), with: Array("\"method\":\"lineal\"".utf8))
        check(edited, line: nil, ["checksum mismatch"])
    }

    @Test func failedWriteLeavesOldModel() throws {
        let dir = TempDir()
        try ModelFile.write(model(), to: dir.at("m"))
        #expect(throws: SimfluenceError.self) { try ModelFile.write(model(), to: dir.at("missing/m")) }
        #expect(dir.listing() == ["m"])
        #expect(bitsEqual(try ModelFile.read(dir.at("m")), model()))
    }
}
