/// An attribute value as the validator sees it: the type matters, so `200` (int) and `200.0` (double) differ.
public enum AttributeInput: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    /// No value; never valid, but callers holding untyped data can say so.
    case null
    /// A list value; the schema defines no array attributes, so it is always the wrong type.
    case array
}

/// Checks one attribute value against the schema (`rules.validation`), so nothing off-contract leaves the device.
///
/// The checks run in the schema's order and the first failure gives the reason code: unknown or forbidden name,
/// wrong type, out of range, empty, oversized, bad characters, enum, format, PII, regex.
public enum AttributeValidator {
    /// The reason `value` may not be recorded under `name`, or nil when it may.
    public static func validate(name: String, value: AttributeInput) -> ReasonCode? {
        guard let spec = SchemaCatalog.attributes[name] else {
            return SchemaCatalog.forbiddenAttributes.contains(name) ? .forbiddenAttribute : .unknownAttribute
        }
        switch (spec.type, value) {
        case (.string, .string(let text)):
            return validateString(text, spec)
        case (.int, .int(let number)):
            return NumericBounds.contains(number, spec) ? nil : .outOfRange
        case (.double, .double(let number)):
            return NumericBounds.contains(number, spec) ? nil : .outOfRange
        case (.boolean, .bool):
            return nil
        default:
            return .wrongType
        }
    }

    private static func validateString(_ text: String, _ spec: AttributeSpec) -> ReasonCode? {
        if text.isEmpty { return .emptyValue }
        if let maxLength = spec.maxLength, text.utf8.count > maxLength { return .oversized }
        if containsForbiddenCharacter(text) { return .badCharacters }
        if let allowed = spec.enumValues, !allowed.contains(where: { sameBytes($0, text) }) { return .badEnum }
        if let format = spec.format, let reason = formatViolation(text, format) { return reason }
        if spec.piiScan, PIIScanner.containsPII(text) { return .piiDetected }
        if let regex = spec.regex, !regex.matches(text) { return .patternMismatch }
        return nil
    }

    /// A control character U+0000-U+001F or U+007F-U+009F, or a line or paragraph separator. (Swift strings are
    /// always valid UTF-8, so the schema's "invalid UTF-8" case cannot reach here.)
    private static func containsForbiddenCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
                || scalar.value == 0x2029
        }
    }

    private static func formatViolation(_ text: String, _ format: SchemaFormat) -> ReasonCode? {
        switch format {
        case .sessionID:
            return SessionIDFormat.isValid(text) ? nil : .badSessionID
        case .urlTemplate:
            return urlTemplateViolation(text)
        default:
            guard let rule = SchemaCatalog.formats[format] else { return .patternMismatch }
            return rule.accepts(text) ? nil : .patternMismatch
        }
    }

    /// A `url.template` value must be its own template: anything templating would still change is personal data.
    private static func urlTemplateViolation(_ text: String) -> ReasonCode? {
        let bytes = Array(text.utf8)
        let slash = UInt8(ascii: "/")
        guard bytes.first == slash, bytes.dropFirst().first != slash else { return .patternMismatch }
        if bytes.contains(UInt8(ascii: "?")) || bytes.contains(UInt8(ascii: "#")) { return .piiInURL }
        switch URLTemplate.template(text) {
        case .failure:
            return .patternMismatch
        case .success(let templated):
            return sameBytes(templated.template, text) ? nil : .piiInURL
        }
    }

    /// Byte equality: Swift's `==` on strings uses canonical equivalence, the schema compares UTF-8 bytes.
    private static func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8)
    }
}

/// The inclusive `[minimum, maximum]` check of numeric attributes, exact for every Int64.
private enum NumericBounds {
    static func contains(_ number: Int64, _ spec: AttributeSpec) -> Bool {
        if let minimum = spec.minimum, isBelow(number, minimum) { return false }
        if let maximum = spec.maximum, isAbove(number, maximum) { return false }
        return true
    }

    /// NaN and the infinities are out of range whatever the bounds.
    static func contains(_ number: Double, _ spec: AttributeSpec) -> Bool {
        guard number.isFinite else { return false }
        if let minimum = spec.minimum, number < minimum { return false }
        if let maximum = spec.maximum, number > maximum { return false }
        return true
    }

    /// `number < bound` without rounding `number` to a double: for an integer n, n < b exactly when n < ceil(b).
    private static func isBelow(_ number: Int64, _ bound: Double) -> Bool {
        let ceiling = bound.rounded(.up)
        if ceiling.isNaN { return false }
        if ceiling >= Double(Int64.max) { return true }  // 2^63: above every Int64
        if ceiling < Double(Int64.min) { return false }
        return number < Int64(ceiling)
    }

    /// `number > bound` exactly: for an integer n, n > b exactly when n > floor(b).
    private static func isAbove(_ number: Int64, _ bound: Double) -> Bool {
        let floor = bound.rounded(.down)
        if floor.isNaN { return false }
        if floor >= Double(Int64.max) { return false }  // 2^63: above every Int64
        if floor < Double(Int64.min) { return true }
        return number > Int64(floor)
    }
}
