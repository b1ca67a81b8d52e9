import Foundation
import Testing
@testable import Simfluence

@Suite struct NPYTests {
    /// Raw .npy bytes with the given header dict text (version 1.0) and data bytes.
    func raw(_ dict: String, data: [UInt8], major: UInt8 = 1) -> [UInt8] {
        var header = Array(dict.utf8) + [0x0A]
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
        if major == 1 {
            out += [UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        } else {
            out += [UInt8(header.count & 0xFF), UInt8(header.count >> 8), 0, 0]
        }
        out += header
        header.removeAll()
        return out + data
    }

    func f8(_ values: [Double]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    @Test func roundTripsFloat64AndFloat32() throws {
        let dir = TempDir()
        let values = [0.1, -0.0, Double.leastNonzeroMagnitude, 1e300, -2.5, .pi]
        try NPY.write(values, shape: [2, 3], to: dir.at("a.npy"))
        let a = try NPY.read(dir.at("a.npy"))
        #expect(a.shape == [2, 3] && a.dtype == .float64)
        #expect(a.values.map(\.bitPattern) == values.map(\.bitPattern))
        #expect(a.matrix == Matrix(rows: 2, columns: 3, storage: values))
        // Header is padded so the data starts on a 64-byte boundary, as NumPy does.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.at("a.npy")))
        #expect((bytes.count - 48) % 64 == 0)
        try NPY.write(values, shape: [6], dtype: .float32, to: dir.at("b.npy"))
        let b = try NPY.read(dir.at("b.npy"))
        #expect(b.shape == [6] && b.dtype == .float32)
        #expect(b.values == values.map { Double(Float($0)) })
        // Empty arrays are fine.
        try NPY.write([], shape: [0, 4], to: dir.at("c.npy"))
        #expect(try NPY.read(dir.at("c.npy")).shape == [0, 4])
    }

    @Test func readsHandWrittenHeaders() throws {
        let dir = TempDir()
        // Python-2 style spacing, double quotes, version 2.0 and unaligned data all work.
        dir.write(bytes: raw("{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(2,)}", data: f8([1.5, -3])), to: "a.npy")
        #expect(try NPY.read(dir.at("a.npy")).values == [1.5, -3])
        dir.write(bytes: raw("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }   ", data: f8([7, 8]), major: 2), to: "b.npy")
        #expect(try NPY.read(dir.at("b.npy")) == NPYArray(shape: [1, 2], dtype: .float64, values: [7, 8]))
    }

    @Test func rejectsWhatItCannotRead() {
        let dir = TempDir()
        func check(_ bytes: [UInt8], _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            let p = dir.write(bytes: bytes, to: "x.npy")
            expectInputError(file: "x.npy", line: nil, fragments, sourceLocation: sourceLocation) { try NPY.read(p) }
        }
        let ok = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"
        check([], ["empty file"])
        check(Array("hello world, not numpy".utf8), ["not a .npy file", "magic"])
        check(raw(ok, data: f8([1, 2, 3])).prefix(8).map { $0 }, ["only 8 bytes"])
        check(raw(ok, data: f8([1, 2])), ["truncated data", "needs 24 data bytes", "has 16 bytes after its"])
        check(raw(ok, data: f8([1, 2, 3, 4])), ["unexpected extra data", "needs 24 data bytes", "has 32 bytes"])
        check(raw("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", data: f8([1, 2, 3])), ["unsupported dtype '>f8'", "big-endian"])
        check(raw("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", data: f8([1, 2, 3])), ["unsupported dtype '|O'", "object array"])
        check(raw("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", data: f8([1, 2, 3])), ["unsupported dtype '<i8'"])
        check(raw("{'descr': '<f8', 'fortran_order': True, 'shape': (3, 1), }", data: f8([1, 2, 3])), ["fortran_order is True"])
        check(raw("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 3), }", data: f8([1, 2, 3])), ["1-D or 2-D", "(1, 1, 3)"])
        check(raw("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", data: f8([1])), ["1-D or 2-D", "0-D"])
        check(raw("{'descr': '<f8', 'fortran_order': False}", data: f8([1])), ["no 'shape' entry"])
        check(raw("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}", data: f8([1])), ["structured dtypes"])
        check(raw("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999, ), }", data: []), ["too large"])
        var big = raw(ok, data: f8([1, 2, 3]))
        big[8] = 0xFF; big[9] = 0xFF
        check(big, ["truncated .npy header", "65535 header bytes"])
        var v9 = raw(ok, data: f8([1, 2, 3]))
        v9[6] = 9
        check(v9, ["unsupported .npy format version 9.0"])
    }
}
