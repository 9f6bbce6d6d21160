import Foundation
import StitchOTLP
import StitchSchema
import StitchTestSupport
import Testing

@testable import StitchExporter

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Consent as the schema's privacy rule says, proven on the receiver's decoded wire and on the app backend's
/// request headers.
@Suite(.enabled(if: OTLPReceiver.testsEnabled, "needs python3 with opentelemetry-proto (CI installs it)"))
struct ConsentTests {
    /// One GET to the app backend inside an action.
    static func tap(_ exporter: ExporterUnderTest, _ api: InstrumentedURLSession, _ backend: DemoAppBackend) async {
        await exporter.stitch.action("tap.home") { _ in
            var request = URLRequest(url: viaLocalhost(backend.baseURL).appendingPathComponent("v1/home"))
            request.setValue("app.release=beta", forHTTPHeaderField: "baggage")
            _ = try? await api.data(for: request)
        }
    }

    @Test func pendingSendsNothingAndAddsNoHeadersThenGrantedDeliversWhatWasHeld() async throws {
        let receiver = try OTLPReceiver.start()
        let backend = try DemoAppBackend()
        defer { backend.stop() }
        // A short batch delay: the periodic cut runs several times while consent is pending.
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .pending, maxBatchDelay: 0.1)
        let api = exporter.instrumentedSession()
        exporter.stitch.handle(.foreground)
        for _ in 0..<3 { await Self.tap(exporter, api, backend) }
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(exporter.stitch.flush(timeout: 1) == false)
        #expect(try receiver.received().requests.isEmpty)
        #expect(backend.requests.count == 3)
        #expect(backend.requests.allSatisfy { $0.traceparent == nil && $0.baggage == "app.release=beta" })
        #expect(exporter.stitch.pendingItemCount > 0)

        exporter.stitch.setConsent(.granted)
        #expect(exporter.stitch.flush(timeout: 10))
        let batch = try receiver.received()
        let actions = batch.spans.filter { $0.span.kind == .internal }
        #expect(actions.filter { $0.attributes.string(SchemaAttribute.stitchActionName) == "tap.home" }.count == 3)
        #expect(batch.spans.filter { $0.span.kind == .client }.count == 3)
        #expect(batch.logRecords.contains { $0.record.eventName == SchemaEvent.sessionStart })
        #expect(batch.spans.allSatisfy { $0.resource.string(SchemaAttribute.stitchConsent) == "granted" })
        await Self.tap(exporter, api, backend)
        #expect(backend.requests.last?.traceparent != nil)
        #expect(backend.requests.last?.baggage?.hasPrefix("session.id=") == true)
        exporter.stitch.shutdown()
        receiver.stop()
    }

    @Test func pendingHoldsABoundedBufferAndCountsWhatItDrops() async throws {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let exporter = try ExporterUnderTest(
            endpoint: receiver.endpoint, consent: .pending, bufferCapacity: 8, maxBatchSize: 8)
        for i in 0..<20 { exporter.stitch.action("tap.item") { _ in exporter.clock.advance(milliseconds: Int64(i)) } }
        #expect(exporter.stitch.counters.recordedSpans == 20)
        #expect(exporter.stitch.counters.droppedSpans[.bufferFull] == 12)
        exporter.stitch.setConsent(.granted)
        #expect(exporter.stitch.flush(timeout: 10))
        // The newest eight routine spans are the ones kept.
        #expect(try receiver.received().spans.count == 8)
        exporter.stitch.shutdown()
    }

    @Test func deniedDiscardsWhatIsHeldAndOnDiskAndStopsEveryHeader() async throws {
        let receiver = try OTLPReceiver.start()
        let backend = try DemoAppBackend()
        defer {
            backend.stop()
            receiver.stop()
        }
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted)
        let api = exporter.instrumentedSession()
        exporter.stitch.handle(.foreground)
        await Self.tap(exporter, api, backend)
        #expect(backend.requests.last?.traceparent != nil)
        let installation = InstallationID.file(in: exporter.folder.url)
        #expect(FileManager.default.fileExists(atPath: installation.path))
        let held = exporter.stitch.pendingItemCount
        #expect(held > 0)

        exporter.stitch.setConsent(.denied)
        #expect(exporter.stitch.pendingItemCount == 0)
        #expect(!FileManager.default.fileExists(atPath: installation.path))
        let c = exporter.stitch.counters
        #expect((c.droppedSpans[.consentDenied] ?? 0) + (c.droppedLogs[.consentDenied] ?? 0) == Int64(held))
        await Self.tap(exporter, api, backend)
        #expect(backend.requests.last?.traceparent == nil)
        #expect(backend.requests.last?.baggage == "app.release=beta")
        exporter.stitch.flush(timeout: 2)
        #expect(try receiver.received().requests.isEmpty)
        #expect(exporter.stitch.counters.exportedSpans == 0)
        exporter.stitch.shutdown()
    }
}

/// A request made with no network waits for one, keeps its trace and session, and says how long it waited.
@Suite(.enabled(if: OTLPReceiver.testsEnabled, "needs python3 with opentelemetry-proto (CI installs it)"))
struct OfflineQueueTests {
    @Test func aRequestQueuedOfflineCarriesItsQueueDelayAndItsHeaders() async throws {
        let receiver = try OTLPReceiver.start()
        let backend = try DemoAppBackend()
        defer {
            backend.stop()
            receiver.stop()
        }
        let network = NetworkDouble(NetworkStatus(type: .unavailable))
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, consent: .granted, network: network)
        let api = exporter.instrumentedSession()
        let url = viaLocalhost(backend.baseURL).appendingPathComponent("v1/sync")
        let request = Task {
            await exporter.stitch.action("tap.sync") { _ in _ = try? await api.data(for: URLRequest(url: url)) }
        }
        // Bounded wait: the request must still be held after a while with no network.
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(backend.requests.isEmpty)
        exporter.clock.advance(milliseconds: 5_000)
        network.set(NetworkStatus(type: .wifi))
        await request.value
        #expect(backend.requests.count == 1)
        #expect(exporter.stitch.flush(timeout: 10))
        let batch = try receiver.received()
        let client = try #require(batch.spans.first { $0.span.kind == .client })
        #expect(client.attributes.int(SchemaAttribute.stitchRequestQueueDelayMs) == 5_000)
        #expect(client.attributes.string(SchemaAttribute.networkConnectionType) == "wifi")
        let parts = try #require(traceparentParts(backend.requests[0].traceparent))
        #expect(parts.parent == client.span.spanID.hex)
        let action = try #require(batch.spans.first { $0.span.kind == .internal })
        #expect(client.span.traceID == action.span.traceID)
        #expect(client.sessionID == action.sessionID)
        exporter.stitch.shutdown()
    }
}
