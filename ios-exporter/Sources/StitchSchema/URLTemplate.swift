/// The privacy-safe form of a request URL: what an HTTP client span records instead of the raw URL.
public struct TemplatedURL: Sendable, Equatable {
    /// The `url.template` value, e.g. `/v1/users/{id}`.
    public let template: String
    /// The `server.address` value: the host lowercased, or nil when the URL has no host or the host is an IP literal.
    public let serverAddress: String?

    /// Memberwise, so callers and tests can state expected results.
    public init(template: String, serverAddress: String?) {
        self.template = template
        self.serverAddress = serverAddress
    }
}

/// Applies `rules.url_template`: turns a raw URL (absolute, scheme-relative or an absolute path) into
/// `url.template` and `server.address`.
///
/// The rules are defined on UTF-8 bytes and ASCII classes, so this works on bytes and uses no URL library, whose
/// parsing and normalisation would differ from the Go implementation's.
public enum URLTemplate {
    /// The template of `rawURL`, or `invalid_url` / `too_long`.
    public static func template(_ rawURL: String) -> Result<TemplatedURL, ReasonCode> {
        let bytes = Array(rawURL.utf8)
        guard bytes.count <= URLTemplateRules.maxInputBytes else { return .failure(.tooLong) }
        guard !containsSpaceOrControl(bytes) else { return .failure(.invalidURL) }

        var rest = bytes[...]
        if let hash = rest.firstIndex(of: ASCII.hash) { rest = rest[..<hash] }
        if let question = rest.firstIndex(of: ASCII.question) { rest = rest[..<question] }

        let serverAddress: String?
        let path: ArraySlice<UInt8>
        if rest.starts(with: [ASCII.slash, ASCII.slash]) {
            guard let authority = splitAuthority(rest.dropFirst(2)) else { return .failure(.invalidURL) }
            (serverAddress, path) = authority
        } else if rest.first == ASCII.slash {
            (serverAddress, path) = (nil, rest)
        } else {
            guard let afterScheme = droppingScheme(rest), let authority = splitAuthority(afterScheme) else {
                return .failure(.invalidURL)
            }
            (serverAddress, path) = authority
        }

        guard let segments = templatedSegments(of: path) else { return .failure(.invalidURL) }
        let joined = Array(segments.joined(separator: [ASCII.slash]))
        guard joined.count <= URLTemplateRules.maxTemplateBytes else { return .failure(.tooLong) }
        return .success(TemplatedURL(template: String(decoding: joined, as: UTF8.self), serverAddress: serverAddress))
    }

    // MARK: - Steps

    /// A space, or a control character U+0000-U+001F, U+007F-U+009F (C1 controls are `C2 80`-`C2 9F` in UTF-8).
    private static func containsSpaceOrControl(_ bytes: [UInt8]) -> Bool {
        for (index, byte) in bytes.enumerated() {
            if byte <= 0x20 || byte == 0x7F { return true }
            if byte == 0xC2, index + 1 < bytes.count, (0x80...0x9F).contains(bytes[index + 1]) { return true }
        }
        return false
    }

    /// The bytes after `scheme://`, or nil when `rest` does not start with `[A-Za-z][A-Za-z0-9+.-]*://`.
    private static func droppingScheme(_ rest: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard let first = rest.first, ASCII.isLetter(first) else { return nil }
        let schemeEnd = rest.firstIndex { !ASCII.isSchemeCharacter($0) } ?? rest.endIndex
        let afterScheme = rest[schemeEnd...]
        guard afterScheme.starts(with: [ASCII.colon, ASCII.slash, ASCII.slash]) else { return nil }
        return afterScheme.dropFirst(3)
    }

    /// Splits `authority[/path]` into the server address (nil for IP literals) and the path; nil when invalid.
    private static func splitAuthority(
        _ rest: ArraySlice<UInt8>
    ) -> (serverAddress: String?, path: ArraySlice<UInt8>)? {
        let authorityEnd = rest.firstIndex(of: ASCII.slash) ?? rest.endIndex
        var host = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        if let at = host.lastIndex(of: ASCII.at) { host = host[host.index(after: at)...] }
        if host.first == ASCII.openBracket {
            return host.contains(ASCII.closeBracket) ? (nil, path) : nil
        }
        if let colon = host.firstIndex(of: ASCII.colon) { host = host[..<colon] }
        guard !host.isEmpty, !host.contains(ASCII.openBracket), !host.contains(ASCII.closeBracket) else { return nil }
        if SegmentClass.isIPv4(host) { return (nil, path) }
        return (String(decoding: host.map(ASCII.lowercased), as: UTF8.self), path)
    }

