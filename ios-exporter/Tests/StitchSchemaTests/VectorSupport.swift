import Foundation

/// A JSON value as the vector files hold it. Strings compare as UTF-8 bytes (the vectors' rule 3), numbers keep
/// whether they were written as integers, so `200` and `200.0` stay different.
enum JSONValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .double(let b)): return a.bitPattern == b.bitPattern || a == b
        case (.string(let a), .string(let b)): return Array(a.utf8) == Array(b.utf8)
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (k, v) in a {
                guard let w = b[k], v == w else { return false }
            }
            return true
        default: return false
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"\(s.debugDescription.dropFirst().dropLast())\""
        case .array(let a): return "[" + a.map(\.description).joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { "\"\($0)\":\(o[$0]!.description)" }.joined(separator: ",") + "}"
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var int64Value: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }

    /// A number as binary64, whether it was written as an integer or not.
    var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var objectKeys: Set<String> {
        if case .object(let o) = self { return Set(o.keys) }
        return []
    }
}

/// A runner's complaint about a vector it cannot run (an unknown key or op): a runner error, never a pass.
struct VectorRunnerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension JSONValue {
    /// Fails unless every key of this object is one of `allowed` (the vectors' rule 1: unknown fields are errors).
    func requireKeys(_ allowed: Set<String>, required: Set<String> = []) throws {
        guard case .object(let o) = self else { throw VectorRunnerError("input is not an object: \(self)") }
        let unknown = Set(o.keys).subtracting(allowed)
        if !unknown.isEmpty { throw VectorRunnerError("unknown keys \(unknown.sorted())") }
        let missing = required.subtracting(o.keys)
        if !missing.isEmpty { throw VectorRunnerError("missing keys \(missing.sorted())") }
    }

    func string(_ key: String) throws -> String {
        guard let s = self[key]?.stringValue else { throw VectorRunnerError("\(key) is not a string") }
        return s
    }

    func int64(_ key: String) throws -> Int64 {
        guard let i = self[key]?.int64Value else { throw VectorRunnerError("\(key) is not an integer") }
        return i
    }

    func bool(_ key: String) throws -> Bool {
        guard let b = self[key]?.boolValue else { throw VectorRunnerError("\(key) is not a boolean") }
        return b
    }
}

/// Parses JSON keeping integers apart from doubles and strings byte for byte (JSONSerialization folds both).
struct JSONValueParser {
    private let bytes: [UInt8]
    private var i = 0

    static func parse(_ data: Data) throws -> JSONValue {
        var p = JSONValueParser(bytes: Array(data))
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        guard p.i == p.bytes.count else { throw VectorRunnerError("trailing data at \(p.i)") }
        return v
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func value() throws -> JSONValue {
        guard i < bytes.count else { throw VectorRunnerError("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    private mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else {
            throw VectorRunnerError("bad literal at \(i)")
        }
        i += w.count
    }

    private mutating func object() throws -> JSONValue {
        i += 1
        var out: [String: JSONValue] = [:]
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
        while true {
            skipSpace()
            let k = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw VectorRunnerError("expected : at \(i)") }
            i += 1
            skipSpace()
            out[k] = try value()
            skipSpace()
            guard i < bytes.count else { throw VectorRunnerError("unexpected end in object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
            throw VectorRunnerError("expected , or } at \(i)")
        }
    }

    private mutating func array() throws -> JSONValue {
        i += 1
        var out: [JSONValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
        while true {
            skipSpace()
            out.append(try value())
            skipSpace()
            guard i < bytes.count else { throw VectorRunnerError("unexpected end in array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            throw VectorRunnerError("expected , or ] at \(i)")
        }
    }

    private mutating func hex4() throws -> UInt16 {
        guard i + 4 <= bytes.count, let v = UInt16(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16)
        else { throw VectorRunnerError("bad \\u escape at \(i)") }
        i += 4
        return v
    }

    /// JSON strings decode to UTF-16 code units first, so that escaped surrogate pairs join; a lone surrogate
    /// becomes U+FFFD (Swift strings cannot hold one).
    private mutating func string() throws -> String {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
            throw VectorRunnerError("expected string at \(i)")
        }
        i += 1
        var raw: [UInt8] = []
        var units: [UInt16] = []
        func flushRaw() {
            if !raw.isEmpty { units.append(contentsOf: String(decoding: raw, as: UTF8.self).utf16); raw.removeAll() }
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                flushRaw()
                return String(decoding: units, as: UTF16.self)
            }
            if c == UInt8(ascii: "\\") {
                flushRaw()
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): units.append(0x22)
                case UInt8(ascii: "\\"): units.append(0x5C)
                case UInt8(ascii: "/"): units.append(0x2F)
                case UInt8(ascii: "b"): units.append(0x08)
                case UInt8(ascii: "f"): units.append(0x0C)
                case UInt8(ascii: "n"): units.append(0x0A)
                case UInt8(ascii: "r"): units.append(0x0D)
                case UInt8(ascii: "t"): units.append(0x09)
                case UInt8(ascii: "u"): units.append(try hex4())
                default: throw VectorRunnerError("bad escape at \(i)")
                }
                continue
            }
            raw.append(c)
            i += 1
        }
        throw VectorRunnerError("unterminated string")
    }

    private mutating func number() throws -> JSONValue {
        let start = i
        var isInteger = true
        while i < bytes.count {
            let c = bytes[i]
            if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
                i += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                isInteger = false
                i += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if isInteger, let v = Int64(text) { return .int(v) }
        guard let d = Double(text) else { throw VectorRunnerError("bad number \(text)") }
        return .double(d)
    }
}

/// One vector of a file in `schema/vectors/`.
struct SchemaVector {
    let id: String
    let description: String
    let input: JSONValue
    let expected: JSONValue
}

/// The vector files of the schema, read from the repository (`schema/vectors/` beside `ios-exporter/`).
enum SchemaVectors {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("schema/vectors")

    static func load(category: String) throws -> [SchemaVector] {
        let url = directory.appendingPathComponent("\(category).json")
        let root = try JSONValueParser.parse(try Data(contentsOf: url))
        guard root["category"]?.stringValue == category else {
            throw VectorRunnerError("\(category).json: category is not \(category)")
        }
        guard let list = root["vectors"]?.arrayValue, !list.isEmpty else {
            throw VectorRunnerError("\(category).json has no vectors")
        }
        return try list.map { v in
            try v.requireKeys(["id", "description", "input", "expected"], required: ["id", "input", "expected"])
            return SchemaVector(
                id: try v.string("id"), description: v["description"]?.stringValue ?? "",
                input: v["input"]!, expected: v["expected"]!)
        }
    }

    static func categories() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }
            .map { String($0.dropLast(5)) }
            .sorted()
    }
}
