/// A W3C trace context as carried by `traceparent`: the trace, the parent span and the flags Stitch keeps.
public struct TraceContext: Sendable, Equatable {
    /// Bit 0x01 of the trace flags: the caller recorded the span.
    public static let sampledFlag: UInt8 = 0x01
    /// Bit 0x02 of the trace flags (W3C Trace Context Level 2): the trace-id's right 56 bits are random.
    public static let randomFlag: UInt8 = 0x02
    /// The only flag bits Stitch keeps; unknown bits are dropped on decode and encode alike.
    public static let knownFlags: UInt8 = sampledFlag | randomFlag

    /// 32 lowercase hex characters.
    public let traceID: String
    /// The parent span, 16 lowercase hex characters.
    public let spanID: String
    /// The trace flags, with only 0x01 (sampled) and 0x02 (random) kept.
    public let flags: UInt8

    /// A context from parts already known to be valid (`Traceparent.decode` checks them; `encode` checks again).
    /// Unknown flag bits are dropped so that equal contexts compare equal.
    public init(traceID: String, spanID: String, flags: UInt8) {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags & Self.knownFlags
    }

    /// Whether the upstream caller sampled the trace.
    public var sampled: Bool { flags & Self.sampledFlag != 0 }
    /// Whether the trace-id is declared random (W3C Level 2).
    public var random: Bool { flags & Self.randomFlag != 0 }
}

/// The W3C `traceparent` header under the schema's rules (`rules.propagation.traceparent`).
///
/// Decoding reports the first failing condition of the schema's `error_order`, so every implementation gives the
/// same reason code for the same header. Encoding is on every outgoing request, so it works on UTF-8 bytes and
/// builds the 55-byte header in place.
public enum Traceparent {
    /// Stitch's own limit (W3C sets none for future versions), checked before parsing.
    public static let maxLength = 512
    /// The length of every header Stitch writes: version 00 with its four fields.
    public static let version00Length = 55

    private static let dash = UInt8(ascii: "-")
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The context of a received header, or the reason code of the first schema condition that fails:
    /// `empty, oversized, malformed, bad_hex, bad_version, extra_fields, bad_flags, zero_trace_id, zero_span_id`.
    /// The header is used as received (no trimming). A future version may carry more fields, which are ignored.
    public static func decode(_ header: String) -> Result<TraceContext, ReasonCode> {
        let bytes = header.utf8
        if bytes.isEmpty { return .failure(.empty) }
        if bytes.count > maxLength { return .failure(.oversized) }

        // Field boundaries: the first four fields, and whether a fifth one exists.
        var fieldStarts: [String.UTF8View.Index] = [bytes.startIndex]
        var fieldEnds: [String.UTF8View.Index] = []
        fieldStarts.reserveCapacity(4)
        fieldEnds.reserveCapacity(4)
        var hasExtraFields = false
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == dash {
                if fieldEnds.count == 3 {
                    hasExtraFields = true
                    fieldEnds.append(index)
                    break
                }
                fieldEnds.append(index)
                fieldStarts.append(bytes.index(after: index))
            }
            index = bytes.index(after: index)
        }
        if fieldEnds.count < 4 { fieldEnds.append(bytes.endIndex) }
        guard fieldStarts.count == 4, fieldEnds.count == 4 else { return .failure(.malformed) }

        let fields = (0..<4).map { bytes[fieldStarts[$0]..<fieldEnds[$0]] }
        for (field, length) in zip(fields, [2, 32, 16, 2]) where field.count != length {
            return .failure(.malformed)
        }
        for field in fields where !field.allSatisfy(isLowercaseHex) {
            return .failure(.badHex)
        }
        let version = byteValue(fields[0])
        let flags = byteValue(fields[3])
        if version == 0xff { return .failure(.badVersion) }
        if version == 0x00, hasExtraFields { return .failure(.extraFields) }
        if version == 0x00, flags & ~TraceContext.knownFlags != 0 { return .failure(.badFlags) }
        if fields[1].allSatisfy({ $0 == UInt8(ascii: "0") }) { return .failure(.zeroTraceID) }
        if fields[2].allSatisfy({ $0 == UInt8(ascii: "0") }) { return .failure(.zeroSpanID) }
        return .success(
            TraceContext(
                traceID: String(decoding: fields[1], as: UTF8.self), spanID: String(decoding: fields[2], as: UTF8.self),
                flags: flags))
    }

    /// The header for an outgoing request. `traceID` is 32 lowercase hex characters, or 16 that are left-padded with
    /// zeros; `spanID` is 16. Always writes version `00` and keeps only flag bits 0x01 and 0x02. Fails with
    /// `bad_trace_id`, `zero_trace_id`, `bad_span_id` or `zero_span_id`, checked in that order.
    public static func encode(traceID: String, spanID: String, flags: UInt8) -> Result<String, ReasonCode> {
        let trace = traceID.utf8
        let span = spanID.utf8
        guard trace.count == 32 || trace.count == 16, trace.allSatisfy(isLowercaseHex) else {
            return .failure(.badTraceID)
        }
        if trace.allSatisfy({ $0 == UInt8(ascii: "0") }) { return .failure(.zeroTraceID) }
        guard span.count == 16, span.allSatisfy(isLowercaseHex) else { return .failure(.badSpanID) }
        if span.allSatisfy({ $0 == UInt8(ascii: "0") }) { return .failure(.zeroSpanID) }

        let keptFlags = flags & TraceContext.knownFlags
        let padding = 32 - trace.count
        let header = String(unsafeUninitializedCapacity: version00Length) { buffer in
            var written = 0
            func put(_ byte: UInt8) {
                guard written < buffer.count else { return }
                buffer[written] = byte
                written += 1
            }
            put(UInt8(ascii: "0"))
            put(UInt8(ascii: "0"))
            put(dash)
            for _ in 0..<padding { put(UInt8(ascii: "0")) }
            for byte in trace { put(byte) }
            put(dash)
            for byte in span { put(byte) }
            put(dash)
            put(hexDigits[Int(keptFlags >> 4)])
            put(hexDigits[Int(keptFlags & 0x0f)])
            return written
        }
        return .success(header)
    }

    private static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    /// The value of two lowercase hex digits already checked by `isLowercaseHex`.
    private static func byteValue(_ field: Substring.UTF8View) -> UInt8 {
        field.reduce(0) { value, byte in
            let digit = byte <= UInt8(ascii: "9") ? byte &- UInt8(ascii: "0") : byte &- UInt8(ascii: "a") &+ 10
            return value << 4 | (digit & 0x0f)
        }
    }
}
