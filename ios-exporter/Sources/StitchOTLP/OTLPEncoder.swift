/// Encodes finished telemetry as OTLP/HTTP protobuf request bodies (`ExportTraceServiceRequest`,
/// `ExportLogsServiceRequest`, opentelemetry-proto v1).
///
/// One resource and one scope per request, because the exporter sends each batch from a single app and library.
/// Proto3 defaults (zero numbers, empty strings, unset ids) are omitted, so the output is as small as the model
/// allows; `AnyValue` always carries its chosen member, even `false`, `0` or `""`, since that choice is the value.
public enum OTLPEncoder {
    /// How deep arrays and key-value lists may nest inside one attribute. Deeper containers are written empty, so a
    /// self-similar value cannot exhaust the stack here or exceed protobuf decoders' recursion limits (100 levels).
    public static let maxValueNestingDepth = 24

    /// An `ExportTraceServiceRequest` carrying `spans` under one resource and scope.
    public static func encodeTraces(resource: ResourceData, scope: InstrumentationScope, spans: [SpanData]) -> [UInt8] {
        var writer = ProtobufWriter(capacity: 256 + spans.count * 320)
        let prefix = batchPrefixBytes(itemCount: spans.count)
        let resourceSpans = writer.beginMessage(Field.requestResourceEntries, expectedLengthBytes: prefix)
        writeResource(resource, into: &writer)
        let scopeSpans = writer.beginMessage(Field.resourceScopeEntries, expectedLengthBytes: prefix)
        writeScope(scope, into: &writer)
        for span in spans {
            let mark = writer.beginMessage(Field.scopeItems, expectedLengthBytes: 2)
            writeSpan(span, into: &writer)
            writer.endMessage(mark)
        }
        writer.endMessage(scopeSpans)
        writer.endMessage(resourceSpans)
        return writer.bytes
    }

    /// An `ExportLogsServiceRequest` carrying `logs` under one resource and scope.
    public static func encodeLogs(resource: ResourceData, scope: InstrumentationScope, logs: [LogRecordData]) -> [UInt8]
    {
        var writer = ProtobufWriter(capacity: 256 + logs.count * 256)
        let prefix = batchPrefixBytes(itemCount: logs.count)
        let resourceLogs = writer.beginMessage(Field.requestResourceEntries, expectedLengthBytes: prefix)
        writeResource(resource, into: &writer)
        let scopeLogs = writer.beginMessage(Field.resourceScopeEntries, expectedLengthBytes: prefix)
        writeScope(scope, into: &writer)
        for record in logs {
            let mark = writer.beginMessage(Field.scopeItems, expectedLengthBytes: 2)
            writeLogRecord(record, into: &writer)
            writer.endMessage(mark)
        }
        writer.endMessage(scopeLogs)
        writer.endMessage(resourceLogs)
        return writer.bytes
    }

    /// A guess at the batch length prefix size (a few hundred bytes per item) so the body rarely moves.
    private static func batchPrefixBytes(itemCount: Int) -> Int {
        let (estimate, overflow) = (itemCount &+ 1).multipliedReportingOverflow(by: 300)
        return overflow ? 5 : ProtobufWriter.varintSize(UInt64(estimate))
    }

    // MARK: Envelope

    private static func writeResource(_ resource: ResourceData, into writer: inout ProtobufWriter) {
        let mark = writer.beginMessage(Field.resourceOrScope, expectedLengthBytes: 2)
        writeAttributes(resource.attributes, field: Field.resourceAttributes, into: &writer)
        writer.endMessage(mark)
    }

    private static func writeScope(_ scope: InstrumentationScope, into writer: inout ProtobufWriter) {
        let mark = writer.beginMessage(Field.resourceOrScope)
        if !scope.name.isEmpty { writer.writeStringField(Field.scopeName, scope.name) }
        if !scope.version.isEmpty { writer.writeStringField(Field.scopeVersion, scope.version) }
        writer.endMessage(mark)
    }

    // MARK: Span

