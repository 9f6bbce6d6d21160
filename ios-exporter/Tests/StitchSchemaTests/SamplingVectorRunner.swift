import StitchSchema

/// Runs one `sampling.json` vector through `SessionSampling.decide`.
enum SamplingVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue {
        let keys: Set<String> = ["session_id", "rate", "has_error", "duration_ms", "threshold_ms"]
        try input.requireKeys(keys, required: keys)
        guard let rate = input["rate"]?.doubleValue else { throw VectorRunnerError("rate is not a number") }
        let outcome = SessionSampling.decide(
            sessionID: try input.string("session_id"), rate: rate, hasError: try input.bool("has_error"),
            durationMs: try input.int64("duration_ms"), thresholdMs: try input.int64("threshold_ms"))
        switch outcome {
        case .success(let outcome):
            return .object(["decision": .string(outcome.decision.rawValue), "reason": .string(outcome.reason.rawValue)])
        case .failure(let code):
            return .object(["error": .string(code.rawValue)])
        }
    }
}
