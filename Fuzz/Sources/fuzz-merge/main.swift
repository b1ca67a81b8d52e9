import FuzzSupport
@_spi(Fuzzing) import Simfluence

/// ShardMerge.merge on up to four model files (parts) from one input, separated by
/// FuzzInput.separator, each decoded as given and with its checksum recomputed (to reach the
/// checks behind it). A merge that succeeds must produce a model the loader accepts, and
/// merging must be insensitive to the order of the parts.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMerge(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let parts = FuzzInput.split(UnsafeRawBufferPointer(start: data, count: size), limit: 4)
    let models = parts.compactMap { bytes in
        ByteLevelParsing.resealingModel(bytes).withUnsafeBytes { try? ModelFile.decode($0, source: "part.simfluence") }
    }
    guard !models.isEmpty, let merged = try? ShardMerge.merge(models) else { return 0 }
    let encoded = ModelFile.encode(merged)
    let back = encoded.withUnsafeBytes { try? ModelFile.decode($0, source: "merged.simfluence") }
    FuzzInput.check(back != nil, "merge produced a model the loader refuses")
    let reversed = try? ShardMerge.merge(models.reversed())
    FuzzInput.check(reversed.map { ModelFile.encode($0) == encoded } ?? false, "merge depends on the order of the parts")
    return 0
}

// SwiftPM gives executables their own entry point, so start libFuzzer's driver from it.
FuzzInput.runLibFuzzer(fuzzMerge)
