/// Supplies the pseudonymisation key that installation and user identifiers are hashed with (HMAC-SHA-256, at least
/// 32 bytes). The key belongs to the app's project, not to the analytics data: fetch it from your backend or the
/// keychain; never put it in telemetry.
public protocol HMACKeyProvider: Sendable {
    func pseudonymisationKey() throws -> [UInt8]
}

/// A key the app already holds in memory.
public struct StaticHMACKey: HMACKeyProvider {
    private let key: [UInt8]

    public init(_ key: [UInt8]) { self.key = key }

    public func pseudonymisationKey() throws -> [UInt8] { key }
}
