import Foundation
import FuzzSupport
@_spi(Fuzzing) import Simfluence

/// ModelFile.decode on arbitrary bytes, and on the same bytes with their checksum recomputed (to
/// reach the checks behind it). A decoded model must re-encode and decode to the same model.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = try? ModelFile.decode(bytes, source: "fuzz.simfluence")
    let sealed = ByteLevelParsing.resealingModel(Array(bytes))
    guard let model = sealed.withUnsafeBytes({ try? ModelFile.decode($0, source: "sealed.simfluence") }) else { return 0 }
    // What `simulate` does with a model: index its ids, resolve and roll out a curriculum.
    FuzzInput.check(Set(model.trainIDs).count == model.trainIDs.count && Set(model.testIDs).count == model.testIDs.count,
                    "accepted repeated ids")
    let curriculum = [Array(model.trainIDs.prefix(2)), Array(model.trainIDs.suffix(1))].filter { !$0.isEmpty }
    if let batches = try? model.resolve(curriculum, unseen: .zero, source: "fuzz") {
        _ = model.simulate(batches, initial: model.startingLosses)
    }
    let again = ModelFile.encode(model)
    let back = again.withUnsafeBytes { try? ModelFile.decode($0, source: "again.simfluence") }
    FuzzInput.check(back != nil, "re-encoded model does not decode")
    if let back {
        FuzzInput.check(back.trainIDs == model.trainIDs && back.testIDs == model.testIDs && back.seen == model.seen
                        && back.a.storage.map(\.bitPattern) == model.a.storage.map(\.bitPattern)
                        && back.b.storage.map(\.bitPattern) == model.b.storage.map(\.bitPattern)
                        && back.metadata == model.metadata && back.startingStep == model.startingStep,
                        "model round trip changed it")
    }
    return 0
}

// SwiftPM gives executables their own entry point, so start libFuzzer's driver from it.
FuzzInput.runLibFuzzer(fuzzModel)
