/// One list-member of a W3C `baggage` header.
public struct BaggageMember: Sendable, Equatable {
    /// An RFC 7230 token; keys are case-sensitive and compared as bytes.
    public var key: String
    /// The value as text: percent-decoded on decode, percent-encoded again on encode.
    public var value: String
    /// The member's properties (what follows its first `;`) in the form they re-encode to, or nil when it had none.
    /// Stitch carries them along but never interprets them.
    public var properties: String?

    public init(key: String, value: String, properties: String? = nil) {
        self.key = key
        self.value = value
        self.properties = properties
    }
}

/// A received `baggage` header after the schema's rules, with the session ID it carries.
public struct DecodedBaggage: Sendable, Equatable {
    /// Whether everything in the header was kept.
    public enum Status: String, Sendable {
        /// Every member was kept.
        case ok
        /// Some members were skipped (invalid) or dropped (over the member or byte limit).
        case partial
        /// The header was over `Baggage.maxBytes` and was rejected whole.
        case oversized
    }

    public var status: Status
    /// Kept members, in first-seen order of key (a later duplicate replaces the value in place).
    public var members: [BaggageMember]
    /// The valid session ID of the `session.id` member, or nil.
    public var sessionID: String?
    /// Nil when `sessionID` is set, else why not: `.missingSessionID`, `.badSessionID` or `.oversized`.
    public var sessionError: ReasonCode?

    public init(status: Status, members: [BaggageMember], sessionID: String?, sessionError: ReasonCode?) {
        self.status = status
        self.members = members
        self.sessionID = sessionID
        self.sessionError = sessionError
    }
}

/// The W3C `baggage` header under the schema's rules (`rules.propagation.baggage`), which follow the OpenTelemetry Go
/// baggage parser so that the device and Go backends read the same members from the same header.
///
/// Everything works on UTF-8 bytes: lengths, limits and key comparisons are byte-wise.
public enum Baggage {
    /// A header over this many bytes is rejected whole; no header Stitch writes is longer.
    public static let maxBytes = 8192
    /// At most this many distinct keys are kept, and written.
    public static let maxMembers = 64
    /// The member that carries the session ID, the join key between device and backend.
    public static let sessionMemberKey = "session.id"

    /// Reads a received header: members split on `,`; key and value trimmed of spaces and tabs; properties after the
    /// first `;` must be well formed but are not interpreted; invalid members are skipped; a duplicate key keeps the
    /// last value; parsing stops at the 65th distinct key or at the member that would make the re-encoded header
    /// exceed `maxBytes`. The session ID is validated after percent-decoding and never repaired.
    public static func decode(_ header: String) -> DecodedBaggage {
        let bytes = Array(header.utf8)
        if bytes.count > maxBytes {
            return DecodedBaggage(status: .oversized, members: [], sessionID: nil, sessionError: .oversized)
        }
        var members: [BaggageMember] = []
        var encodedLengths: [Int] = []
        var encodedTotal = 0
        var complete = true
        if !bytes.isEmpty {
            for segment in bytes.split(separator: BaggageGrammar.memberSeparator, omittingEmptySubsequences: false) {
                guard let parsed = BaggageGrammar.parseMember(segment) else {
                    complete = false
                    continue
                }
                if let existing = members.firstIndex(where: { $0.key == parsed.member.key }) {
                    let total = encodedTotal - encodedLengths[existing] + parsed.encodedLength
                    guard total <= maxBytes else {
                        complete = false
                        break
                    }
                    members[existing] = parsed.member
                    encodedLengths[existing] = parsed.encodedLength
                    encodedTotal = total
                } else {
                    let total = encodedTotal + parsed.encodedLength + (members.isEmpty ? 0 : 1)
                    guard members.count < maxMembers, total <= maxBytes else {
                        complete = false
                        break
                    }
                    members.append(parsed.member)
                    encodedLengths.append(parsed.encodedLength)
                    encodedTotal = total
                }
            }
        }
        var sessionID: String?
        var sessionError: ReasonCode? = .missingSessionID
        if let session = members.first(where: { $0.key == sessionMemberKey }) {
            if SessionIDFormat.isValid(session.value) {
                sessionID = session.value
                sessionError = nil
            } else {
                sessionError = .badSessionID
            }
        }
        return DecodedBaggage(
            status: complete ? .ok : .partial, members: members, sessionID: sessionID, sessionError: sessionError)
    }

