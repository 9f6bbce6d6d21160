/// The finished telemetry items the exporter holds, in the shape of the OTLP messages they are encoded to.
///
/// Plain value types with no references beyond their strings and arrays, so a finished span costs one value in a
/// buffer and the encoder walks them without conversion.

/// An OTLP `AnyValue`.
public enum AttributeValue: Sendable, Equatable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])
    case array([AttributeValue])
    case keyValueList([Attribute])
}

/// An OTLP `KeyValue`.
public struct Attribute: Sendable, Equatable {
    public var key: String
    public var value: AttributeValue

    public init(_ key: String, _ value: AttributeValue) {
        self.key = key
        self.value = value
    }

    public init(_ key: String, _ value: String) { self.init(key, .string(value)) }
    public init(_ key: String, _ value: Int64) { self.init(key, .int(value)) }
    public init(_ key: String, _ value: Int) { self.init(key, .int(Int64(value))) }
    public init(_ key: String, _ value: Double) { self.init(key, .double(value)) }
    public init(_ key: String, _ value: Bool) { self.init(key, .bool(value)) }
}

/// A 128-bit W3C trace-id.
public struct TraceID: Sendable, Hashable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public var isValid: Bool { high != 0 || low != 0 }

    /// 32 lowercase hex characters.
    public var hex: String { HexFormat.hex(high) + HexFormat.hex(low) }

    /// Reads 32 lowercase hex characters; nil for anything else.
    public init?(hex: String) {
        let u = Array(hex.utf8)
        guard u.count == 32, let h = HexFormat.parse(u[0..<16]), let l = HexFormat.parse(u[16..<32]) else {
            return nil
        }
        self.init(high: h, low: l)
    }
}

/// A 64-bit W3C span-id (parent-id).
public struct SpanID: Sendable, Hashable {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    public var isValid: Bool { value != 0 }

    /// 16 lowercase hex characters.
    public var hex: String { HexFormat.hex(value) }

    /// Reads 16 lowercase hex characters; nil for anything else.
    public init?(hex: String) {
        let u = Array(hex.utf8)
        guard u.count == 16, let v = HexFormat.parse(u[0..<16]) else { return nil }
        self.init(v)
    }
}

/// OTLP `Span.SpanKind`.
public enum SpanKind: Int32, Sendable {
    case unspecified = 0
    case `internal` = 1
    case server = 2
    case client = 3
    case producer = 4
    case consumer = 5
}

/// OTLP `Status`.
public struct SpanStatus: Sendable, Equatable {
    /// OTLP `Status.StatusCode`.
    public enum Code: Int32, Sendable {
        case unset = 0
        case ok = 1
        case error = 2
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String = "") {
        self.code = code
        self.message = message
    }

    public static let unset = SpanStatus(code: .unset)
}

/// OTLP `Span.Event`.
public struct SpanEvent: Sendable, Equatable {
    public var name: String
    public var timeUnixNano: UInt64
    public var attributes: [Attribute]

    public init(name: String, timeUnixNano: UInt64, attributes: [Attribute] = []) {
        self.name = name
        self.timeUnixNano = timeUnixNano
        self.attributes = attributes
    }
}

/// A finished span (OTLP `Span`).
public struct SpanData: Sendable, Equatable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID?
    public var traceState: String
    public var name: String
    public var kind: SpanKind
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    public var attributes: [Attribute]
    public var events: [SpanEvent]
    public var status: SpanStatus
    /// W3C trace flags in the low byte (OTLP `Span.flags`).
    public var flags: UInt32

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID? = nil, traceState: String = "", name: String,
        kind: SpanKind, startTimeUnixNano: UInt64, endTimeUnixNano: UInt64, attributes: [Attribute] = [],
        events: [SpanEvent] = [], status: SpanStatus = .unset, flags: UInt32 = 0x01
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.traceState = traceState
        self.name = name
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.events = events
        self.status = status
        self.flags = flags
    }
}

/// OTLP `SeverityNumber` values the exporter writes.
public enum Severity: Int32, Sendable {
    case unspecified = 0
    case debug = 5
    case info = 9
    case warn = 13
    case error = 17
    case fatal = 21

    /// The short text OTLP readers show beside the number.
    public var text: String {
        switch self {
        case .unspecified: return ""
        case .debug: return "DEBUG"
        case .info: return "INFO"
        case .warn: return "WARN"
        case .error: return "ERROR"
        case .fatal: return "FATAL"
        }
    }
}

/// A log record (OTLP `LogRecord`).
public struct LogRecordData: Sendable, Equatable {
    public var timeUnixNano: UInt64
    public var observedTimeUnixNano: UInt64
    public var severity: Severity
    public var body: AttributeValue?
    public var attributes: [Attribute]
    public var traceID: TraceID?
    public var spanID: SpanID?
    public var flags: UInt32
    /// OTLP `LogRecord.event_name`; empty for a plain log line.
    public var eventName: String

    public init(
        timeUnixNano: UInt64, observedTimeUnixNano: UInt64, severity: Severity = .info, body: AttributeValue? = nil,
        attributes: [Attribute] = [], traceID: TraceID? = nil, spanID: SpanID? = nil, flags: UInt32 = 0,
        eventName: String = ""
    ) {
        self.timeUnixNano = timeUnixNano
        self.observedTimeUnixNano = observedTimeUnixNano
        self.severity = severity
        self.body = body
        self.attributes = attributes
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
        self.eventName = eventName
    }
}

/// OTLP `Resource`: what produced the telemetry (the app on this device).
public struct ResourceData: Sendable, Equatable {
    public var attributes: [Attribute]

    public init(attributes: [Attribute]) { self.attributes = attributes }
}

/// OTLP `InstrumentationScope`.
public struct InstrumentationScope: Sendable, Equatable {
    public var name: String
    public var version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }
}

/// Lowercase hex for IDs, without Foundation's formatting.
public enum HexFormat {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func hex(_ v: UInt64) -> String {
        var out = [UInt8](repeating: 0, count: 16)
        var x = v
        for i in stride(from: 15, through: 0, by: -1) {
            out[i] = digits[Int(x & 0xF)]
            x >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex only; nil on any other character or more than 16 digits.
    public static func parse<C: Collection>(_ u: C) -> UInt64? where C.Element == UInt8 {
        guard !u.isEmpty, u.count <= 16 else { return nil }
        var v: UInt64 = 0
        for c in u {
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }
}
