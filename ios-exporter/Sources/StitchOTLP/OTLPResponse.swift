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

/// Walks the fields of one protobuf message within a byte range, without copying.
private struct ProtobufFieldReader {
    enum Value {
        case varint(UInt64)
        case lengthDelimited(Range<Int>)
        case fixed(Int)
    }

    struct Field {
        var number: UInt64
        var value: Value
    }

    private let bytes: [UInt8]
    private var offset: Int
    private let end: Int

    init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        offset = range.lowerBound
        end = range.upperBound
    }

    /// The next field, or nil at the end of the range.
    mutating func next() throws(OTLPResponseDecodingError) -> Field? {
        guard offset < end else { return nil }
        let fieldStart = offset
        let key = try readVarint(fieldStart: fieldStart)
        let number = key >> 3
        guard number != 0, number <= 0x1FFF_FFFF else { throw .invalidKey(offset: fieldStart) }
        switch key & 7 {
        case 0:
            return Field(number: number, value: .varint(try readVarint(fieldStart: fieldStart)))
        case 1:
            return Field(number: number, value: .fixed(try skip(8, fieldStart: fieldStart)))
        case 2:
            let length = try readVarint(fieldStart: fieldStart)
            guard length <= UInt64(end - offset) else { throw .truncated(offset: fieldStart) }
            let start = offset
            offset += Int(length)
            return Field(number: number, value: .lengthDelimited(start..<offset))
        case 5:
            return Field(number: number, value: .fixed(try skip(4, fieldStart: fieldStart)))
        default:
            throw .invalidKey(offset: fieldStart)
        }
    }

    private mutating func skip(_ count: Int, fieldStart: Int) throws(OTLPResponseDecodingError) -> Int {
        guard end - offset >= count else { throw .truncated(offset: fieldStart) }
        let start = offset
        offset += count
        return start
    }

    private mutating func readVarint(fieldStart: Int) throws(OTLPResponseDecodingError) -> UInt64 {
        let varintStart = offset
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw .truncated(offset: fieldStart) }
            let byte = bytes[offset]
            offset += 1
            // The tenth byte may only carry the 64th bit.
            if shift == 63 && byte > 1 { throw .malformedVarint(offset: varintStart) }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { throw .malformedVarint(offset: varintStart) }
        }
    }
}
