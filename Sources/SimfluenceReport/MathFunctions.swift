#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(ucrt)
import ucrt
#endif

/// Base-10 logarithm (libm), for log axes and number formatting.
@inline(__always) func decimalLog(_ x: Double) -> Double { log10(x) }

/// 10 raised to `x` (libm).
@inline(__always) func tenToThe(_ x: Double) -> Double { pow(10, x) }
