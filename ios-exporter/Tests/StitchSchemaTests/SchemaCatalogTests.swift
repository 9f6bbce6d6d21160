import Foundation
import StitchSchema
import Testing

/// Ties the generated catalog to the YAML (drift check) and the hand-written types to the catalog.
@Suite struct SchemaCatalogTests {
    #if os(macOS) || os(Linux)
        @Test(
            .enabled(
                if: CatalogGenerator.isAvailable || CatalogGenerator.isCI,
                "python3 with PyYAML is not installed; with CI=true this test fails instead"))
        func generatedCatalogMatchesSchema() throws {
            let run = try CatalogGenerator.run(["--check"])
            #expect(run.status == 0, "SchemaCatalog.swift differs from schema/stitch-telemetry.yaml:\n\(run.output)")
        }
    #endif

    @Test func reasonCodesMatchSchema() {
        #expect(ReasonCode.allCases.map(\.rawValue) == SchemaCatalog.reasonCodes)
    }

    @Test func everySchemaRegexCompiles() {
        var regexes = SchemaCatalog.attributeList.compactMap(\.regex)
        regexes += SchemaCatalog.formats.values.compactMap(\.regex)
        regexes += PrivacyRules.piiPatterns.map(\.regex)
        #expect(regexes.count > 10)
        for regex in regexes {
            #expect(regex.compiles, "ICU rejects \(regex.pattern)")
        }
    }

    @Test func everyFormatHasARule() {
        for format in SchemaFormat.allCases {
            #expect(SchemaCatalog.formats[format] != nil, "no rule for \(format.rawValue)")
        }
    }

    @Test func attributesAreIndexedByName() {
        #expect(SchemaCatalog.attributes.count == SchemaCatalog.attributeList.count)
        #expect(SchemaCatalog.attributes[SchemaAttribute.sessionID]?.format == .sessionID)
        #expect(SchemaCatalog.attributes[SchemaAttribute.urlTemplate]?.maxLength == URLTemplateRules.maxTemplateBytes)
        #expect(SchemaCatalog.forbiddenAttributes.isDisjoint(with: SchemaCatalog.attributes.keys))
    }

    @Test func enumsOfTheCatalogMatchTheSwiftEnums() {
        let startReasons = SchemaCatalog.attributes[SchemaAttribute.stitchSessionStartReason]?.enumValues
        #expect(startReasons == SessionStartReason.allCases.map(\.rawValue))
        #expect(SessionRules.persistedState.count == 6)
    }

    @Test func ruleConstants() {
        #expect(SchemaCatalog.version == "1.0.0")
        #expect(SessionRules.backgroundTimeoutMs == 900_000)
        #expect(SessionRules.maxDurationMs == 14_400_000)
        #expect(SamplingRules.defaultRate == 1.0)
        #expect(SamplingRules.defaultLatencyThresholdMs == 3000)
        #expect(URLTemplateRules.maxInputBytes == 8192)
        #expect(PrivacyRules.hmacMinKeyBytes == 32)
        #expect(PrivacyRules.piiPatterns.map(\.name) == ["email", "ipv4", "ipv6", "phone"])
    }
}

#if os(macOS) || os(Linux)
    /// Runs `Scripts/generate_schema_catalog.py` from the package directory.
    enum CatalogGenerator {
        static let packageDirectory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

        /// python3 runs and can import yaml.
        static var isAvailable: Bool {
            (try? execute(["python3", "-c", "import yaml"]).status) == 0
        }

        static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
            try execute(["python3", "Scripts/generate_schema_catalog.py"] + arguments)
        }

        private static func execute(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            process.currentDirectoryURL = packageDirectory
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            // Read before waiting, so a long diff cannot fill the pipe and stall the child.
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self))
        }
    }
#endif
