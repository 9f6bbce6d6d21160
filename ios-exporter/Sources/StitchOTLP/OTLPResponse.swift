/// The `partial_success` of an OTLP export response: the collector kept the request but refused part of it.
///
/// `rejected` is `rejected_spans` or `rejected_log_records`. A collector may also send `rejected == 0` with a
/// warning in `errorMessage`; such a response is still a full success.
public struct OTLPPartialSuccess: Sendable, Equatable {
    public var rejected: Int64
    public var errorMessage: String

    public init(rejected: Int64 = 0, errorMessage: String = "") {
        self.rejected = rejected
        self.errorMessage = errorMessage
    }
}

/// Why an export response body could not be read.
public enum OTLPResponseDecodingError: Error, Sendable, Equatable {
    /// The body ends inside a field (its key, value or length-delimited content); `offset` is where that field began.
    case truncated(offset: Int)
    /// A varint runs past ten bytes or past 64 bits.
    case malformedVarint(offset: Int)
    /// A key has field number 0 or a wire type protobuf does not define (or groups, which OTLP never uses).
    case invalidKey(offset: Int)
}

/// Reads the `partial_success` of `ExportTraceServiceResponse` and `ExportLogsServiceResponse` bodies (OTLP/HTTP
/// protobuf), which are all a client needs from a 2xx answer.
///
/// The reader trusts nothing in the body: every length is checked against the bytes left, unknown fields are
/// skipped, and a known field sent with another wire type is skipped like an unknown one (as protobuf does).
public enum OTLPResponseDecoder {
    /// The partial success of a trace export response; nil when the body is empty or does not set it.
    public static func partialSuccess(fromTraces body: [UInt8]) throws(OTLPResponseDecodingError)
        -> OTLPPartialSuccess?
    {
        try partialSuccess(from: body)
    }

    /// The partial success of a logs export response; nil when the body is empty or does not set it.
    public static func partialSuccess(fromLogs body: [UInt8]) throws(OTLPResponseDecodingError)
        -> OTLPPartialSuccess?
    {
        try partialSuccess(from: body)
    }

    /// Both responses share one layout: field 1 `partial_success` { 1: int64 rejected, 2: string error_message }.
    private static func partialSuccess(from body: [UInt8]) throws(OTLPResponseDecodingError) -> OTLPPartialSuccess? {
        var reader = ProtobufFieldReader(body, range: 0..<body.count)
        var result: OTLPPartialSuccess?
        while let field = try reader.next() {
            guard field.number == 1, case .lengthDelimited(let range) = field.value else { continue }
            // A repeated embedded message merges into the earlier one, field by field.
            var partial = result ?? OTLPPartialSuccess()
            var inner = ProtobufFieldReader(body, range: range)
            while let innerField = try inner.next() {
                switch (innerField.number, innerField.value) {
                case (1, .varint(let v)):
                    partial.rejected = Int64(bitPattern: v)
                case (2, .lengthDelimited(let r)):
                    partial.errorMessage = String(decoding: body[r], as: UTF8.self)
                default:
                    continue
                }
            }
            result = partial
        }
        return result
    }
}
