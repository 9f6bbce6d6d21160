import Foundation

/// What the schema allows for one attribute; `SchemaCatalog` holds one per attribute, generated from the YAML.
public struct AttributeSpec: Sendable, Equatable {
    /// The value type an attribute takes; types are strict (an int attribute rejects a double and the reverse).
    public enum ValueType: String, Sendable, CaseIterable {
        case string
        case int
        case double
        case boolean
    }

    /// Whether emitters must set the attribute (the schema's `condition` says when).
    public enum Requirement: String, Sendable, CaseIterable {
        case required
        case optional
    }

    /// Where the attribute may appear.
    public enum Signal: String, Sendable, CaseIterable {
        case span
        case spanEvent = "span_event"
        case log
        case metric
        case resource
    }

    /// The attribute name exactly as emitted (one of the `SchemaAttribute` constants).
    public let name: String
    /// The only value type accepted.
    public let type: ValueType
    /// Whether emitters must set it; the validator does not enforce presence, the exporter's builders do.
    public let requirement: Requirement
    /// Where it may appear, so builders can refuse an attribute on the wrong signal.
    public let signals: Set<Signal>
    /// Inclusive lower bound of a numeric attribute (ints compare exactly against it).
    public let minimum: Double?
    /// Inclusive upper bound of a numeric attribute (ints compare exactly against it).
    public let maximum: Double?
    /// Longest string value in UTF-8 bytes.
    public let maxLength: Int?
    /// The only string values allowed, in schema order.
    public let enumValues: [String]?
    /// A named format the string must have; its failure codes differ by format (see `AttributeValidator`).
    public let format: SchemaFormat?
    /// Must match somewhere in the value (anchors in the pattern decide the rest).
    public let regex: SchemaRegex?
    /// The value is free text an app could fill with personal data, so it is scanned with `PIIScanner`.
    public let piiScan: Bool

    /// Memberwise, with every check optional, so the generated catalog states only what the schema sets.
    public init(
        name: String, type: ValueType, requirement: Requirement, signals: Set<Signal>, minimum: Double? = nil,
        maximum: Double? = nil, maxLength: Int? = nil, enumValues: [String]? = nil, format: SchemaFormat? = nil,
        regex: SchemaRegex? = nil, piiScan: Bool = false
    ) {
        self.name = name
        self.type = type
        self.requirement = requirement
        self.signals = signals
        self.minimum = minimum
        self.maximum = maximum
        self.maxLength = maxLength
        self.enumValues = enumValues
        self.format = format
        self.regex = regex
        self.piiScan = piiScan
    }
}

/// The check behind a `SchemaFormat`: a regex and values that match it but are still invalid (all-zero IDs).
public struct FormatRule: Sendable, Equatable {
    /// The shape of the value; nil when the format is defined by code rather than a pattern.
    public let regex: SchemaRegex?
    /// Values the regex accepts that still carry no information (the all-zero IDs).
    public let excluded: Set<String>

    /// Both parts optional, because `url_template` is defined by the templating rules instead.
    public init(regex: SchemaRegex? = nil, excluded: Set<String> = []) {
        self.regex = regex
        self.excluded = excluded
    }

    /// Whether `value` has the format: the regex matches and the value is not excluded.
    public func accepts(_ value: String) -> Bool {
        if let regex, !regex.matches(value) { return false }
        return !excluded.contains(value)
    }
}

/// One of the schema's `pii_patterns`: a kind of personal data that must never appear in attribute values.
public struct PIIPattern: Sendable, Equatable {
    /// The schema's key for it (email, ipv4, ipv6, phone), for diagnostics.
    public let name: String
    /// Matches anywhere in a value that contains this kind of personal data.
    public let regex: SchemaRegex

    /// Memberwise, for the generated catalog.
    public init(name: String, regex: SchemaRegex) {
        self.name = name
        self.regex = regex
    }
}

/// A schema regex, compiled once when the catalog is first read.
///
/// The schema's regexes use only syntax shared by RE2 (the Go side) and ICU (`NSRegularExpression`), and values
/// with line terminators are rejected before any regex runs, so both sides agree on every match.
public struct SchemaRegex: Sendable, Equatable {
    /// The pattern exactly as the schema writes it.
    public let pattern: String
    private let compiled: CompiledExpression?

    /// Compiles `pattern`; a pattern ICU rejects leaves `compiles` false (the catalog tests check every pattern).
    public init(_ pattern: String) {
        self.pattern = pattern
        self.compiled = (try? NSRegularExpression(pattern: pattern)).map(CompiledExpression.init)
    }

    /// Whether ICU accepted the pattern; a pattern that did not compile matches nothing.
    public var compiles: Bool { compiled != nil }

    /// Whether the pattern matches anywhere in `value`.
    public func matches(_ value: String) -> Bool {
        guard let expression = compiled?.expression else { return false }
        let range = NSRange(value.startIndex..<value.endIndex, in: value)
        return expression.rangeOfFirstMatch(in: value, options: [], range: range).location != NSNotFound
    }

    public static func == (lhs: SchemaRegex, rhs: SchemaRegex) -> Bool {
        lhs.pattern == rhs.pattern
    }
}

/// Holds the compiled expression so `SchemaRegex` is Sendable on every Foundation: `NSRegularExpression` is
/// immutable and documented as safe to use from several threads, but not every SDK marks it Sendable.
private final class CompiledExpression: @unchecked Sendable {
    let expression: NSRegularExpression

    init(_ expression: NSRegularExpression) {
        self.expression = expression
    }
}
