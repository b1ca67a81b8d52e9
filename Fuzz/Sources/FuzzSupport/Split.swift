/// Splitting one fuzz input into several files.
///
/// Multi-file targets (a log's header, curriculum and losses) read one input as files separated
/// by `separator`; seeds are built the same way by `make-seeds.sh`.
public enum FuzzInput {
    /// The separator between files of one input: a line unlikely inside any of them.
    public static let separator: [UInt8] = Array("\n--8<--\n".utf8)

    /// `bytes` cut at every separator, at most `limit` parts (the last keeps the rest).
    public static func split(_ bytes: UnsafeRawBufferPointer, limit: Int) -> [[UInt8]] {
        var parts: [[UInt8]] = []
        var start = 0
        var i = 0
        let sep = separator
        while i + sep.count <= bytes.count, parts.count < limit - 1 {
            var match = true
            for k in 0..<sep.count where bytes[i + k] != sep[k] { match = false; break }
            if match {
                parts.append(Array(bytes[start..<i]))
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        parts.append(Array(bytes[start..<bytes.count]))
        return parts
    }

    /// Stops the fuzzer with a message when an invariant fails (libFuzzer records it as a crash).
    public static func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { fatalError("invariant violated: \(message())") }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry for programs that have their own `main` (SwiftPM executables do).
@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

extension FuzzInput {
    /// Runs libFuzzer with this process's arguments on `callback`, then exits with its status.
    public static func runLibFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(llvmFuzzerRunDriver(&argc, &argv, callback))
    }
}
