import StitchSchema

/// Runs one `pseudonymous_id.json` vector: the key as hex, the identifier as text.
enum PseudonymousIDVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue {
        let keys: Set<String> = ["key_hex", "id"]
        try input.requireKeys(keys, required: keys)
        switch PseudonymousID.hash(try input.string("id"), key: try bytes(hex: try input.string("key_hex"))) {
        case .success(let hash): return .object(["hash": .string(hash)])
        case .failure(let code): return .object(["error": .string(code.rawValue)])
        }
    }

    private static func bytes(hex: String) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { throw VectorRunnerError("key_hex has an odd length") }
        return try stride(from: 0, to: digits.count, by: 2).map { start in
            guard let byte = UInt8(String(decoding: digits[start..<start + 2], as: UTF8.self), radix: 16) else {
                throw VectorRunnerError("key_hex is not hex")
            }
            return byte
        }
    }
}
