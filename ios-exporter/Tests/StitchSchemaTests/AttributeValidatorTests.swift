import StitchSchema
import Testing

@Suite struct AttributeValidatorTests {
    @Test func intBoundsAreExactAtTheInt64Extremes() {
        #expect(AttributeValidator.validate(name: SchemaAttribute.stitchClockMonotonicNs, value: .int(.max)) == nil)
        #expect(
            AttributeValidator.validate(name: SchemaAttribute.stitchClockMonotonicNs, value: .int(.min))
                == .outOfRange)
        let offset = SchemaAttribute.stitchClockOffsetMs
        #expect(AttributeValidator.validate(name: offset, value: .int(31_536_000_000)) == nil)
        #expect(AttributeValidator.validate(name: offset, value: .int(31_536_000_001)) == .outOfRange)
        #expect(AttributeValidator.validate(name: offset, value: .int(-31_536_000_000)) == nil)
        #expect(AttributeValidator.validate(name: offset, value: .int(-31_536_000_001)) == .outOfRange)
        #expect(AttributeValidator.validate(name: offset, value: .int(.max)) == .outOfRange)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, 1.000_000_000_000_000_2, -Double.leastNonzeroMagnitude])
    func nonFiniteAndOutsideDoublesAreOutOfRange(value: Double) {
        #expect(
            AttributeValidator.validate(name: SchemaAttribute.stitchSamplingRate, value: .double(value)) == .outOfRange)
    }

    @Test func boundaryDoublesAreInRange() {
        for value in [0.0, -0.0, 1.0, Double.leastNonzeroMagnitude] {
            #expect(AttributeValidator.validate(name: SchemaAttribute.stitchSamplingRate, value: .double(value)) == nil)
        }
    }

    @Test func typesAreStrict() {
        #expect(AttributeValidator.validate(name: SchemaAttribute.appScreenName, value: .null) == .wrongType)
        #expect(AttributeValidator.validate(name: SchemaAttribute.appScreenName, value: .array) == .wrongType)
        #expect(
            AttributeValidator.validate(name: SchemaAttribute.httpResponseStatusCode, value: .bool(true)) == .wrongType)
    }

    @Test func forbiddenIsReportedBeforeTheValueIsLookedAt() {
        #expect(AttributeValidator.validate(name: "url.full", value: .int(1)) == .forbiddenAttribute)
        #expect(AttributeValidator.validate(name: "device.name", value: .string("x")) == .forbiddenAttribute)
    }

    @Test func urlTemplateFormat() {
        let name = SchemaAttribute.urlTemplate
        #expect(AttributeValidator.validate(name: name, value: .string("//cdn/x")) == .patternMismatch)
        #expect(AttributeValidator.validate(name: name, value: .string("/a/%zz")) == .patternMismatch)
        #expect(AttributeValidator.validate(name: name, value: .string("/a//b")) == .piiInURL)
        #expect(AttributeValidator.validate(name: name, value: .string("/files/a%2Fb")) == nil)
    }

    /// Enum values compare as bytes: a decomposed "é" is not the precomposed one even though Swift's `==` says so.
    @Test func stringsCompareAsBytes() {
        let precomposed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(precomposed == decomposed)
        #expect(
            AttributeValidator.validate(name: SchemaAttribute.appScreenName, value: .string(decomposed)) == nil)
        #expect(
            AttributeValidator.validate(name: SchemaAttribute.urlTemplate, value: .string("/" + decomposed)) == nil)
    }
}
