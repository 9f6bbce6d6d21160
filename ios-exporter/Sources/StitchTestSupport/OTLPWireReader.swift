import StitchOTLP

/// Reads back the OTLP requests the exporter writes, for the demo's own receiver and the fixture manifest. It
/// knows only the fields the exporter writes; the tests' proof that the wire is right is the official
/// OpenTelemetry classes (`OTLPReceiver`), not this reader.
public enum OTLPWireReader {
    public struct Item: Sendable, Equatable {
        public var traceID: String
        public var spanID: String
        public var parentSpanID: String
        public var name: String
        /// Span kind (OTLP number); 0 for log records.
        public var kind: Int
        public var eventName: String
        public var startUnixNano: UInt64
        public var attributes: [String: String]
    }

    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The spans of an `ExportTraceServiceRequest`.
    public static func spans(_ bytes: [UInt8]) throws -> [Item] {
        try items(bytes, scopeField: 2, itemField: 2, read: readSpan)
    }

    /// The log records of an `ExportLogsServiceRequest`.
    public static func logs(_ bytes: [UInt8]) throws -> [Item] {
        try items(bytes, scopeField: 2, itemField: 2, read: readLog)
    }

    /// The resource attributes of the first resource of either request.
    public static func resourceAttributes(_ bytes: [UInt8]) throws -> [String: String] {
        for (f, v) in try fields(bytes) where f == 1 {
            guard case .bytes(let rs) = v else { continue }
            for (rf, rv) in try fields(rs) where rf == 1 {
                guard case .bytes(let resource) = rv else { continue }
                return try attributes(resource, field: 1)
            }
        }
        return [:]
    }

    private static func items(
        _ bytes: [UInt8], scopeField: Int, itemField: Int, read: ([UInt8]) throws -> Item
    ) throws -> [Item] {
        var out: [Item] = []
        for (f, v) in try fields(bytes) where f == 1 {
            guard case .bytes(let resourceItems) = v else { continue }
            for (rf, rv) in try fields(resourceItems) where rf == scopeField {
                guard case .bytes(let scope) = rv else { continue }
                for (sf, sv) in try fields(scope) where sf == itemField {
                    guard case .bytes(let item) = sv else { continue }
                    out.append(try read(item))
                }
            }
        }
        return out
    }

    private static func readSpan(_ b: [UInt8]) throws -> Item {
        var item = Item(
            traceID: "", spanID: "", parentSpanID: "", name: "", kind: 0, eventName: "", startUnixNano: 0,
            attributes: [:])
        for (f, v) in try fields(b) {
            switch (f, v) {
            case (1, .bytes(let x)): item.traceID = hex(x)
            case (2, .bytes(let x)): item.spanID = hex(x)
            case (4, .bytes(let x)): item.parentSpanID = hex(x)
            case (5, .bytes(let x)): item.name = String(decoding: x, as: UTF8.self)
            case (6, .varint(let x)): item.kind = Int(x)
            case (7, .fixed64(let x)): item.startUnixNano = x
            default: break
            }
        }
        item.attributes = try attributes(b, field: 9)
        return item
    }

    private static func readLog(_ b: [UInt8]) throws -> Item {
        var item = Item(
            traceID: "", spanID: "", parentSpanID: "", name: "", kind: 0, eventName: "", startUnixNano: 0,
            attributes: [:])
        for (f, v) in try fields(b) {
            switch (f, v) {
            case (1, .fixed64(let x)): item.startUnixNano = x
            case (5, .bytes(let x)): item.name = try anyValueText(x)
            case (9, .bytes(let x)): item.traceID = hex(x)
            case (10, .bytes(let x)): item.spanID = hex(x)
            case (12, .bytes(let x)): item.eventName = String(decoding: x, as: UTF8.self)
            default: break
            }
        }
        item.attributes = try attributes(b, field: 6)
        return item
    }

    /// Attributes as text (numbers and booleans written as Swift prints them).
    private static func attributes(_ b: [UInt8], field: Int) throws -> [String: String] {
        var out: [String: String] = [:]
        for (f, v) in try fields(b) where f == field {
            guard case .bytes(let kv) = v else { continue }
            var key = ""
            var value = ""
            for (kf, kvv) in try fields(kv) {
                if kf == 1, case .bytes(let k) = kvv { key = String(decoding: k, as: UTF8.self) }
                if kf == 2, case .bytes(let any) = kvv { value = try anyValueText(any) }
            }
            out[key] = value
        }
        return out
    }

    private static func anyValueText(_ b: [UInt8]) throws -> String {
        for (f, v) in try fields(b) {
            switch (f, v) {
            case (1, .bytes(let x)): return String(decoding: x, as: UTF8.self)
            case (2, .varint(let x)): return x != 0 ? "true" : "false"
            case (3, .varint(let x)): return String(Int64(bitPattern: x))
            case (4, .fixed64(let x)): return String(Double(bitPattern: x))
            default: continue
            }
        }
        return ""
    }

    enum WireValue {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes([UInt8])
    }

    static func fields(_ b: [UInt8]) throws -> [(Int, WireValue)] {
        var out: [(Int, WireValue)] = []
        var i = 0
        func varint() throws -> UInt64 {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < b.count, shift < 64 else { throw ReadError(description: "truncated varint at \(i)") }
                let byte = b[i]
                i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return v }
                shift += 7
            }
        }
        while i < b.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: out.append((field, .varint(try varint())))
            case 1:
                guard i + 8 <= b.count else { throw ReadError(description: "truncated fixed64") }
                var v: UInt64 = 0
                for k in 0..<8 { v |= UInt64(b[i + k]) << (8 * UInt64(k)) }
                i += 8
                out.append((field, .fixed64(v)))
            case 2:
                let n = try varint()
                guard n <= UInt64(b.count - i) else { throw ReadError(description: "truncated bytes") }
                out.append((field, .bytes(Array(b[i..<i + Int(n)]))))
                i += Int(n)
            case 5:
                guard i + 4 <= b.count else { throw ReadError(description: "truncated fixed32") }
                var v: UInt32 = 0
                for k in 0..<4 { v |= UInt32(b[i + k]) << (8 * UInt32(k)) }
                i += 4
                out.append((field, .fixed32(v)))
            default:
                throw ReadError(description: "unsupported wire type \(key & 7)")
            }
        }
        return out
    }

    private static func hex(_ b: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for x in b {
            out.append(digits[Int(x >> 4)])
            out.append(digits[Int(x & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
