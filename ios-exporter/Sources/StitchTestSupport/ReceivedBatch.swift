import StitchOTLP

/// Everything the loopback receiver recorded, as the official OpenTelemetry classes decoded it.
///
/// Spans and log records come back as the exporter's own model types (`SpanData`, `LogRecordData`), so a test can
/// compare what it encoded with what the reference decoder read using `==`.
public struct ReceivedBatch: Sendable {
    /// Export requests in arrival order, including those answered with a fault.
    public let requests: [ReceivedRequest]
    /// Export requests refused before decoding (wrong content type, bad gzip, undecodable protobuf, too large).
    public let rejections: [RejectedRequest]
    /// Requests the receiver forgot because it keeps only the newest 10,000.
    public let droppedRequestCount: Int
    /// Faults still waiting for a request.
    public let pendingFaultCount: Int

    public init(
        requests: [ReceivedRequest], rejections: [RejectedRequest], droppedRequestCount: Int, pendingFaultCount: Int
    ) {
        self.requests = requests
        self.rejections = rejections
        self.droppedRequestCount = droppedRequestCount
        self.pendingFaultCount = pendingFaultCount
    }

    /// Spans of the accepted (2xx) requests, in order; retried attempts answered with a fault are not repeated here.
    public var spans: [ReceivedSpan] { requests.filter(\.accepted).flatMap(\.spans) }

    /// Log records of the accepted (2xx) requests, in order.
    public var logRecords: [ReceivedLogRecord] { requests.filter(\.accepted).flatMap(\.logRecords) }

    /// Unknown protobuf fields across all requests: anything but zero means the encoder wrote a wrong field.
    public var unknownFieldCount: Int { requests.reduce(0) { $0 + $1.unknownFieldCount } }
}

/// One export request the receiver decoded.
public struct ReceivedRequest: Sendable {
    /// Arrival order across all requests the receiver saw (rejected ones included).
    public let sequence: Int
    /// `/v1/traces` or `/v1/logs`.
    public let path: String
    /// Request headers, names lower-cased; repeated headers joined with ", ".
    public let headers: [String: String]
    /// Whether the request was answered with a 2xx status.
    public let accepted: Bool
    /// The HTTP status answered; nil when the connection was dropped instead.
    public let status: Int?
    /// Whether a fault closed the connection without an answer.
    public let dropped: Bool
    /// The `Content-Encoding` header, if any.
    public let contentEncoding: String?
    /// Body bytes as sent.
    public let compressedSize: Int
    /// Body bytes after inflating.
    public let rawSize: Int
    /// Unknown protobuf fields anywhere in the message; must be zero for what the exporter sends.
    public let unknownFieldCount: Int
    /// Where the unknown fields were (the first 50).
    public let unknownFieldPaths: [String]
    /// Whether protobuf's own deterministic serialization of the decoded message gives exactly the bytes sent.
    public let isCanonical: Bool
    /// The message as `MessageToDict(preserving_proto_field_name=True)`, with ids in lowercase hex.
    public let decoded: DecodedJSON
    /// The spans of a `/v1/traces` request, flattened with their resource and scope.
    public let spans: [ReceivedSpan]
    /// The log records of a `/v1/logs` request, flattened with their resource and scope.
    public let logRecords: [ReceivedLogRecord]

    /// The header `name` (any case).
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// An export request the receiver refused before or while decoding it.
public struct RejectedRequest: Sendable, Equatable {
    public let path: String
    public let status: Int
    /// A stable code, e.g. `unsupported_content_type`, `bad_gzip`, `protobuf_decode_failed`, `body_too_large`.
    public let reason: String
    /// Free text for failure messages.
    public let detail: String
    public let headers: [String: String]
}

/// Attributes by key, for assertions that do not care about order.
public struct AttributeMap: Sendable, Equatable {
    /// The attributes in wire order, duplicates kept.
    public let entries: [Attribute]

    public init(_ entries: [Attribute]) { self.entries = entries }

    /// The value of `key`; the last one when a key repeats.
    public subscript(key: String) -> AttributeValue? { entries.last(where: { $0.key == key })?.value }

    public var keys: [String] { entries.map(\.key) }

    public func string(_ key: String) -> String? {
        if case .string(let v)? = self[key] { return v }
        return nil
    }

    public func int(_ key: String) -> Int64? {
        if case .int(let v)? = self[key] { return v }
        return nil
    }

    public func double(_ key: String) -> Double? {
        if case .double(let v)? = self[key] { return v }
        return nil
    }

    public func bool(_ key: String) -> Bool? {
        if case .bool(let v)? = self[key] { return v }
        return nil
    }
}

/// A decoded span with the resource and scope it was sent under.
public struct ReceivedSpan: Sendable, Equatable {
    public let resource: AttributeMap
    public let scope: InstrumentationScope
    /// The span as the reference decoder read it; compare with what was encoded.
    public let span: SpanData

    public var attributes: AttributeMap { AttributeMap(span.attributes) }
}

/// A decoded log record with the resource and scope it was sent under.
public struct ReceivedLogRecord: Sendable, Equatable {
    public let resource: AttributeMap
    public let scope: InstrumentationScope
    /// The record as the reference decoder read it; compare with what was encoded.
    public let record: LogRecordData
    /// `severity_text` as sent (the model derives it from the severity, so it is checked separately).
    public let severityText: String

    public var attributes: AttributeMap { AttributeMap(record.attributes) }
}