    private static func writeSpan(_ span: SpanData, into writer: inout ProtobufWriter) {
        writer.writeBigEndianBytesField(Field.spanTraceID, high: span.traceID.high, low: span.traceID.low)
        writer.writeBigEndianBytesField(Field.spanSpanID, span.spanID.value)
        if !span.traceState.isEmpty { writer.writeStringField(Field.spanTraceState, span.traceState) }
        if let parent = span.parentSpanID, parent.isValid {
            writer.writeBigEndianBytesField(Field.spanParentSpanID, parent.value)
        }
        if !span.name.isEmpty { writer.writeStringField(Field.spanName, span.name) }
        if span.kind != .unspecified { writer.writeVarintField(Field.spanKind, UInt64(span.kind.rawValue)) }
        if span.startTimeUnixNano != 0 { writer.writeFixed64Field(Field.spanStartTime, span.startTimeUnixNano) }
        if span.endTimeUnixNano != 0 { writer.writeFixed64Field(Field.spanEndTime, span.endTimeUnixNano) }
        writeAttributes(span.attributes, field: Field.spanAttributes, into: &writer)
        for event in span.events {
            let mark = writer.beginMessage(Field.spanEvents)
            if event.timeUnixNano != 0 { writer.writeFixed64Field(Field.eventTime, event.timeUnixNano) }
            if !event.name.isEmpty { writer.writeStringField(Field.eventName, event.name) }
            writeAttributes(event.attributes, field: Field.eventAttributes, into: &writer)
            writer.endMessage(mark)
        }
        if span.status.code != .unset || !span.status.message.isEmpty {
            let mark = writer.beginMessage(Field.spanStatus)
            if !span.status.message.isEmpty { writer.writeStringField(Field.statusMessage, span.status.message) }
            if span.status.code != .unset {
                writer.writeVarintField(Field.statusCode, UInt64(span.status.code.rawValue))
            }
            writer.endMessage(mark)
        }
        if span.flags != 0 { writer.writeFixed32Field(Field.spanFlags, span.flags) }
    }

    // MARK: Log record

    private static func writeLogRecord(_ record: LogRecordData, into writer: inout ProtobufWriter) {
        if record.timeUnixNano != 0 { writer.writeFixed64Field(Field.logTime, record.timeUnixNano) }
        if record.severity != .unspecified {
            writer.writeVarintField(Field.logSeverityNumber, UInt64(record.severity.rawValue))
            writer.writeStringField(Field.logSeverityText, record.severity.text)
        }
        if let body = record.body {
            let mark = writer.beginMessage(Field.logBody)
            writeValue(body, depth: 0, into: &writer)
            writer.endMessage(mark)
        }
        writeAttributes(record.attributes, field: Field.logAttributes, into: &writer)
        if record.flags != 0 { writer.writeFixed32Field(Field.logFlags, record.flags) }
        if let traceID = record.traceID, traceID.isValid {
            writer.writeBigEndianBytesField(Field.logTraceID, high: traceID.high, low: traceID.low)
        }
        if let spanID = record.spanID, spanID.isValid {
            writer.writeBigEndianBytesField(Field.logSpanID, spanID.value)
        }
        if record.observedTimeUnixNano != 0 {
            writer.writeFixed64Field(Field.logObservedTime, record.observedTimeUnixNano)
        }
        if !record.eventName.isEmpty { writer.writeStringField(Field.logEventName, record.eventName) }
    }

    // MARK: Attributes and values

    private static func writeAttributes(_ attributes: [Attribute], field: UInt32, into writer: inout ProtobufWriter) {
        for attribute in attributes {
            writeKeyValue(attribute, field: field, depth: 0, into: &writer)
        }
    }

    private static func writeKeyValue(
        _ attribute: Attribute, field: UInt32, depth: Int, into writer: inout ProtobufWriter
    ) {
        let mark = writer.beginMessage(field)
        if !attribute.key.isEmpty { writer.writeStringField(Field.keyValueKey, attribute.key) }
        let value = writer.beginMessage(Field.keyValueValue)
        writeValue(attribute.value, depth: depth, into: &writer)
        writer.endMessage(value)
        writer.endMessage(mark)
    }

