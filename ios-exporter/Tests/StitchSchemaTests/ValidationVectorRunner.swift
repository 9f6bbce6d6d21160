// Placeholder until the validation runner is written: every vector of the category fails as a runner error.
enum ValidationVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue { throw VectorRunnerError("no validation runner yet") }
}
