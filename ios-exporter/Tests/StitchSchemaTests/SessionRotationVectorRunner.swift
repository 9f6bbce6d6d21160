// Placeholder until the session_rotation runner is written: every vector of the category fails as a runner error.
enum SessionRotationVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue { throw VectorRunnerError("no session_rotation runner yet") }
}
