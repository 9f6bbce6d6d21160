import Foundation
import StitchOTLP

/// Turns the receiver's `GET /control/received` report into typed values.
///
/// Strict on purpose: an OTLP field the exporter's model has no place for (links, dropped counts, schema URLs, an
/// empty `AnyValue`) is an error naming where it was, because the encoder must never write one.
enum ReceivedReportReader {
    static func batch(_ report: DecodedJSON) throws(OTLPReceiverError) -> ReceivedBatch {
        let requests = try list(report["requests"], "requests").enumerated().map {
            (index, json) throws(OTLPReceiverError) in try request(json, "requests[\(index)]")
        }
        let rejections = try list(report["errors"], "errors").enumerated().map {
            (index, json) throws(OTLPReceiverError) in try rejection(json, "errors[\(index)]")
        }
        return ReceivedBatch(
            requests: requests, rejections: rejections,
            droppedRequestCount: Int(try int64(report["dropped_requests"], "dropped_requests")),
            pendingFaultCount: Int(try int64(report["pending_faults"], "pending_faults")))
    }

    // MARK: Report records

    private static func request(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError) -> ReceivedRequest {
        let urlPath = try string(json["path"], path + ".path")
        let decoded = json["decoded"] ?? .object([:])
        var spans: [ReceivedSpan] = []
        var logs: [ReceivedLogRecord] = []
        switch urlPath {
        case "/v1/traces": spans = try traces(decoded, path + ".decoded")
        case "/v1/logs": logs = try logRecords(decoded, path + ".decoded")
        default: throw .unexpectedPayload(path: path + ".path", problem: "unknown export path \(urlPath)")
        }
        let status: Int?
        if case .null? = json["status"] {
            status = nil
        } else {
            status = Int(try int64(json["status"], path + ".status"))
        }
        return ReceivedRequest(
            sequence: Int(try int64(json["sequence"], path + ".sequence")),
            path: urlPath,
            headers: try headers(json["headers"], path + ".headers"),
            accepted: json["accepted"]?.boolValue ?? false,
            status: status,
            dropped: json["dropped"]?.boolValue ?? false,
            contentEncoding: json["content_encoding"]?.stringValue,
            compressedSize: Int(try int64(json["compressed_size"], path + ".compressed_size")),
            rawSize: Int(try int64(json["raw_size"], path + ".raw_size")),
            unknownFieldCount: Int(try int64(json["unknown_fields"], path + ".unknown_fields")),
            unknownFieldPaths: try list(json["unknown_field_paths"], path).compactMap(\.stringValue),
            isCanonical: json["canonical"]?.boolValue ?? false,
            decoded: decoded,
            spans: spans,
            logRecords: logs)
    }

    private static func rejection(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError) -> RejectedRequest {
        RejectedRequest(
            path: try string(json["path"], path + ".path"),
            status: Int(try int64(json["status"], path + ".status")),
            reason: try string(json["reason"], path + ".reason"),
            detail: try string(json["detail"], path + ".detail"),
            headers: try headers(json["headers"], path + ".headers"))
    }

    private static func headers(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in try object(json, path, allowed: nil) {
            out[name] = try string(value, path + "." + name)
        }
        return out
    }

    // MARK: OTLP messages

    private static func traces(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError) -> [ReceivedSpan] {
        var out: [ReceivedSpan] = []
        let request = try object(json, path, allowed: ["resource_spans"])
        for (i, resourceJSON) in try list(request["resource_spans"], path + ".resource_spans").enumerated() {
            let rPath = path + ".resource_spans[\(i)]"
            let resourceSpans = try object(resourceJSON, rPath, allowed: ["resource", "scope_spans"])
            let resource = try self.resource(resourceSpans["resource"], rPath + ".resource")
            for (j, scopeJSON) in try list(resourceSpans["scope_spans"], rPath + ".scope_spans").enumerated() {
                let sPath = rPath + ".scope_spans[\(j)]"
                let scopeSpans = try object(scopeJSON, sPath, allowed: ["scope", "spans"])
                let scope = try self.scope(scopeSpans["scope"], sPath + ".scope")
                for (k, spanJSON) in try list(scopeSpans["spans"], sPath + ".spans").enumerated() {
                    let span = try self.span(spanJSON, sPath + ".spans[\(k)]")
                    out.append(ReceivedSpan(resource: resource, scope: scope, span: span))
                }
            }
        }
        return out
    }

