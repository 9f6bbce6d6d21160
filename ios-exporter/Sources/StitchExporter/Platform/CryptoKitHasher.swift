#if canImport(CryptoKit)
    import CryptoKit
    import Foundation

    /// HMAC-SHA-256 by CryptoKit, which uses the hardware's SHA extensions.
    public struct CryptoKitHasher: KeyedHasher {
        public init() {}

        public func hmacSHA256(message: [UInt8], key: [UInt8]) -> [UInt8] {
            let mac = HMAC<CryptoKit.SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
            return Array(mac)
        }
    }
#endif
