import StitchOTLP
import StitchSchema

/// Decides which attributes the app hands the exporter may leave the device. Runs once where the app passes them
/// in (an action's attributes, a screen name, a flag), never on the export path.
///
/// - A name in the schema's `forbidden_attributes` is dropped (raw URLs, addresses, names, device names).
/// - A name the exporter itself owns (session, sampling, clock, consent, resource) is dropped: the app cannot forge
///   them.
/// - Any other schema attribute must pass the schema's validation (type, range, length, enum, format, PII scan).
/// - A name the schema does not define is the app's own: it must look like an attribute name, and its value must be
///   a number, a boolean or a short string with no control characters and no e-mail, phone number or IP address.
enum AttributeSanitizer {
    static let customValueMaxBytes = 256
    static let customNameMaxBytes = 128

    static let exporterOwned: Set<String> = [
        SchemaAttribute.sessionID, SchemaAttribute.sessionPreviousID, SchemaAttribute.stitchSessionStartReason,
        SchemaAttribute.stitchSamplingDecision, SchemaAttribute.stitchSamplingReason,
        SchemaAttribute.stitchSamplingRate, SchemaAttribute.stitchClockOffsetMs, SchemaAttribute.stitchClockMonotonicNs,
        SchemaAttribute.stitchConsent, SchemaAttribute.stitchSchemaVersion, SchemaAttribute.serviceName,
        SchemaAttribute.serviceVersion, SchemaAttribute.osName, SchemaAttribute.osVersion,
        SchemaAttribute.deviceModelIdentifier, SchemaAttribute.appInstallationID, SchemaAttribute.userID,
        SchemaAttribute.urlTemplate, SchemaAttribute.serverAddress, SchemaAttribute.httpRequestResendCount,
        SchemaAttribute.stitchRequestQueueDelayMs, SchemaAttribute.networkConnectionType,
        SchemaAttribute.networkConnectionSubtype, SchemaAttribute.iosAppState,
    ]

    /// The attributes that may be kept, and how many were dropped.
    static func sanitize(_ attributes: [Attribute]) -> (kept: [Attribute], dropped: Int) {
        var kept: [Attribute] = []
        kept.reserveCapacity(attributes.count)
        for a in attributes where isAcceptable(a) { kept.append(a) }
        return (kept, attributes.count - kept.count)
    }

    static func isAcceptable(_ a: Attribute) -> Bool {
        if SchemaCatalog.forbiddenAttributes.contains(a.key) || exporterOwned.contains(a.key) { return false }
        if SchemaCatalog.attributes[a.key] != nil {
            return AttributeValidator.validate(name: a.key, value: input(a.value)) == nil
        }
        return isAcceptableCustom(a)
    }

    /// Validates one schema attribute value the app supplies (a screen name, an action name, a flag key).
    static func isValid(_ name: String, _ value: String) -> Bool {
        AttributeValidator.validate(name: name, value: .string(value)) == nil
    }

    private static func isAcceptableCustom(_ a: Attribute) -> Bool {
        let name = a.key.utf8
        guard !name.isEmpty, name.count <= customNameMaxBytes,
            name.allSatisfy({ c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2E
                    || c == 0x5F || c == 0x2D
            })
        else { return false }
        switch a.value {
        case .bool, .int: return true
        case .double(let d): return d.isFinite
        case .string(let s):
            let u = s.utf8
            guard !u.isEmpty, u.count <= customValueMaxBytes else { return false }
            let hasControl = s.unicodeScalars.contains { c in
                c.value < 0x20 || (c.value >= 0x7F && c.value <= 0x9F) || c.value == 0x2028 || c.value == 0x2029
            }
            return !hasControl && !PIIScanner.containsPII(s) && !looksLikeURL(s)
        case .bytes, .array, .keyValueList:
            return false
        }
    }

    /// A value with a scheme or a query is a raw URL, which never leaves the device.
    private static func looksLikeURL(_ s: String) -> Bool {
        s.contains("://") || (s.hasPrefix("/") && (s.contains("?") || s.contains("#")))
    }

    private static func input(_ v: AttributeValue) -> AttributeInput {
        switch v {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .bool(let b): return .bool(b)
        case .bytes, .array, .keyValueList: return .array
        }
    }
}
