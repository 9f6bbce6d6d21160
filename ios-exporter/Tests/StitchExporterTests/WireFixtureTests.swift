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
        let decoded = try await Self.decodeWithReference(scenario.payloads)
        #expect(decoded.rejections.isEmpty)
        #expect(decoded.requests.allSatisfy { $0.isCanonical && $0.unknownFieldCount == 0 })

        var expected: [String: Data] = [:]
        for (i, p) in scenario.payloads.enumerated() {
            expected[FixtureScenario.fileName(i, path: p.path)] = Data(p.protobuf)
        }
        let manifest = FixtureManifest.make(scenario, decoded: decoded)
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
        let a = try await FixtureScenario.run()
        let b = try await FixtureScenario.run()
        #expect(a.payloads.map(\.protobuf) == b.payloads.map(\.protobuf))
    }

    /// Posts each body, as it was sent, to the Python receiver and returns its decoding.
    static func decodeWithReference(_ payloads: [InProcessOTLPReceiver.Payload]) async throws -> ReceivedBatch {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let session = URLSession(configuration: .ephemeral)
        for p in payloads {
            var request = URLRequest(url: receiver.endpoint.appendingPathComponent(String(p.path.dropFirst())))
            request.httpMethod = "POST"
            request.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
            request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
            request.httpBody = Data(p.body)
            request.timeoutInterval = 10
            let (_, response) = try await session.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
        }
        return try receiver.received()
    }
}
