import FuzzSupport
@_spi(Fuzzing) import Simfluence

/// CurriculumFile parsing (JSON lines or array form) on arbitrary bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCurriculum(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let batches = try? ByteLevelParsing.curriculum(bytes) else { return 0 }
    FuzzInput.check(!batches.isEmpty && batches.allSatisfy { !$0.isEmpty }, "accepted an empty curriculum or batch")
    return 0
}

// SwiftPM gives executables their own entry point, so start libFuzzer's driver from it.
FuzzInput.runLibFuzzer(fuzzCurriculum)