    /// The path's segments after dropping path parameters, collapsing slashes and classifying; nil on broken
    /// percent-encoding.
    private static func templatedSegments(of path: ArraySlice<UInt8>) -> [[UInt8]]? {
        var cleaned: [UInt8] = []
        cleaned.reserveCapacity(path.count)
        var inParameters = false
        for byte in path {
            if byte == ASCII.slash {
                inParameters = false
                if cleaned.last != ASCII.slash { cleaned.append(byte) }
            } else if byte == ASCII.semicolon {
                inParameters = true
            } else if !inParameters {
                cleaned.append(byte)
            }
        }
        if cleaned.isEmpty { cleaned = [ASCII.slash] }

        var segments: [[UInt8]] = []
        for segment in cleaned.split(separator: ASCII.slash, omittingEmptySubsequences: false) {
            guard let decoded = percentDecoded(segment) else { return nil }
            switch SegmentClass(decoded) {
            case .identifier: segments.append(Array(URLTemplateRules.idPlaceholder.utf8))
            case .personalData: segments.append(Array(URLTemplateRules.redactedPlaceholder.utf8))
            case .kept: segments.append(Array(segment))
            }
        }
        return segments
    }

    /// The segment with `%XX` escapes decoded (any hex case); nil when a '%' is not followed by two hex digits.
    private static func percentDecoded(_ segment: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(segment.count)
        var index = segment.startIndex
        while index < segment.endIndex {
            let byte = segment[index]
            guard byte == ASCII.percent else {
                out.append(byte)
                index += 1
                continue
            }
            guard segment.endIndex - index >= 3, let high = ASCII.hexValue(segment[index + 1]),
                let low = ASCII.hexValue(segment[index + 2])
            else { return nil }
            out.append(high << 4 | low)
            index += 3
        }
        return out
    }
}

/// How a percent-decoded path segment is templated; the first matching rule of the schema wins.
private enum SegmentClass {
    case personalData
    case identifier
    case kept

    init(_ segment: [UInt8]) {
        if segment.contains(ASCII.at) || Self.isIPv4(segment[...]) || Self.isPlusPhone(segment) {
            self = .personalData
        } else if Self.isAllDigits(segment[...]) || Self.isUUID(segment) || Self.isLongHex(segment)
            || Self.isLongToken(segment) || Self.longestDigitRun(segment) >= 4
        {
            self = .identifier
        } else {
            self = .kept
        }
    }

    /// Four dot-separated groups of one to three decimal digits.
    static func isIPv4(_ bytes: ArraySlice<UInt8>) -> Bool {
        let groups = bytes.split(separator: ASCII.dot, omittingEmptySubsequences: false)
        return groups.count == 4 && groups.allSatisfy { (1...3).contains($0.count) && isAllDigits($0) }
    }

    /// '+' followed by seven or more digits and nothing else.
    static func isPlusPhone(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && bytes[0] == ASCII.plus && isAllDigits(bytes[1...])
    }

    static func isAllDigits(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(ASCII.isDigit)
    }

    /// 8-4-4-4-12 hex digits, any case.
    static func isUUID(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            let isDashPosition = index == 8 || index == 13 || index == 18 || index == 23
            if isDashPosition ? byte != ASCII.dash : ASCII.hexValue(byte) == nil { return false }
        }
        return true
    }

    static func isLongHex(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 16 && bytes.allSatisfy { ASCII.hexValue($0) != nil }
    }

    /// 16 or more of `[A-Za-z0-9_-]` with at least one letter and one digit.
    static func isLongToken(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 16 else { return false }
        var hasLetter = false
        var hasDigit = false
        for byte in bytes {
            if ASCII.isDigit(byte) {
                hasDigit = true
            } else if ASCII.isLetter(byte) {
                hasLetter = true
            } else if byte != ASCII.underscore && byte != ASCII.dash {
                return false
            }
        }
        return hasLetter && hasDigit
    }

    static func longestDigitRun(_ bytes: [UInt8]) -> Int {
        var longest = 0
        var run = 0
        for byte in bytes {
            run = ASCII.isDigit(byte) ? run + 1 : 0
            longest = max(longest, run)
        }
        return longest
    }
}

/// The ASCII bytes and classes the templating rules are written in.
private enum ASCII {
    static let hash = UInt8(ascii: "#")
    static let question = UInt8(ascii: "?")
    static let slash = UInt8(ascii: "/")
    static let colon = UInt8(ascii: ":")
    static let semicolon = UInt8(ascii: ";")
    static let at = UInt8(ascii: "@")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let percent = UInt8(ascii: "%")
    static let dot = UInt8(ascii: ".")
    static let plus = UInt8(ascii: "+")
    static let dash = UInt8(ascii: "-")
    static let underscore = UInt8(ascii: "_")

    static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    static func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }

    static func isSchemeCharacter(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte == plus || byte == dot || byte == dash
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    static func lowercased(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }
}
