import Foundation
import StitchExporter

/// A network double: the test chooses the connection (offline, cellular, Wi-Fi) at any moment.
public final class NetworkDouble: NetworkPathMonitor, @unchecked Sendable {
    private let lock = NSLock()
    private var status: NetworkStatus

    public init(_ status: NetworkStatus = NetworkStatus(type: .wifi)) { self.status = status }

    public var current: NetworkStatus {
        lock.lock()
        defer { lock.unlock() }
        return status
    }

    public func set(_ newStatus: NetworkStatus) {
        lock.lock()
        status = newStatus
        lock.unlock()
    }
}

/// A power double: Low Power Mode on demand.
public final class PowerDouble: PowerStateProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var lowPower: Bool

    public init(lowPower: Bool = false) { self.lowPower = lowPower }

    public var isLowPowerModeEnabled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return lowPower
    }

    public func set(lowPower newValue: Bool) {
        lock.lock()
        lowPower = newValue
        lock.unlock()
    }
}
