import FuzzSupport
@_spi(Fuzzing) import Simfluence

/// A GPTDynamics log of up to two runs, from one input: curriculum, losses[, curriculum, losses]
/// separated by FuzzInput.separator. Exercises the curriculum and loss-file parsers and the
/// cross-run checks (same test set, columns reordered, vocabulary).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGPTDynamics(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let parts = FuzzInput.split(UnsafeRawBufferPointer(start: data, count: size), limit: 4)
    var runs: [(name: String, curriculum: [UInt8], losses: [UInt8])] = []
    var k = 0
    while k < parts.count {
        runs.append((name: "run\(runs.count + 1)", curriculum: parts[k], losses: k + 1 < parts.count ? parts[k + 1] : []))
        k += 2
    }
    guard let log = try? ByteLevelParsing.gptDynamicsLog(runs) else { return 0 }
    for run in log.runs {
        FuzzInput.check(run.losses.columns == log.testIDs.count, "loss columns")
        FuzzInput.check(run.losses.storage.allSatisfy { $0.isFinite }, "accepted a non-finite loss")
        FuzzInput.check(run.batches.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= 0 && $0 < log.trainIDs.count } }, "batch indices")
    }
    return 0
}

// SwiftPM gives executables their own entry point, so start libFuzzer's driver from it.
FuzzInput.runLibFuzzer(fuzzGPTDynamics)
