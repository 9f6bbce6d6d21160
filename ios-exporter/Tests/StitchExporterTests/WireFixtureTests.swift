import Foundation
import StitchOTLP
import StitchTestSupport
import Testing

@testable import StitchExporter

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The golden wire fixtures in `Fixtures/otlp/` are what the seeded scenario sends, byte for byte; the Go side
/// reads them. This test regenerates them and fails on any difference. To accept a change on purpose:
/// `STITCH_UPDATE_FIXTURES=1 swift test --package-path ios-exporter --filter WireFixtureTests`.
@Suite(.enabled(if: OTLPReceiver.testsEnabled, "needs python3 with opentelemetry-proto (CI installs it)"))
struct WireFixtureTests {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/otlp", isDirectory: true)
    static var updating: Bool { ProcessInfo.processInfo.environment["STITCH_UPDATE_FIXTURES"] == "1" }

    @Test func theSeededScenarioSendsExactlyTheFixtures() async throws {
        let scenario = try await FixtureScenario.run()
        #expect(scenario.delivered)
        try #require(!scenario.payloads.isEmpty)
        // The reference decoder reads every payload as sent, and it is its own canonical encoding.
        let decoded = try await Self.decodeWithReference(
            scenario.payloads.map(\.body), paths: scenario.payloads.map(\.path))
        #expect(decoded.rejections.isEmpty)
        #expect(decoded.requests.allSatisfy { $0.isCanonical && $0.unknownFieldCount == 0 })
        // Re-encoding what the reference decoder read gives back every payload byte for byte, so the merged
        // fixtures below hold exactly what was sent.
        for (payload, request) in zip(scenario.payloads, decoded.requests) {
            #expect(FixtureCanonicalForm.reencode(request) == payload.protobuf, "\(payload.path) does not round-trip")
        }
        let traces = try #require(FixtureCanonicalForm.traces(decoded))
        let logs = try #require(FixtureCanonicalForm.logs(decoded))
        let check = try await Self.decodeWithReference(
            [try Gzip.compress(traces), try Gzip.compress(logs)], paths: ["/v1/traces", "/v1/logs"])
        #expect(check.spans.count == decoded.spans.count && check.logRecords.count == decoded.logRecords.count)
        #expect(check.requests.allSatisfy { $0.isCanonical && $0.unknownFieldCount == 0 })

        var expected: [String: Data] = ["traces.binpb": Data(traces), "logs.binpb": Data(logs)]
        let manifest = FixtureManifest.make(scenario, decoded: check)
        var json = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        json.append(0x0A)
        expected["manifest.json"] = json

        if Self.updating {
            try? FileManager.default.removeItem(at: Self.folder)
            try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
            for (name, data) in expected { try data.write(to: Self.folder.appendingPathComponent(name)) }
            return
        }
        let present = Set((try? FileManager.default.contentsOfDirectory(atPath: Self.folder.path)) ?? [])
        let missing = Set(expected.keys).subtracting(present).sorted()
        let unexpected = present.subtracting(expected.keys).sorted()
        #expect(
            present == Set(expected.keys),
            "Fixtures/otlp differs in files: missing \(missing), unexpected \(unexpected); regenerate with STITCH_UPDATE_FIXTURES=1 if intended"
        )
        for (name, data) in expected.sorted(by: { $0.key < $1.key }) where present.contains(name) {
            let onDisk = try Data(contentsOf: Self.folder.appendingPathComponent(name))
            let sizes = "\(onDisk.count) bytes on disk, \(data.count) sent"
            #expect(onDisk == data, "Fixtures/otlp/\(name) differs (\(sizes)); STITCH_UPDATE_FIXTURES=1 regenerates")
        }
    }

    @Test func theScenarioIsTheSameOnEveryRun() async throws {
        // However the batches were cut, the same items with the same bytes arrive on every run.
        func items(_ s: FixtureScenario) -> [String] {
            s.payloads.flatMap { p in
                (p.spans + p.logs).map { i in
                    let attributes = i.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    return
                        "\(i.traceID) \(i.spanID) \(i.parentSpanID) \(i.name) \(i.kind) \(i.eventName) \(i.startUnixNano) "
                        + attributes.joined(separator: ",")
                }
            }.sorted()
        }
        let a = try await FixtureScenario.run()
        let b = try await FixtureScenario.run()
        #expect(!items(a).isEmpty)
        #expect(items(a) == items(b))
    }

    /// Posts each gzip'd body to the Python receiver and returns its decoding.
    static func decodeWithReference(_ bodies: [[UInt8]], paths: [String]) async throws -> ReceivedBatch {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let session = URLSession(configuration: .ephemeral)
        for (body, path) in zip(bodies, paths) {
            var request = URLRequest(url: receiver.endpoint.appendingPathComponent(String(path.dropFirst())))
            request.httpMethod = "POST"
            request.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
            request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
            request.httpBody = Data(body)
            request.timeoutInterval = 10
            let (_, response) = try await session.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
        }
        return try receiver.received()
    }
}
