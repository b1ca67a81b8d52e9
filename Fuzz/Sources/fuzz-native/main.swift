import FuzzSupport
@_spi(Fuzzing) import Simfluence

/// A native-layout log of one run, from one input: header, curriculum and losses.npy separated
/// by FuzzInput.separator.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNative(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let parts = FuzzInput.split(UnsafeRawBufferPointer(start: data, count: size), limit: 3)
    let header = parts[0]
    let curriculum = parts.count > 1 ? parts[1] : []
    let npy = parts.count > 2 ? parts[2] : []
    guard let log = try? ByteLevelParsing.nativeLog(header: header, [(name: "run1", curriculum: curriculum, losses: npy)]) else { return 0 }
    for run in log.runs {
        FuzzInput.check(run.losses.columns == log.testIDs.count, "loss columns")
        FuzzInput.check(run.losses.rows == run.steps - run.firstLossStep + 1, "loss rows")
        FuzzInput.check(run.losses.storage.allSatisfy { $0.isFinite }, "accepted a non-finite loss")
        FuzzInput.check(run.batches.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= 0 && $0 < log.trainIDs.count } }, "batch indices")
    }
    return 0
}

// SwiftPM gives executables their own entry point, so start libFuzzer's driver from it.
FuzzInput.runLibFuzzer(fuzzNative)
