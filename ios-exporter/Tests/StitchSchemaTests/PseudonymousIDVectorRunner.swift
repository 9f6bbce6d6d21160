// Placeholder until the pseudonymous_id runner is written: every vector of the category fails as a runner error.
enum PseudonymousIDVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue { throw VectorRunnerError("no pseudonymous_id runner yet") }
}
