/// The schema's `session_id` format: 32 lowercase hexadecimal characters, not all zero.
///
/// Readers never normalise a session ID (uppercase is invalid, not repaired), so the check is on the exact bytes.
public enum SessionIDFormat {
    /// The number of UTF-8 bytes of a session ID (128 bits written as hex).
    public static let length = 32

    /// Whether `id` is a session ID the schema accepts; every reader and writer of `session.id` must agree on this.
    public static func isValid(_ id: String) -> Bool {
        let bytes = id.utf8
        guard bytes.count == length else { return false }
        var sawNonZero = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0"): continue
            case UInt8(ascii: "1")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): sawNonZero = true
            default: return false
            }
        }
        return sawNonZero
    }
}
