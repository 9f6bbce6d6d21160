/// A reason code of the schema's `reason_codes` list: why an input was rejected.
///
/// The raw values are the schema's codes exactly; `SchemaCatalogTests` fails when this list and the schema drift.
public enum ReasonCode: String, Sendable, CaseIterable, Error {
    case empty
    case oversized
    case malformed
    case badHex = "bad_hex"
    case badVersion = "bad_version"
    case extraFields = "extra_fields"
    case badFlags = "bad_flags"
    case zeroTraceID = "zero_trace_id"
    case zeroSpanID = "zero_span_id"
    case badTraceID = "bad_trace_id"
    case badSpanID = "bad_span_id"
    case badSessionID = "bad_session_id"
    case missingSessionID = "missing_session_id"
    case partial
    case badMember = "bad_member"
    case tooManyMembers = "too_many_members"
    case invalidURL = "invalid_url"
    case tooLong = "too_long"
    case weakKey = "weak_key"
    case badRate = "bad_rate"
    case badEvent = "bad_event"
    case idsExhausted = "ids_exhausted"
    case unknownAttribute = "unknown_attribute"
    case forbiddenAttribute = "forbidden_attribute"
    case wrongType = "wrong_type"
    case emptyValue = "empty_value"
    case badCharacters = "bad_characters"
    case badEnum = "bad_enum"
    case patternMismatch = "pattern_mismatch"
    case outOfRange = "out_of_range"
    case piiInURL = "pii_in_url"
    case piiDetected = "pii_detected"
}