    private static func logRecords(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError)
        -> [ReceivedLogRecord]
    {
        var out: [ReceivedLogRecord] = []
        let request = try object(json, path, allowed: ["resource_logs"])
        for (i, resourceJSON) in try list(request["resource_logs"], path + ".resource_logs").enumerated() {
            let rPath = path + ".resource_logs[\(i)]"
            let resourceLogs = try object(resourceJSON, rPath, allowed: ["resource", "scope_logs"])
            let resource = try self.resource(resourceLogs["resource"], rPath + ".resource")
            for (j, scopeJSON) in try list(resourceLogs["scope_logs"], rPath + ".scope_logs").enumerated() {
                let sPath = rPath + ".scope_logs[\(j)]"
                let scopeLogs = try object(scopeJSON, sPath, allowed: ["scope", "log_records"])
                let scope = try self.scope(scopeLogs["scope"], sPath + ".scope")
                for (k, recordJSON) in try list(scopeLogs["log_records"], sPath + ".log_records").enumerated() {
                    let (record, text) = try logRecord(recordJSON, sPath + ".log_records[\(k)]")
                    out.append(ReceivedLogRecord(resource: resource, scope: scope, record: record, severityText: text))
                }
            }
        }
        return out
    }

    private static func resource(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> AttributeMap {
        let resource = try object(json, path, allowed: ["attributes"])
        return AttributeMap(try attributes(resource["attributes"], path + ".attributes"))
    }

    private static func scope(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> InstrumentationScope {
        let scope = try object(json, path, allowed: ["name", "version"])
        return InstrumentationScope(
            name: try string(scope["name"], path + ".name"), version: try string(scope["version"], path + ".version"))
    }

    private static let spanKeys: Set<String> = [
        "trace_id", "span_id", "trace_state", "parent_span_id", "flags", "name", "kind", "start_time_unix_nano",
        "end_time_unix_nano", "attributes", "events", "status",
    ]

    private static func span(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError) -> SpanData {
        let span = try object(json, path, allowed: spanKeys)
        guard let traceID = try self.traceID(span["trace_id"], path + ".trace_id") else {
            throw .unexpectedPayload(path: path, problem: "span without trace_id")
        }
        guard let spanID = try self.spanID(span["span_id"], path + ".span_id") else {
            throw .unexpectedPayload(path: path, problem: "span without span_id")
        }
        let kindName = try string(span["kind"], path + ".kind")
        guard let kind = kindName.isEmpty ? .unspecified : spanKinds[kindName] else {
            throw .unexpectedPayload(path: path + ".kind", problem: "unknown span kind \(kindName)")
        }
        var events: [SpanEvent] = []
        for (i, eventJSON) in try list(span["events"], path + ".events").enumerated() {
            let ePath = path + ".events[\(i)]"
            let event = try object(eventJSON, ePath, allowed: ["time_unix_nano", "name", "attributes"])
            events.append(
                SpanEvent(
                    name: try string(event["name"], ePath + ".name"),
                    timeUnixNano: try uint64(event["time_unix_nano"], ePath + ".time_unix_nano"),
                    attributes: try attributes(event["attributes"], ePath + ".attributes")))
        }
        let status = try object(span["status"], path + ".status", allowed: ["message", "code"])
        let codeName = try string(status["code"], path + ".status.code")
        guard let code = codeName.isEmpty ? .unset : statusCodes[codeName] else {
            throw .unexpectedPayload(path: path + ".status.code", problem: "unknown status code \(codeName)")
        }
        return SpanData(
            traceID: traceID,
            spanID: spanID,
            parentSpanID: try self.spanID(span["parent_span_id"], path + ".parent_span_id"),
            traceState: try string(span["trace_state"], path + ".trace_state"),
            name: try string(span["name"], path + ".name"),
            kind: kind,
            startTimeUnixNano: try uint64(span["start_time_unix_nano"], path + ".start_time_unix_nano"),
            endTimeUnixNano: try uint64(span["end_time_unix_nano"], path + ".end_time_unix_nano"),
            attributes: try attributes(span["attributes"], path + ".attributes"),
            events: events,
            status: SpanStatus(code: code, message: try string(status["message"], path + ".status.message")),
            flags: UInt32(truncatingIfNeeded: try int64(span["flags"], path + ".flags")))
    }

    private static let logKeys: Set<String> = [
        "time_unix_nano", "observed_time_unix_nano", "severity_number", "severity_text", "body", "attributes", "flags",
        "trace_id", "span_id", "event_name",
    ]

    private static func logRecord(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError)
        -> (LogRecordData, String)
    {
        let log = try object(json, path, allowed: logKeys)
        let severityName = try string(log["severity_number"], path + ".severity_number")
        guard let severity = severityName.isEmpty ? .unspecified : severities[severityName] else {
            throw .unexpectedPayload(path: path + ".severity_number", problem: "unexpected severity \(severityName)")
        }
        let body: AttributeValue? = try log["body"].map { (b) throws(OTLPReceiverError) in
            try anyValue(b, path + ".body")
        }
        let record = LogRecordData(
            timeUnixNano: try uint64(log["time_unix_nano"], path + ".time_unix_nano"),
            observedTimeUnixNano: try uint64(log["observed_time_unix_nano"], path + ".observed_time_unix_nano"),
            severity: severity,
            body: body,
            attributes: try attributes(log["attributes"], path + ".attributes"),
            traceID: try traceID(log["trace_id"], path + ".trace_id"),
            spanID: try spanID(log["span_id"], path + ".span_id"),
            flags: UInt32(truncatingIfNeeded: try int64(log["flags"], path + ".flags")),
            eventName: try string(log["event_name"], path + ".event_name"))
        return (record, try string(log["severity_text"], path + ".severity_text"))
    }

    // MARK: Attributes

    private static func attributes(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> [Attribute] {
        try list(json, path).enumerated().map { (i, kv) throws(OTLPReceiverError) in try keyValue(kv, "\(path)[\(i)]") }
    }

    private static func keyValue(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError) -> Attribute {
        let kv = try object(json, path, allowed: ["key", "value"])
        guard let value = kv["value"] else {
            throw .unexpectedPayload(path: path, problem: "KeyValue without value")
        }
        return Attribute(try string(kv["key"], path + ".key"), try anyValue(value, path + ".value"))
    }

    private static func anyValue(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError) -> AttributeValue {
        let members = try object(json, path, allowed: nil)
        guard members.count == 1, let (name, value) = members.first else {
            throw .unexpectedPayload(path: path, problem: "AnyValue must set exactly one member, has \(members.count)")
        }
        let vPath = path + "." + name
        switch name {
        case "string_value":
            return .string(try string(value, vPath))
        case "bool_value":
            guard let b = value.boolValue else { throw .unexpectedPayload(path: vPath, problem: "not a bool") }
            return .bool(b)
        case "int_value":
            return .int(try int64(value, vPath))
        case "double_value":
            return .double(try double(value, vPath))
        case "bytes_value":
            guard let text = value.stringValue, let data = Data(base64Encoded: text) else {
                throw .unexpectedPayload(path: vPath, problem: "not base64")
            }
            return .bytes([UInt8](data))
        case "array_value":
            let array = try object(value, vPath, allowed: ["values"])
            return .array(
                try list(array["values"], vPath + ".values").enumerated().map { (i, v) throws(OTLPReceiverError) in
                    try anyValue(v, "\(vPath).values[\(i)]")
                })
        case "kvlist_value":
            let kvlist = try object(value, vPath, allowed: ["values"])
            return .keyValueList(try attributes(kvlist["values"], vPath + ".values"))
        default:
            throw .unexpectedPayload(path: vPath, problem: "AnyValue member the model cannot hold")
        }
    }

    // MARK: Scalars in protobuf's JSON mapping

    private static func object(_ json: DecodedJSON?, _ path: String, allowed: Set<String>?) throws(OTLPReceiverError)
        -> [String: DecodedJSON]
    {
        guard let json else { return [:] }
        guard case .object(let members) = json else {
            throw .unexpectedPayload(path: path, problem: "expected an object")
        }
        if let allowed, let extra = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .unexpectedPayload(path: path + "." + extra, problem: "field the exporter never writes")
        }
        return members
    }

    private static func list(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> [DecodedJSON] {
        guard let json else { return [] }
        guard case .array(let elements) = json else { throw .unexpectedPayload(path: path, problem: "expected a list") }
        return elements
    }

    private static func string(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> String {
        guard let json else { return "" }
        guard case .string(let s) = json else { throw .unexpectedPayload(path: path, problem: "expected a string") }
        return s
    }

    /// int64 arrives as a decimal string; small ints (and fixed32) as numbers.
    private static func int64(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> Int64 {
        switch json {
        case nil: return 0
        case .int(let i)?: return i
        case .string(let s)?:
            guard let i = Int64(s) else { throw .unexpectedPayload(path: path, problem: "not an int64: \(s)") }
            return i
        default: throw .unexpectedPayload(path: path, problem: "expected an integer")
        }
    }

    private static func uint64(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> UInt64 {
        switch json {
        case nil: return 0
        case .int(let i)? where i >= 0: return UInt64(i)
        case .string(let s)?:
            guard let u = UInt64(s) else { throw .unexpectedPayload(path: path, problem: "not a uint64: \(s)") }
            return u
        default: throw .unexpectedPayload(path: path, problem: "expected an unsigned integer")
        }
    }

    private static func double(_ json: DecodedJSON, _ path: String) throws(OTLPReceiverError) -> Double {
        switch json {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string("NaN"): return .nan
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        default: throw .unexpectedPayload(path: path, problem: "expected a double")
        }
    }

    private static func traceID(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> TraceID? {
        guard let json else { return nil }
        guard let hex = json.stringValue, let id = TraceID(hex: hex) else {
            throw .unexpectedPayload(path: path, problem: "not a 16-byte id")
        }
        return id
    }

    private static func spanID(_ json: DecodedJSON?, _ path: String) throws(OTLPReceiverError) -> SpanID? {
        guard let json else { return nil }
        guard let hex = json.stringValue, let id = SpanID(hex: hex) else {
            throw .unexpectedPayload(path: path, problem: "not an 8-byte id")
        }
        return id
    }

    // MARK: Enum names in protobuf's JSON mapping

    private static let spanKinds: [String: SpanKind] = [
        "SPAN_KIND_UNSPECIFIED": .unspecified, "SPAN_KIND_INTERNAL": .internal, "SPAN_KIND_SERVER": .server,
        "SPAN_KIND_CLIENT": .client, "SPAN_KIND_PRODUCER": .producer, "SPAN_KIND_CONSUMER": .consumer,
    ]

    private static let statusCodes: [String: SpanStatus.Code] = [
        "STATUS_CODE_UNSET": .unset, "STATUS_CODE_OK": .ok, "STATUS_CODE_ERROR": .error,
    ]

    private static let severities: [String: Severity] = [
        "SEVERITY_NUMBER_UNSPECIFIED": .unspecified, "SEVERITY_NUMBER_DEBUG": .debug, "SEVERITY_NUMBER_INFO": .info,
        "SEVERITY_NUMBER_WARN": .warn, "SEVERITY_NUMBER_ERROR": .error, "SEVERITY_NUMBER_FATAL": .fatal,
    ]
}
