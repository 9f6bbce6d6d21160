// Placeholder until the traceparent runner is written: every vector of the category fails as a runner error.
enum TraceparentVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue { throw VectorRunnerError("no traceparent runner yet") }
}
