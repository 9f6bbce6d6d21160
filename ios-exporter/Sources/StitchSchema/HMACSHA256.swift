/// HMAC-SHA-256 (RFC 2104 with SHA-256), the keyed hash behind the schema's pseudonymous identifiers.
///
/// Implemented on `SHA256` so that Linux and Apple platforms compute the same bytes without CryptoKit.
public enum HMACSHA256 {
    private static let innerPad: UInt8 = 0x36
    private static let outerPad: UInt8 = 0x5c

    /// The 32-byte tag of `message` under `key`. Any key length works: keys longer than a SHA-256 block are hashed
    /// first and shorter ones are zero-padded, as RFC 2104 requires. Policy on key strength lives with the caller.
    public static func authenticate(message: [UInt8], key: [UInt8]) -> [UInt8] {
        var blockKey = key.count > SHA256.blockByteCount ? SHA256.hash(key) : key
        blockKey.append(contentsOf: repeatElement(0, count: SHA256.blockByteCount - blockKey.count))

        var inner = SHA256()
        inner.update(blockKey.lazy.map { $0 ^ innerPad })
        inner.update(message)
        let innerDigest = inner.finalize()

        var outer = SHA256()
        outer.update(blockKey.lazy.map { $0 ^ outerPad })
        outer.update(innerDigest)
        return outer.finalize()
    }
}
