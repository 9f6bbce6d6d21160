import StitchSchema

/// Runs one `traceparent.json` vector: `op` decode (`header`) or encode (`trace_id`, `span_id`, `trace_flags`).
enum TraceparentVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue {
        switch try input.string("op") {
        case "decode":
            try input.requireKeys(["op", "header"], required: ["op", "header"])
            switch Traceparent.decode(try input.string("header")) {
            case .success(let context):
                return .object([
                    "valid": .bool(true), "trace_id": .string(context.traceID), "span_id": .string(context.spanID),
                    "trace_flags": .string(hexByte(context.flags)), "sampled": .bool(context.sampled),
                    "random": .bool(context.random),
                ])
            case .failure(let code):
                return .object(["valid": .bool(false), "error": .string(code.rawValue)])
            }
        case "encode":
            let keys: Set<String> = ["op", "trace_id", "span_id", "trace_flags"]
            try input.requireKeys(keys, required: keys)
            let flagsText = try input.string("trace_flags")
            guard flagsText.utf8.count == 2, let flags = UInt8(flagsText, radix: 16) else {
                throw VectorRunnerError("trace_flags is not two hex digits: \(flagsText)")
            }
            switch Traceparent.encode(
                traceID: try input.string("trace_id"), spanID: try input.string("span_id"), flags: flags)
            {
            case .success(let header): return .object(["header": .string(header)])
            case .failure(let code): return .object(["error": .string(code.rawValue)])
            }
        case let op:
            throw VectorRunnerError("unknown traceparent op \(op)")
        }
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
