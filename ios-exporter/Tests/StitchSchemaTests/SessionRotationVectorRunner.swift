import StitchSchema

/// Runs one `session_rotation.json` vector: an initial state, an ID list and events in; one step per processed
/// event out, plus `{"code", "at_event"}` when an event failed.
enum SessionRotationVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue {
        try input.requireKeys(["initial_state", "ids", "events"], required: ["initial_state", "ids", "events"])
        var state = try initialState(input["initial_state"] ?? .null)
        var ids = try strings(input["ids"]).makeIterator()
        guard let events = input["events"]?.arrayValue else { throw VectorRunnerError("events is not an array") }

        var steps: [JSONValue] = []
        for (index, event) in events.enumerated() {
            try event.requireKeys(["kind", "t_ms"], required: ["kind", "t_ms"])
            guard let kind = LifecycleEventKind(rawValue: try event.string("kind")) else {
                return result(steps, error: .badEvent, at: index)
            }
            switch SessionRotation.apply(kind, atMs: try event.int64("t_ms"), to: state, newID: { ids.next() }) {
            case .success(let transition):
                state = transition.state
                steps.append(step(transition))
            case .failure(let code):
                return result(steps, error: code, at: index)
            }
        }
        return .object(["steps": .array(steps)])
    }

    private static func step(_ transition: SessionTransition) -> JSONValue {
        .object([
            "session_id": transition.state.map { .string($0.sessionID) } ?? .null,
            "previous_id": transition.state?.previousID.map(JSONValue.string) ?? .null,
            "new_session": .bool(transition.startedSession),
            "reason": transition.reason.map { .string($0.rawValue) } ?? .null,
        ])
    }

    private static func result(_ steps: [JSONValue], error: ReasonCode, at index: Int) -> JSONValue {
        .object([
            "steps": .array(steps),
            "error": .object(["code": .string(error.rawValue), "at_event": .int(Int64(index))]),
        ])
    }

    private static func initialState(_ value: JSONValue) throws -> SessionState? {
        if value == .null { return nil }
        let keys: Set<String> = [
            "session_id", "previous_id", "started_at_ms", "background_since_ms", "last_seen_ms", "foreground",
        ]
        try value.requireKeys(keys, required: keys)
        return SessionState(
            sessionID: try value.string("session_id"),
            previousID: value["previous_id"] == .null ? nil : try value.string("previous_id"),
            startedAtMs: try value.int64("started_at_ms"),
            backgroundSinceMs: value["background_since_ms"] == .null ? nil : try value.int64("background_since_ms"),
            lastSeenMs: try value.int64("last_seen_ms"),
            foreground: try value.bool("foreground"))
    }

    private static func strings(_ value: JSONValue?) throws -> [String] {
        guard let list = value?.arrayValue else { throw VectorRunnerError("ids is not an array") }
        return try list.map { item in
            guard let text = item.stringValue else { throw VectorRunnerError("id \(item) is not a string") }
            return text
        }
    }
}
