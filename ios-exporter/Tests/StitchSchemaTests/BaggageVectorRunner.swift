// Placeholder until the baggage runner is written: every vector of the category fails as a runner error.
enum BaggageVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue { throw VectorRunnerError("no baggage runner yet") }
}
