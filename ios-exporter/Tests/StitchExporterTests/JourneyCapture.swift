import Foundation
import StitchOTLP
import StitchSchema
import StitchTestSupport

@testable import StitchExporter

/// The demo journey (two sessions with a rotation, consent pending then granted, a failed search, a resent
/// payment, a third-party request) through the real exporter, delivered to the Python receiver that decodes with
/// the official OpenTelemetry classes. The app backend's clock runs 42 s ahead of the device and each request
/// takes 30 ms of device time.
struct JourneyCapture {
    static let serverAheadMs: Int64 = 42_000
    static let requestMs: Int64 = 30
    static let userID = "jane.doe@example.com"

    let batch: ReceivedBatch
    let backendRequests: [DemoAppBackend.Seen]
    let thirdPartyRequests: [DemoAppBackend.Seen]
    let counters: ExportCountersSnapshot
    let clockOffsetMs: Int64?
    let delivered: Bool
    let folder: TemporaryFolder
    var stateFolder: URL { folder.url }

    static func run(sessions: Int = 2, samplingRate: Double = 1) async throws -> JourneyCapture {
        let receiver = try OTLPReceiver.start()
        defer { receiver.stop() }
        let clock = ManualClock()
        let backend = try DemoAppBackend(
            serverTimeMillis: { clock.now().wallMillis + serverAheadMs },
            onServe: { _ in clock.advance(milliseconds: requestMs) })
        let thirdParty = try DemoAppBackend()
        defer {
            backend.stop()
            thirdParty.stop()
        }
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, samplingRate: samplingRate, clock: clock)
        exporter.stitch.setUser(id: userID, tier: "premium")
        let journey = DemoJourney(
            sessions: sessions, appBackend: viaLocalhost(backend.baseURL), thirdParty: thirdParty.baseURL,
            jump: { clock.advance(milliseconds: $0) })
        _ = await journey.run(on: exporter.stitch)
        let delivered = exporter.stitch.flush(timeout: 20)
        exporter.stitch.shutdown()
        return JourneyCapture(
            batch: try receiver.received(), backendRequests: backend.requests,
            thirdPartyRequests: thirdParty.requests, counters: exporter.stitch.counters,
            clockOffsetMs: exporter.stitch.clockOffsetMs, delivered: delivered, folder: exporter.folder)
    }

    var clientSpans: [ReceivedSpan] { batch.spans.filter { $0.span.kind == .client } }
    var actionSpans: [ReceivedSpan] { batch.spans.filter { $0.span.kind == .internal } }

    func logs(named event: String) -> [ReceivedLogRecord] {
        batch.logRecords.filter { $0.record.eventName == event }
    }
}
