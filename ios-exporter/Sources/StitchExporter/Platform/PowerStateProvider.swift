import Foundation

/// Whether the device asks apps to save power. Low Power Mode stretches the upload schedule.
public protocol PowerStateProvider: Sendable {
    var isLowPowerModeEnabled: Bool { get }
}

/// `ProcessInfo.isLowPowerModeEnabled` where the platform has it (iOS); false elsewhere.
public struct SystemPowerState: PowerStateProvider {
    public init() {}

    public var isLowPowerModeEnabled: Bool {
        #if os(iOS) || os(watchOS)
            return ProcessInfo.processInfo.isLowPowerModeEnabled
        #else
            return false
        #endif
    }
}
