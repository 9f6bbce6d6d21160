/// The schema's pseudonymous identifiers (`app.installation.id`, `user.id`): HMAC-SHA-256 of the raw identifier.
///
/// The identifier is hashed as its exact UTF-8 bytes (no trimming, no case change), so every platform links the
/// same person or installation to the same value without ever sending the raw identifier.
public enum PseudonymousID {
    /// The shortest key the schema accepts (`rules.privacy.hmac.min_key_bytes`); shorter keys are guessable.
    public static let minKeyBytes = 32

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// 64 lowercase hex characters; `.weakKey` when the key is under `minKeyBytes` (checked first), `.empty` for
    /// an empty identifier.
    public static func hash(_ identifier: String, key: [UInt8]) -> Result<String, ReasonCode> {
        guard key.count >= minKeyBytes else { return .failure(.weakKey) }
        guard !identifier.utf8.isEmpty else { return .failure(.empty) }
        let tag = HMACSHA256.authenticate(message: Array(identifier.utf8), key: key)
        var hex = [UInt8]()
        hex.reserveCapacity(tag.count * 2)
        for byte in tag {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0f)])
        }
        return .success(String(decoding: hex, as: UTF8.self))
    }
}
