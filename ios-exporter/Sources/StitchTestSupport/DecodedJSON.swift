import Foundation

/// A JSON value as the loopback receiver reports it, so tests can walk decoded OTLP without `[String: Any]`.
///
/// Integers that fit `Int64` decode as `.int`, other numbers as `.double` (OTLP's 64-bit integers arrive as strings
/// in protobuf's JSON mapping, so nothing of theirs is lost).
public enum DecodedJSON: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([DecodedJSON])
    case object([String: DecodedJSON])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([DecodedJSON].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: DecodedJSON].self))
        }
    }

    /// Parses a JSON document.
    public init(parsing data: Data) throws {
        self = try JSONDecoder().decode(DecodedJSON.self, from: data)
    }

    /// The member `key` of an object; nil for a missing key or a non-object.
    public subscript(key: String) -> DecodedJSON? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    /// The element at `index` of an array; nil when out of range or not an array.
    public subscript(index: Int) -> DecodedJSON? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }

    /// A number, whichever way it was written.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var arrayValue: [DecodedJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: DecodedJSON]? {
        if case .object(let o) = self { return o }
        return nil
    }
}
