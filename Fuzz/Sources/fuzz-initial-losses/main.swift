import FuzzSupport
@_spi(Fuzzing) import Simfluence

/// InitialLossFile parsing (object or JSON lines) on arbitrary bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInitialLosses(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let losses = try? ByteLevelParsing.initialLosses(bytes) else { return 0 }
    FuzzInput.check(losses.values.allSatisfy { $0.isFinite }, "accepted a non-finite starting loss")
    return 0
}

// SwiftPM gives executables their own entry point, so start libFuzzer's driver from it.
FuzzInput.runLibFuzzer(fuzzInitialLosses)
