import StitchSchema
import Testing

@Suite struct URLTemplateTests {
    /// The url_template format promises that a template is its own template; check it on every vector's output.
    @Test func templatingIsIdempotent() throws {
        var checked = 0
        for vector in try SchemaVectors.load(category: "url_template") {
            guard let template = vector.expected["template"]?.stringValue else { continue }
            let again = try URLTemplate.template(template).get()
            #expect(Array(again.template.utf8) == Array(template.utf8), "\(vector.id)")
            #expect(again.serverAddress == nil)
            checked += 1
        }
        #expect(checked > 50)
    }

    @Test func c1ControlsAreRejectedButOtherLatin1IsKept() {
        #expect(URLTemplate.template("/a\u{85}b") == .failure(.invalidURL))
        #expect(URLTemplate.template("/a\u{9F}b") == .failure(.invalidURL))
        #expect(URLTemplate.template("/a\u{A0}b") == .success(TemplatedURL(template: "/a\u{A0}b", serverAddress: nil)))
    }

    @Test func hostDetails() {
        #expect(
            URLTemplate.template("https://a@b@Api.Example.com:99")
                == .success(TemplatedURL(template: "/", serverAddress: "api.example.com")))
        #expect(URLTemplate.template("http://[::1]/x") == .success(TemplatedURL(template: "/x", serverAddress: nil)))
        #expect(URLTemplate.template("http://:80/x") == .failure(.invalidURL))
        #expect(URLTemplate.template("h://x]/") == .failure(.invalidURL))
    }

    @Test func templateLimitCountsPlaceholderBytes() {
        // 100 numeric segments of two bytes become 100 "{id}" segments: 500 bytes, under the 512 limit...
        let short = String(repeating: "/12", count: 100)
        #expect((try? URLTemplate.template(short).get().template.utf8.count) == 500)
        // ...while 103 of them make 515 bytes.
        #expect(URLTemplate.template(String(repeating: "/12", count: 103)) == .failure(.tooLong))
    }
}
