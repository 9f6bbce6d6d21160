// Placeholder until the sampling runner is written: every vector of the category fails as a runner error.
enum SamplingVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue { throw VectorRunnerError("no sampling runner yet") }
}
