/// Finds e-mail addresses, phone numbers and IP addresses in free-text attribute values (`rules.privacy`).
///
/// It runs on every `pii_scan` attribute the app records, so each schema pattern is guarded by a byte count that
/// every match needs (an '@', enough digits, enough ':'); a value that fails all guards never reaches a regex.
/// The guards only skip regexes that cannot match, so the result is exactly the patterns' result. A guard applies
/// only to the exact pattern it was derived from; if the schema changes a pattern, that pattern always runs.
public enum PIIScanner {
    /// Whether any of the schema's `pii_patterns` matches anywhere in `value`.
    public static func containsPII(_ value: String) -> Bool {
        firstMatchingPattern(in: value) != nil
    }

    /// The schema name (email, ipv4, ipv6, phone) of the first pattern that matches, for diagnostics.
    public static func firstMatchingPattern(in value: String) -> String? {
        let counts = ByteCounts(value)
        for guarded in guardedPatterns where guarded.mayMatch(counts) && guarded.pattern.regex.matches(value) {
            return guarded.pattern.name
        }
        return nil
    }

    /// The catalog's patterns, each with the cheapest necessary condition known for it.
    private static let guardedPatterns: [GuardedPattern] = PrivacyRules.piiPatterns.map { pattern in
        GuardedPattern(pattern: pattern, mayMatch: necessaryConditions[pattern.regex.pattern] ?? { _ in true })
    }

    /// Conditions every match of the pattern satisfies, keyed by the exact pattern text they were derived from.
    private static let necessaryConditions: [String: @Sendable (ByteCounts) -> Bool] = [
        // local@domain.tld: an '@' and a '.' after it.
        #"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#: { $0.at >= 1 && $0.dot >= 1 },
        // Four dot-separated groups of digits: three '.', at least four digits.
        #"(^|[^0-9A-Za-z.])([0-9]{1,3}\.){3}[0-9]{1,3}($|[^0-9A-Za-z.])"#: { $0.dot >= 3 && $0.digit >= 4 },
        // Two to seven groups ending in ':': at least two ':'.
        "(^|[^0-9A-Za-z:.])([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{1,4}($|[^0-9A-Za-z:.])": { $0.colon >= 2 },
        // A digit followed by eight to fourteen more: at least nine digits.
        #"(^|[^0-9A-Za-z])\+?[0-9]([ ().-]?[0-9]){8,14}($|[^0-9A-Za-z])"#: { $0.digit >= 9 },
    ]
}

/// A schema pattern and the guard that decides whether running it can succeed.
private struct GuardedPattern: Sendable {
    let pattern: PIIPattern
    let mayMatch: @Sendable (ByteCounts) -> Bool
}

/// The counts of the ASCII bytes the guards look at, taken in one pass over the UTF-8 bytes.
private struct ByteCounts: Sendable {
    var at = 0
    var dot = 0
    var colon = 0
    var digit = 0

    init(_ value: String) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "@"): at += 1
            case UInt8(ascii: "."): dot += 1
            case UInt8(ascii: ":"): colon += 1
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit += 1
            default: break
            }
        }
    }
}
