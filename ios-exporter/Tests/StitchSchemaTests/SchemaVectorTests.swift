import Foundation
import Testing

/// Runs every vector of every file in `schema/vectors/` and prints one tally line. A category without a runner,
/// a runner error (unknown key or op) or a mismatch fails; nothing is skipped.
@Suite struct SchemaVectorTests {
    /// One runner a category: the vector's input in, the result object to compare with `expected` out.
    static let runners: [String: @Sendable (JSONValue) throws -> JSONValue] = [
        "traceparent": TraceparentVectorRunner.run,
        "baggage": BaggageVectorRunner.run,
        "sampling": SamplingVectorRunner.run,
        "pseudonymous_id": PseudonymousIDVectorRunner.run,
        "url_template": URLTemplateVectorRunner.run,
        "validation": ValidationVectorRunner.run,
        "session_rotation": SessionRotationVectorRunner.run,
    ]

    @Test func everyVectorPasses() throws {
        var passed = 0
        var failed = 0
        var perCategory: [String] = []
        var seenIDs = Set<String>()
        for category in try SchemaVectors.categories() {
            let runner = try #require(Self.runners[category], "no runner for vector category \(category)")
            let vectors = try SchemaVectors.load(category: category)
            var categoryPassed = 0
            for v in vectors {
                #expect(seenIDs.insert(v.id).inserted, "duplicate vector id \(v.id)")
                do {
                    let got = try runner(v.input)
                    if got == v.expected {
                        categoryPassed += 1
                    } else {
                        Issue.record("\(v.id): \(v.description)\n  expected \(v.expected)\n  got      \(got)")
                    }
                } catch {
                    Issue.record("\(v.id): runner error: \(error)")
                }
            }
            passed += categoryPassed
            failed += vectors.count - categoryPassed
            perCategory.append("\(category) \(categoryPassed)/\(vectors.count)")
        }
        print("vectors by category: " + perCategory.joined(separator: ", "))
        print("vectors: \(passed) passed, \(failed) failed, 0 skipped")
        #expect(failed == 0)
        #expect(passed == seenIDs.count)
    }
}
