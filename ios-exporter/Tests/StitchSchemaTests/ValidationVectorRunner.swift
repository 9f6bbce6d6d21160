import StitchSchema

/// Runs one `validation.json` vector: `{"attribute", "type", "value"}` in, `{"valid"[, "error"]}` out.
enum ValidationVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue {
        try input.requireKeys(["attribute", "type", "value"], required: ["attribute", "type", "value"])
        let value = try attributeInput(type: try input.string("type"), value: input["value"] ?? .null)
        guard let code = AttributeValidator.validate(name: try input.string("attribute"), value: value) else {
            return .object(["valid": .bool(true)])
        }
        return .object(["valid": .bool(false), "error": .string(code.rawValue)])
    }

    /// Reads `value` as `type` says; a value that does not fit its declared type is a broken vector.
    private static func attributeInput(type: String, value: JSONValue) throws -> AttributeInput {
        switch (type, value) {
        case ("string", .string(let text)): return .string(text)
        case ("int", .int(let number)): return .int(number)
        case ("double", .double(let number)): return .double(number)
        case ("double", .int(let number)): return .double(Double(number))  // a whole double written without ".0"
        case ("boolean", .bool(let flag)): return .bool(flag)
        case ("null", .null): return .null
        case ("array", .array): return .array
        default: throw VectorRunnerError("value \(value) is not of type \(type)")
        }
    }
}
