// Placeholder until the url_template runner is written: every vector of the category fails as a runner error.
enum URLTemplateVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue { throw VectorRunnerError("no url_template runner yet") }
}