    /// The header for an outgoing request: `session.id=<id>` first, then the other members in ascending byte order
    /// of key, joined by `,` (a `session.id` among `members` is replaced; a later duplicate key replaces an earlier
    /// one). Values percent-encode, in uppercase hex, every byte that is `%` or outside baggage-octet. Fails with,
    /// in this order: `bad_session_id`; `too_many_members` (over `maxMembers` in total); `bad_member` (a key that is
    /// not an RFC 7230 token, or malformed properties); `oversized` (over `maxBytes`).
    public static func encode(sessionID: String, members: [BaggageMember]) -> Result<String, ReasonCode> {
        guard SessionIDFormat.isValid(sessionID) else { return .failure(.badSessionID) }

        // Distinct keys, last value winning, as indices into `members`; the count is bounded as we go so that a huge
        // input cannot make this quadratic.
        var kept: [Int] = []
        kept.reserveCapacity(min(members.count, maxMembers))
        for (index, member) in members.enumerated() where !member.key.utf8.elementsEqual(sessionMemberKey.utf8) {
            if let slot = kept.firstIndex(where: { members[$0].key.utf8.elementsEqual(member.key.utf8) }) {
                kept[slot] = index
            } else {
                guard kept.count < maxMembers - 1 else { return .failure(.tooManyMembers) }
                kept.append(index)
            }
        }
        kept.sort { members[$0].key.utf8.lexicographicallyPrecedes(members[$1].key.utf8) }

        // Validate and measure first, so that the header is written once, in place, at its exact size.
        var canonicalProperties: [String?] = []
        canonicalProperties.reserveCapacity(kept.count)
        var length = sessionMemberKey.utf8.count + 1 + sessionID.utf8.count
        for index in kept {
            let member = members[index]
            guard BaggageGrammar.isToken(member.key.utf8) else { return .failure(.badMember) }
            var properties: String?
            if let raw = member.properties {
                guard let canonical = BaggageGrammar.canonicalProperties(Array(raw.utf8)[...]) else {
                    return .failure(.badMember)
                }
                properties = canonical
                length += 1 + canonical.utf8.count
            }
            canonicalProperties.append(properties)
            length += 1 + member.key.utf8.count + 1 + BaggageGrammar.escapedLength(member.value.utf8)
            if length > maxBytes { return .failure(.oversized) }
        }

        let header = String(unsafeUninitializedCapacity: length) { buffer in
            var written = 0
            func putByte(_ byte: UInt8) {
                guard written < buffer.count else { return }
                buffer[written] = byte
                written += 1
            }
            func putText(_ text: String) {
                for byte in text.utf8 { putByte(byte) }
            }
            putText(sessionMemberKey)
            putByte(BaggageGrammar.keyValueSeparator)
            putText(sessionID)
            for (position, index) in kept.enumerated() {
                let member = members[index]
                putByte(BaggageGrammar.memberSeparator)
                putText(member.key)
                putByte(BaggageGrammar.keyValueSeparator)
                BaggageGrammar.writeEscaped(member.value.utf8, to: putByte)
                if let properties = canonicalProperties[position] {
                    putByte(BaggageGrammar.propertySeparator)
                    putText(properties)
                }
            }
            return written
        }
        return .success(header)
    }
}

