import StitchSchema

/// Runs one `baggage.json` vector: `op` decode (`header`) or encode (`session_id`, `members`).
enum BaggageVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue {
        switch try input.string("op") {
        case "decode":
            try input.requireKeys(["op", "header"], required: ["op", "header"])
            let decoded = Baggage.decode(try input.string("header"))
            var result: [String: JSONValue] = [
                "status": .string(decoded.status.rawValue), "member_count": .int(Int64(decoded.members.count)),
                "session_id": decoded.sessionID.map(JSONValue.string) ?? .null,
                "session_error": decoded.sessionError.map { .string($0.rawValue) } ?? .null,
            ]
            if try listsMembers(input) {
                var members: [String: JSONValue] = [:]
                for member in decoded.members { members[member.key] = .string(member.value) }
                result["members"] = .object(members)
            }
            return .object(result)
        case "encode":
            let keys: Set<String> = ["op", "session_id", "members"]
            try input.requireKeys(keys, required: keys)
            guard let list = input["members"]?.arrayValue else { throw VectorRunnerError("members is not an array") }
            let members = try list.map { item in
                try item.requireKeys(["key", "value"], required: ["key", "value"])
                return BaggageMember(key: try item.string("key"), value: try item.string("value"))
            }
            switch Baggage.encode(sessionID: try input.string("session_id"), members: members) {
            case .success(let header): return .object(["header": .string(header)])
            case .failure(let code): return .object(["error": .string(code.rawValue)])
            }
        case let op:
            throw VectorRunnerError("unknown baggage op \(op)")
        }
    }

    /// The inputs of the decode vectors whose `expected` lists `members`; the others (very large headers) leave
    /// members out, and then they are not compared. The runner sees only the input, so it looks the vector up.
    private static let inputsListingMembers: Result<[JSONValue], VectorRunnerError> = Result {
        try SchemaVectors.load(category: "baggage").filter { $0.expected["members"] != nil }.map(\.input)
    }.mapError { VectorRunnerError("cannot read baggage.json: \($0)") }

    private static func listsMembers(_ input: JSONValue) throws -> Bool {
        try inputsListingMembers.get().contains(input)
    }
}
