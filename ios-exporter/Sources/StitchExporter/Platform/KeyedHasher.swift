import StitchSchema

/// Computes HMAC-SHA-256. CryptoKit on Apple platforms (`CryptoKitHasher`); the package's own SHA-256 elsewhere,
/// which the schema's `pseudonymous_id` vectors and RFC 4231 prove.
public protocol KeyedHasher: Sendable {
    func hmacSHA256(message: [UInt8], key: [UInt8]) -> [UInt8]
}

/// The portable HMAC-SHA-256 of `StitchSchema`.
public struct PortableHasher: KeyedHasher {
    public init() {}

    public func hmacSHA256(message: [UInt8], key: [UInt8]) -> [UInt8] {
        HMACSHA256.authenticate(message: message, key: key)
    }
}

/// The hasher the platform does best.
enum PlatformHasher {
    static var `default`: any KeyedHasher {
        #if canImport(CryptoKit)
            return CryptoKitHasher()
        #else
            return PortableHasher()
        #endif
    }
}