/// The byte-level grammar of W3C baggage as the OpenTelemetry Go parser reads it, kept apart from the limits and the
/// session rules above.
private enum BaggageGrammar {
    static let memberSeparator = UInt8(ascii: ",")
    static let propertySeparator = UInt8(ascii: ";")
    static let keyValueSeparator = UInt8(ascii: "=")
    private static let percent = UInt8(ascii: "%")
    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)
    /// U+FFFD, which replaces each byte that does not start a valid UTF-8 sequence.
    private static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// A member that parsed, with the length its re-encoding has (which is what the byte limit counts).
    struct ParsedMember {
        var member: BaggageMember
        var encodedLength: Int
    }

    /// One `,`-separated segment, or nil when it is not a valid member (and is skipped).
    static func parseMember(_ segment: ArraySlice<UInt8>) -> ParsedMember? {
        var keyValue = segment
        var properties: String?
        if let semicolon = segment.firstIndex(of: propertySeparator) {
            keyValue = segment[..<semicolon]
            guard let canonical = canonicalProperties(segment[(semicolon + 1)...]) else { return nil }
            properties = canonical
        }
        guard let equals = keyValue.firstIndex(of: keyValueSeparator) else { return nil }
        let key = trimmed(keyValue[..<equals])
        guard isToken(key) else { return nil }
        let rawValue = trimmed(keyValue[(equals + 1)...])
        guard rawValue.allSatisfy(isBaggageOctet), let value = percentDecoded(rawValue) else { return nil }
        var encodedLength = key.count + 1 + escapedLength(value.utf8)
        if let properties { encodedLength += 1 + properties.utf8.count }
        return ParsedMember(
            member: BaggageMember(key: String(decoding: key, as: UTF8.self), value: value, properties: properties),
            encodedLength: encodedLength)
    }

    /// The properties after a member's first `;` as they re-encode (values percent-decoded then escaped again, white
    /// space dropped, empty properties left out), or nil when one of them is malformed.
    static func canonicalProperties(_ text: ArraySlice<UInt8>) -> String? {
        var canonical: [UInt8] = []
        for piece in text.split(separator: propertySeparator, omittingEmptySubsequences: false) where !piece.isEmpty {
            guard let property = canonicalProperty(piece) else { return nil }
            if !canonical.isEmpty { canonical.append(propertySeparator) }
            canonical.append(contentsOf: property)
        }
        return String(decoding: canonical, as: UTF8.self)
    }

    /// `key` or `key = value` with optional spaces and tabs around each part.
    private static func canonicalProperty(_ piece: ArraySlice<UInt8>) -> [UInt8]? {
        var index = skippingSpace(piece, from: piece.startIndex)
        let keyStart = index
        while index < piece.endIndex, isTokenCharacter(piece[index]) { index += 1 }
        guard index > keyStart else { return nil }
        var canonical = Array(piece[keyStart..<index])
        index = skippingSpace(piece, from: index)
        if index == piece.endIndex { return canonical }
        guard piece[index] == keyValueSeparator else { return nil }
        index = skippingSpace(piece, from: index + 1)
        let valueStart = index
        while index < piece.endIndex, isBaggageOctet(piece[index]) { index += 1 }
        let valueEnd = index
        guard skippingSpace(piece, from: index) == piece.endIndex,
            let value = percentDecoded(piece[valueStart..<valueEnd])
        else { return nil }
        canonical.append(keyValueSeparator)
        writeEscaped(value.utf8) { canonical.append($0) }
        return canonical
    }

    /// Whether `bytes` is an RFC 7230 token (which also rules out the empty key).
    static func isToken(_ bytes: some Collection<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(isTokenCharacter)
    }

    /// The length of `bytes` once `writeEscaped` has encoded it.
    static func escapedLength(_ bytes: String.UTF8View) -> Int {
        var length = 0
        for byte in bytes { length += needsEscaping(byte) ? 3 : 1 }
        return length
    }

    /// Percent-encodes, in uppercase hex, every byte that is `%` or outside baggage-octet.
    static func writeEscaped(_ bytes: String.UTF8View, to put: (UInt8) -> Void) {
        for byte in bytes {
            if needsEscaping(byte) {
                put(percent)
                put(upperHexDigits[Int(byte >> 4)])
                put(upperHexDigits[Int(byte & 0x0f)])
            } else {
                put(byte)
            }
        }
    }

    /// Decodes `%XX` escapes (either case); nil when a `%` is not followed by two hex digits. Bytes that are not
    /// valid UTF-8 after decoding become U+FFFD.
    private static func percentDecoded(_ raw: ArraySlice<UInt8>) -> String? {
        guard raw.contains(percent) else { return String(decoding: raw, as: UTF8.self) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            guard byte == percent else {
                decoded.append(byte)
                index += 1
                continue
            }
            guard raw.endIndex - index >= 3, let high = hexValue(raw[index + 1]), let low = hexValue(raw[index + 2])
            else { return nil }
            decoded.append(high << 4 | low)
            index += 3
        }
        return replacingInvalidUTF8(decoded)
    }

    /// Replaces every byte that does not start a valid UTF-8 sequence with U+FFFD, one replacement per byte, as Go's
    /// `utf8.DecodeRune` does (Swift's own repair folds a truncated sequence into one U+FFFD instead).
    private static func replacingInvalidUTF8(_ bytes: [UInt8]) -> String {
        var repaired: [UInt8] = []
        repaired.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let length = validSequenceLength(bytes, at: index)
            if length == 0 {
                repaired.append(contentsOf: replacementCharacter)
                index += 1
            } else {
                repaired.append(contentsOf: bytes[index..<index + length])
                index += length
            }
        }
        return String(decoding: repaired, as: UTF8.self)
    }

    /// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF)
    /// starting at `index`, or 0 when there is none.
    private static func validSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: return 0
        }
        guard bytes.count - index >= length, secondRange.contains(bytes[index + 1]) else { return 0 }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
            return 0
        }
        return length
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isSpaceOrTab(bytes[start]) { start += 1 }
        while end > start, isSpaceOrTab(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }

    private static func skippingSpace(_ bytes: ArraySlice<UInt8>, from start: Int) -> Int {
        var index = start
        while index < bytes.endIndex, isSpaceOrTab(bytes[index]) { index += 1 }
        return index
    }

    private static func isSpaceOrTab(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09
    }

    /// RFC 7230 `tchar`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// W3C `baggage-octet`: 0x21, 0x23-0x2B, 0x2D-0x3A, 0x3C-0x5B, 0x5D-0x7E (no space, double quote, comma, semicolon
    /// or backslash).
    private static func isBaggageOctet(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x2B, 0x2D...0x3A, 0x3C...0x5B, 0x5D...0x7E: return true
        default: return false
        }
    }

    private static func needsEscaping(_ byte: UInt8) -> Bool {
        byte == percent || !isBaggageOctet(byte)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
