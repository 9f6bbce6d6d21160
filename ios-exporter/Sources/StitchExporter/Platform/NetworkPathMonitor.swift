/// The connection the device has now, in the schema's `network.connection.type` / `.subtype` values.
public struct NetworkStatus: Sendable, Equatable {
    public enum ConnectionType: String, Sendable {
        case wifi, wired, cell, unavailable, unknown
    }

    public var type: ConnectionType
    /// Radio technology when `type` is `cell` (schema enum, e.g. `lte`, `nr`); nil when unknown.
    public var subtype: String?

    public init(type: ConnectionType, subtype: String? = nil) {
        self.type = type
        self.subtype = subtype
    }

    public var isReachable: Bool { type != .unavailable }
}

/// Tells the exporter which network the device is on. `NWPathMonitor` on Apple platforms
/// (`ApplePathMonitor`); a fixed answer on Linux; a double in tests (a cellular network on demand).
public protocol NetworkPathMonitor: Sendable {
    var current: NetworkStatus { get }
}

/// For platforms where no path monitor exists: the type is `unknown`, which never holds an upload back.
public struct UnmonitoredNetworkPath: NetworkPathMonitor {
    public init() {}
    public var current: NetworkStatus { NetworkStatus(type: .unknown) }
}
