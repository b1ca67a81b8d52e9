import Foundation

/// Element types of the `.npy` files simfluence reads and writes: little-endian IEEE floats.
public enum NPYDType: String, Sendable, CaseIterable {
    /// `<f4`: 4-byte little-endian float.
    case float32 = "<f4"
    /// `<f8`: 8-byte little-endian double.
    case float64 = "<f8"

    /// Bytes per element.
    public var size: Int { self == .float32 ? 4 : 8 }
}

/// A 1-D or 2-D array read from a `.npy` file, widened to Double (float32 widens exactly).
public struct NPYArray: Sendable, Equatable {
    /// One entry per dimension (1 or 2 of them).
    public var shape: [Int]
    /// The element type stored in the file.
    public var dtype: NPYDType
    /// Elements in C (row-major) order; `shape.reduce(1, *)` of them.
    public var values: [Double]

    public init(shape: [Int], dtype: NPYDType, values: [Double]) {
        self.shape = shape
        self.dtype = dtype
        self.values = values
    }

    /// The array as a matrix: a 2-D array as is, a 1-D array of n elements as n x 1.
    public var matrix: Matrix {
        let rows = shape.first ?? 0
        let columns = shape.count == 2 ? shape[1] : 1
        return Matrix(rows: rows, columns: columns, storage: values)
    }
}

/// NumPy's `.npy` format (versions 1.0, 2.0, 3.0) for 1-D and 2-D little-endian float32 /
/// float64 arrays in C order. Everything else (big-endian, Fortran order, other dtypes, other
/// ranks, truncated or oversized data) is rejected with a message saying what was found.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads a `.npy` file through a memory map.
    public static func read(_ path: String) throws -> NPYArray {
        let file = try MappedFile(path)
        return try decode(UnsafeRawBufferPointer(file.buffer), source: path)
    }

    /// Decodes `.npy` bytes; `source` names them in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, source: String) throws -> NPYArray {
        let (shape, dtype, dataStart, count) = try layout(bytes, source: source)
        // Written once, straight from the file (no zero fill first: at 800 MB of losses the
        // fill was as slow as the copy).
        let values = [Double](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .float64:
                for i in 0..<count {
                    out[i] = Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: dataStart + 8 * i, as: UInt64.self)))
                }
            case .float32:
                for i in 0..<count {
                    out[i] = Double(Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: UInt32.self))))
                }
            }
            initialized = count
        }
        return NPYArray(shape: shape, dtype: dtype, values: values)
    }

    /// Validates the header and the data size of `.npy` bytes without reading the data: the
    /// shape, element type, offset of the data and number of elements.
    static func layout(_ bytes: UnsafeRawBufferPointer, source: String) throws -> (shape: [Int], dtype: NPYDType, dataStart: Int, count: Int) {
        func fail(_ message: String) -> SimfluenceError { .input(file: source, line: nil, message: message) }
        let n = bytes.count
        guard n >= 10 else {
            throw fail(n == 0 ? "empty file: expected a .npy array" : "not a .npy file: only \(n) bytes, shorter than the smallest header (10 bytes)")
        }
        guard Array(bytes[0..<6]) == magic else {
            throw fail("not a .npy file: expected the magic bytes \\x93NUMPY at the start")
        }
        let major = bytes[6], minor = bytes[7]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard n >= 12 else { throw fail("truncated .npy header: \(n) bytes, expected at least 12 for format version \(major).\(minor)") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
        let dataStart = headerStart + headerLength
        guard dataStart <= n else {
            throw fail("truncated .npy header: it declares \(headerLength) header bytes after byte \(headerStart), but the file has only \(n) bytes")
        }
        let headerText = String(decoding: bytes[headerStart..<dataStart], as: UTF8.self)
        let header: NPYHeader
        do {
            header = try NPYHeader.parse(headerText)
        } catch let NPYHeader.ParseError.message(m) {
            throw fail("malformed .npy header \(JSONText.abbreviated(headerText.trimmingCharacters(in: .whitespacesAndNewlines), limit: 200)): \(m)")
        }
        guard let descr = header.descr else { throw fail("malformed .npy header: no 'descr' entry") }
        guard let dtype = NPYDType(rawValue: descr) else {
            var why = "unsupported dtype '\(descr)': expected '<f4' (float32) or '<f8' (float64), little-endian"
            if descr.hasPrefix(">") { why += "; this array is big-endian, convert it with arr.astype('<f8')" }
            else if descr.contains("O") { why += "; this is an object array" }
            throw fail(why)
        }
        guard let fortran = header.fortranOrder else { throw fail("malformed .npy header: no 'fortran_order' entry") }
        guard !fortran else {
            throw fail("fortran_order is True: only C-order arrays are supported (save numpy.ascontiguousarray(arr))")
        }
        guard let shape = header.shape else { throw fail("malformed .npy header: no 'shape' entry") }
        guard shape.count == 1 || shape.count == 2 else {
            throw fail("expected a 1-D or 2-D array, found shape \(describe(shape: shape)) (\(shape.count)-D)")
        }
        var count = 1
        for d in shape {
            let (m, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw fail("shape \(describe(shape: shape)) is too large") }
            count = m
        }
        let (expected, o) = count.multipliedReportingOverflow(by: dtype.size)
        guard !o else { throw fail("shape \(describe(shape: shape)) is too large") }
        let found = n - dataStart
        guard found == expected else {
            let what = found < expected ? "truncated data" : "unexpected extra data"
            throw fail("\(what): shape \(describe(shape: shape)) of '\(descr)' needs \(expected) data bytes, but the file has \(found) bytes after its \(dataStart)-byte header")
        }
        return (shape, dtype, dataStart, count)
    }

    /// The shape and element type of the `.npy` file at `path`, from its header alone (the data
    /// size is checked, the data not read).
    public static func peek(_ path: String) throws -> (shape: [Int], dtype: NPYDType) {
        let file = try MappedFile(path)
        let l = try layout(UnsafeRawBufferPointer(file.buffer), source: path)
        return (l.shape, l.dtype)
    }

    /// "(3, 4)" or "(5,)" as Python prints shapes.
    public static func describe(shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Encodes `values` (C order) with the given 1-D or 2-D shape. float32 rounds each value to
    /// the nearest Float.
    public static func encode(_ values: [Double], shape: [Int], dtype: NPYDType = .float64) throws -> Data {
        guard shape.count == 1 || shape.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
            throw SimfluenceError.invalidArgument("NPY.encode: shape \(shape) must have 1 or 2 non-negative dimensions")
        }
        guard shape.reduce(1, *) == values.count else {
            throw SimfluenceError.invalidArgument("NPY.encode: shape \(describe(shape: shape)) needs \(shape.reduce(1, *)) values, got \(values.count)")
        }
        var out = header(shape: shape, dtype: dtype)
        let start = out.count
        out.count += values.count * dtype.size
        out.withUnsafeMutableBytes { raw in
            switch dtype {
            case .float64:
                for (i, v) in values.enumerated() {
                    raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: start + 8 * i, as: UInt64.self)
                }
            case .float32:
                for (i, v) in values.enumerated() {
                    raw.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: start + 4 * i, as: UInt32.self)
                }
            }
        }
        return out
    }

    /// The header bytes (magic, version, length, dict padded so data starts on a 64-byte boundary).
    static func header(shape: [Int], dtype: NPYDType) -> Data {
        var dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(describe(shape: shape)), }"
        // Version 1.0 unless the header needs more than 65535 bytes.
        let v1 = dict.utf8.count + 1 + 63 <= 65535
        let prefix = v1 ? 10 : 12
        let total = prefix + dict.utf8.count + 1
        let padded = (total + 63) / 64 * 64
        dict += String(repeating: " ", count: padded - total) + "\n"
        var out = Data(magic)
        let length = dict.utf8.count
        if v1 {
            out.append(contentsOf: [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)])
        } else {
            out.append(contentsOf: [2, 0, UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24)])
        }
        out.append(contentsOf: Array(dict.utf8))
        return out
    }

    /// Writes a 1-D or 2-D array atomically.
    public static func write(_ values: [Double], shape: [Int], dtype: NPYDType = .float64, to path: String) throws {
        try AtomicFile.write(try encode(values, shape: shape, dtype: dtype), to: path)
    }

    /// Writes a matrix as a 2-D array atomically.
    public static func write(_ matrix: Matrix, dtype: NPYDType = .float64, to path: String) throws {
        try write(matrix.storage, shape: [matrix.rows, matrix.columns], dtype: dtype, to: path)
    }
}

