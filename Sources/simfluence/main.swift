import Foundation
import Simfluence
import SimfluenceCommands

// SIMFLUENCE_CG_TRACE (any value): the conjugate-gradient solver reports every block's
// iterations, to standard error (diagnostics only; the core does no I/O of its own).
if ProcessInfo.processInfo.environment["SIMFLUENCE_CG_TRACE"] != nil {
    IterativeRidge.trace = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
}

runSimfluence()
