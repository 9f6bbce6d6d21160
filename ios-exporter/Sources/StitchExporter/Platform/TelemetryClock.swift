import Foundation

/// One reading of the device's clocks: wall time (which the user or the network may move) and the monotonic clock
/// (time since boot, which only moves forward within a boot).
public struct ClockReading: Sendable, Equatable {
    public var wallNanos: UInt64
    public var monotonicNanos: UInt64

    public init(wallNanos: UInt64, monotonicNanos: UInt64) {
        self.wallNanos = wallNanos
        self.monotonicNanos = monotonicNanos
    }

    public var wallMillis: Int64 { Int64(wallNanos / 1_000_000) }
}

/// Where the exporter reads time. The system clock in apps; a manual clock in tests (18 hours later on demand).
public protocol TelemetryClock: Sendable {
    func now() -> ClockReading
}

/// The device's real clocks.
public struct SystemClock: TelemetryClock {
    public init() {}

    public func now() -> ClockReading {
        let wall = Date().timeIntervalSince1970
        return ClockReading(
            wallNanos: wall > 0 ? UInt64(wall * 1_000_000_000) : 0,
            monotonicNanos: DispatchTime.now().uptimeNanoseconds)
    }
}