/// The Python dict literal in a `.npy` header, e.g.
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`.
struct NPYHeader {
    var descr: String?
    var fortranOrder: Bool?
    var shape: [Int]?

    enum ParseError: Error { case message(String) }

    static func parse(_ text: String) throws -> NPYHeader {
        var s = Substring(text).unicodeScalars[...]
        func skip() { while let c = s.first, c == " " || c == "\n" || c == "\t" || c == "\r" { s.removeFirst() } }
        func fail(_ m: String) -> ParseError { .message(m) }
        func take(_ c: Unicode.Scalar) -> Bool {
            skip()
            if s.first == c { s.removeFirst(); return true }
            return false
        }
        func string() throws -> String {
            skip()
            guard let q = s.first, q == "'" || q == "\"" else { throw fail("expected a quoted string") }
            s.removeFirst()
            var out = String.UnicodeScalarView()
            while let c = s.first, c != q { out.append(c); s.removeFirst() }
            guard !s.isEmpty else { throw fail("unterminated string") }
            s.removeFirst()
            return String(out)
        }
        func integer() throws -> Int {
            skip()
            var digits = ""
            while let c = s.first, ("0"..."9").contains(c) { digits.unicodeScalars.append(c); s.removeFirst() }
            if s.first == "L" { s.removeFirst() }  // Python 2 longs
            guard let v = Int(digits) else { throw fail("expected a non-negative integer in the shape") }
            return v
        }
        var header = NPYHeader()
        guard take("{") else { throw fail("expected '{'") }
        while true {
            if take("}") { break }
            let key = try string()
            guard take(":") else { throw fail("expected ':' after '\(key)'") }
            skip()
            switch key {
            case "descr":
                skip()
                guard s.first == "'" || s.first == "\"" else {
                    throw fail("'descr' is not a simple type string (structured dtypes are not supported)")
                }
                header.descr = try string()
            case "fortran_order":
                skip()
                if s.starts(with: "True".unicodeScalars) { s.removeFirst(4); header.fortranOrder = true }
                else if s.starts(with: "False".unicodeScalars) { s.removeFirst(5); header.fortranOrder = false }
                else { throw fail("expected True or False for 'fortran_order'") }
            case "shape":
                let open: Unicode.Scalar
                if take("(") { open = "(" } else if take("[") { open = "[" } else { throw fail("expected a tuple for 'shape'") }
                let close: Unicode.Scalar = open == "(" ? ")" : "]"
                var dims: [Int] = []
                while !take(close) {
                    dims.append(try integer())
                    if !take(",") {
                        guard take(close) else { throw fail("expected ',' or '\(close)' in the shape") }
                        break
                    }
                }
                header.shape = dims
            default:
                throw fail("unexpected key '\(key)'")
            }
            if !take(",") {
                guard take("}") else { throw fail("expected ',' or '}'") }
                break
            }
        }
        return header
    }
}
