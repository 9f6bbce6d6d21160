import Foundation
import StitchExporter
import StitchOTLP

/// IDs from a seeded generator (SplitMix64), so a run with the same seed produces the same IDs: the wire fixtures
/// and `--seed` in the demo rely on it. Not for apps: its IDs are predictable.
public final class SeededIDGenerator: IDGenerator, @unchecked Sendable {
    private let lock = NSLock()
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    private func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private func nonZero() -> UInt64 {
        for _ in 0..<8 {
            let v = next()
            if v != 0 { return v }
        }
        return 1
    }

    public func traceID() -> TraceID { TraceID(high: nonZero(), low: next()) }

    public func spanID() -> SpanID { SpanID(nonZero()) }

    public func sessionID() -> String { traceID().hex }
}
