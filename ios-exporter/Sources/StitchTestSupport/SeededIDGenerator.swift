import Foundation
import StitchExporter
import StitchOTLP

/// IDs from a seeded generator (SplitMix64), so a run with the same seed produces the same IDs: the wire fixtures
/// and `--seed` in the demo rely on it. Not for apps: its IDs are predictable.
public final class SeededIDGenerator: IDGenerator, @unchecked Sendable {
    private let lock = NSLock()
    private var generator: SplitMix64

    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    private func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return generator.next()
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
