import FuzzSupport
@_spi(Fuzzing) import Simfluence

/// The gradient-features reader on an index (index.json) and up to four .npy files named
/// ckpt0_train.npy, ckpt0_test.npy, ckpt1_train.npy, ckpt1_test.npy, from one input separated by
/// FuzzInput.separator. Features it accepts must validate and give finite classic scores.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGradients(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let parts = FuzzInput.split(UnsafeRawBufferPointer(start: data, count: size), limit: 5)
    let names = ["ckpt0_train.npy", "ckpt0_test.npy", "ckpt1_train.npy", "ckpt1_test.npy"]
    var files: [String: [UInt8]] = [:]
    for (name, bytes) in zip(names, parts.dropFirst()) { files[name] = bytes }
    guard let features = try? ByteLevelParsing.gradientFeatures(index: parts[0], files: files) else { return 0 }
    FuzzInput.check((try? features.validate()) != nil, "the reader accepted features that do not validate")
    guard features.dimension * (features.trainIDs.count + features.testIDs.count) <= 1 << 16 else { return 0 }
    for score in ClassicScore.allCases {
        if let s = try? ClassicScores.scores(score, features: features, threads: 1) {
            FuzzInput.check(s.rows == features.testIDs.count && s.columns == features.trainIDs.count, "score shape")
        }
    }
    return 0
}

// SwiftPM gives executables their own entry point, so start libFuzzer's driver from it.
FuzzInput.runLibFuzzer(fuzzGradients)
