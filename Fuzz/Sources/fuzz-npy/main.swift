import FuzzSupport
@_spi(Fuzzing) import Simfluence

/// NPY.decode on arbitrary bytes: must return an array or throw an input error, never crash.
/// A decoded array must re-encode to bytes that decode to the same array, bit for bit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let array = try? NPY.decode(bytes, source: "fuzz.npy") else { return 0 }
    FuzzInput.check(array.shape.reduce(1, *) == array.values.count, "shape \(array.shape) vs \(array.values.count) values")
    guard array.dtype == .float64, let again = try? NPY.encode(array.values, shape: array.shape) else { return 0 }
    let back = again.withUnsafeBytes { try? NPY.decode($0, source: "again.npy") }
    FuzzInput.check(back?.shape == array.shape && back?.values.map(\.bitPattern) == array.values.map(\.bitPattern),
                    "float64 round trip changed the array")
    return 0
}

// SwiftPM gives executables their own entry point, so start libFuzzer's driver from it.
FuzzInput.runLibFuzzer(fuzzNPY)