    /// The body of an `AnyValue`; `depth` counts the containers around it.
    private static func writeValue(_ value: AttributeValue, depth: Int, into writer: inout ProtobufWriter) {
        switch value {
        case .string(let s):
            writer.writeStringField(Field.anyString, s)
        case .bool(let b):
            writer.writeBoolField(Field.anyBool, b)
        case .int(let i):
            writer.writeInt64Field(Field.anyInt, i)
        case .double(let d):
            writer.writeDoubleField(Field.anyDouble, d)
        case .bytes(let b):
            writer.writeBytesField(Field.anyBytes, b)
        case .array(let elements):
            let mark = writer.beginMessage(Field.anyArray, expectedLengthBytes: 1)
            if depth < maxValueNestingDepth {
                for element in elements {
                    let item = writer.beginMessage(Field.containerValues)
                    writeValue(element, depth: depth + 1, into: &writer)
                    writer.endMessage(item)
                }
            }
            writer.endMessage(mark)
        case .keyValueList(let entries):
            let mark = writer.beginMessage(Field.anyKeyValueList, expectedLengthBytes: 1)
            if depth < maxValueNestingDepth {
                for entry in entries {
                    writeKeyValue(entry, field: Field.containerValues, depth: depth + 1, into: &writer)
                }
            }
            writer.endMessage(mark)
        }
    }

    /// Field numbers from opentelemetry-proto v1 (collector/{trace,logs}/v1, trace/v1, logs/v1, common/v1,
    /// resource/v1).
    private enum Field {
        // ExportTraceServiceRequest.resource_spans / ExportLogsServiceRequest.resource_logs
        static let requestResourceEntries: UInt32 = 1
        // ResourceSpans.resource / ResourceLogs.resource and ScopeSpans.scope / ScopeLogs.scope
        static let resourceOrScope: UInt32 = 1
        // ResourceSpans.scope_spans / ResourceLogs.scope_logs
        static let resourceScopeEntries: UInt32 = 2
        // ScopeSpans.spans / ScopeLogs.log_records
        static let scopeItems: UInt32 = 2
        // Resource.attributes
        static let resourceAttributes: UInt32 = 1
        // InstrumentationScope
        static let scopeName: UInt32 = 1
        static let scopeVersion: UInt32 = 2
        // Span
        static let spanTraceID: UInt32 = 1
        static let spanSpanID: UInt32 = 2
        static let spanTraceState: UInt32 = 3
        static let spanParentSpanID: UInt32 = 4
        static let spanName: UInt32 = 5
        static let spanKind: UInt32 = 6
        static let spanStartTime: UInt32 = 7
        static let spanEndTime: UInt32 = 8
        static let spanAttributes: UInt32 = 9
        static let spanEvents: UInt32 = 11
        static let spanStatus: UInt32 = 15
        static let spanFlags: UInt32 = 16
        // Span.Event
        static let eventTime: UInt32 = 1
        static let eventName: UInt32 = 2
        static let eventAttributes: UInt32 = 3
        // Status
        static let statusMessage: UInt32 = 2
        static let statusCode: UInt32 = 3
        // LogRecord
        static let logTime: UInt32 = 1
        static let logSeverityNumber: UInt32 = 2
        static let logSeverityText: UInt32 = 3
        static let logBody: UInt32 = 5
        static let logAttributes: UInt32 = 6
        static let logFlags: UInt32 = 8
        static let logTraceID: UInt32 = 9
        static let logSpanID: UInt32 = 10
        static let logObservedTime: UInt32 = 11
        static let logEventName: UInt32 = 12
        // KeyValue
        static let keyValueKey: UInt32 = 1
        static let keyValueValue: UInt32 = 2
        // AnyValue
        static let anyString: UInt32 = 1
        static let anyBool: UInt32 = 2
        static let anyInt: UInt32 = 3
        static let anyDouble: UInt32 = 4
        static let anyArray: UInt32 = 5
        static let anyKeyValueList: UInt32 = 6
        static let anyBytes: UInt32 = 7
        // ArrayValue.values / KeyValueList.values
        static let containerValues: UInt32 = 1
    }
}
