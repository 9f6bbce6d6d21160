import StitchSchema

/// Runs one `url_template.json` vector: `{"url"}` in, `{"template", "server_address"}` or `{"error"}` out.
enum URLTemplateVectorRunner {
    static func run(_ input: JSONValue) throws -> JSONValue {
        try input.requireKeys(["url"], required: ["url"])
        switch URLTemplate.template(try input.string("url")) {
        case .success(let templated):
            return .object([
                "template": .string(templated.template),
                "server_address": templated.serverAddress.map(JSONValue.string) ?? .null,
            ])
        case .failure(let code):
            return .object(["error": .string(code.rawValue)])
        }
    }
}
