import Foundation
import StitchExporter

/// A clock double: time moves only when the test says, so "18 hours later" takes no time. Wall and monotonic
/// clocks move together unless the test sets the wall clock alone (a user changing the device's time).
public final class ManualClock: TelemetryClock, @unchecked Sendable {
    private let lock = NSLock()
    private var reading: ClockReading

    public init(wallMillis: Int64 = 1_765_000_000_000, monotonicNanos: UInt64 = 1_000_000_000) {
        reading = ClockReading(wallNanos: UInt64(wallMillis) * 1_000_000, monotonicNanos: monotonicNanos)
    }

    public func now() -> ClockReading {
        lock.lock()
        defer { lock.unlock() }
        return reading
    }

    /// Moves both clocks forward.
    public func advance(milliseconds: Int64) {
        lock.lock()
        defer { lock.unlock() }
        let n = UInt64(max(0, milliseconds)) * 1_000_000
        reading.wallNanos += n
        reading.monotonicNanos += n
    }

    /// Sets the wall clock alone (forwards or backwards); the monotonic clock keeps running.
    public func setWall(millis: Int64) {
        lock.lock()
        defer { lock.unlock() }
        reading.wallNanos = UInt64(max(0, millis)) * 1_000_000
    }
}
