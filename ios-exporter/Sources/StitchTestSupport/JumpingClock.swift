import Foundation
import StitchExporter

/// A clock double that runs in real time but can jump forward on demand (the app spending 16 minutes in the
/// background in a demo that takes seconds). Starts `behindMillis` in the past so that, after its jumps, a run ends
/// near the real time and a real store sees fresh data.
public final class JumpingClock: TelemetryClock, @unchecked Sendable {
    private let lock = NSLock()
    private var jumpedNanos: UInt64 = 0
    private let startOffsetNanos: Int64
    private let system = SystemClock()

    public init(behindMillis: Int64 = 0) { startOffsetNanos = -behindMillis * 1_000_000 }

    public func now() -> ClockReading {
        let r = system.now()
        lock.lock()
        let j = jumpedNanos
        lock.unlock()
        let wall = Int64(r.wallNanos) + startOffsetNanos + Int64(j)
        return ClockReading(wallNanos: UInt64(max(0, wall)), monotonicNanos: r.monotonicNanos + j)
    }

    public func jump(milliseconds: Int64) {
        lock.lock()
        jumpedNanos += UInt64(max(0, milliseconds)) * 1_000_000
        lock.unlock()
    }
}
