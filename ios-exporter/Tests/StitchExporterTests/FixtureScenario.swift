import Foundation
import StitchOTLP
import StitchSchema
import StitchTestSupport

@testable import StitchExporter

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The seeded scenario behind the golden wire fixtures: three sessions (two rotations), consent pending then
/// granted, a failed search, a payment resent after a 503, a third-party request — on a manual clock and seeded
/// IDs, so every byte is the same on every run. The collector is down during the journey and comes back at the
/// end, so the batches are cut the same way every time.
struct FixtureScenario {
    static let seed: UInt64 = 2026
    static let baseWallMs: Int64 = 1_765_000_000_000
    static let sessions = 3
    static let serverAheadMs: Int64 = 42_000
    static let requestMs: Int64 = 30

    /// The bodies as sent (gzip) and as protobuf, in the order they arrived.
    let payloads: [InProcessOTLPReceiver.Payload]
    let backendRequests: [DemoAppBackend.Seen]
    let thirdPartyRequests: [DemoAppBackend.Seen]
    let delivered: Bool

    static func run() async throws -> FixtureScenario {
        let receiver = try InProcessOTLPReceiver()
        receiver.setDown(true)
        let clock = ManualClock(wallMillis: baseWallMs)
        let serverTime: @Sendable () -> Int64 = { clock.now().wallMillis + serverAheadMs }
        let backend = try DemoAppBackend(
            serverTimeMillis: serverTime, onServe: { _ in clock.advance(milliseconds: requestMs) })
        let thirdParty = try DemoAppBackend(serverTimeMillis: serverTime)
        defer {
            receiver.stop()
            backend.stop()
            thirdParty.stop()
        }
        let exporter = try ExporterUnderTest(endpoint: receiver.endpoint, seed: seed, clock: clock)
        let journey = DemoJourney(
            sessions: sessions, appBackend: viaLocalhost(backend.baseURL), thirdParty: thirdParty.baseURL,
            jump: { clock.advance(milliseconds: $0) })
        _ = await journey.run(on: exporter.stitch, flushBetweenSessions: false)
        receiver.setDown(false)
        // Past any back-off the failed uploads asked for.
        clock.advance(milliseconds: 10 * 60 * 1000)
        let delivered = exporter.stitch.flush(timeout: 20)
        exporter.stitch.shutdown()
        return FixtureScenario(
            payloads: receiver.received, backendRequests: backend.requests,
            thirdPartyRequests: thirdParty.requests, delivered: delivered)
    }

    /// File name of payload `index` (0-based).
    static func fileName(_ index: Int, path: String) -> String {
        String(format: "%03d-%@.binpb", index + 1, path == "/v1/traces" ? "traces" : "logs")
    }
}

/// Builds `manifest.json`: what the fixtures hold and what the Go side must join, from the reference decoder's
/// reading of the payloads.
enum FixtureManifest {
    static func make(_ scenario: FixtureScenario, decoded: ReceivedBatch) -> [String: Any] {
        let spans = decoded.spans
        let logs = decoded.logRecords
        let starts = logs.filter { $0.record.eventName == SchemaEvent.sessionStart }
        let sessions: [[String: Any]] = starts.map { start in
            let id = start.sessionID ?? ""
            var entry: [String: Any] = [
                "session_id": id,
                "start_reason": start.attributes.string(SchemaAttribute.stitchSessionStartReason) ?? "",
                "spans": spans.filter { $0.sessionID == id }.count,
                "log_records": logs.filter { $0.sessionID == id }.count,
                "error_records": logs.filter { $0.sessionID == id && $0.record.severity == .error }.count,
            ]
            if let previous = start.attributes.string(SchemaAttribute.sessionPreviousID) {
                entry["previous_id"] = previous
            }
            return entry
        }
        let actions = spans.filter { $0.span.kind == .internal }
        let traces: [[String: Any]] = actions.map { action in
            let clients = spans.filter { $0.span.kind == .client && $0.span.traceID == action.span.traceID }
            return [
                "trace_id": action.span.traceID.hex,
                "action": action.attributes.string(SchemaAttribute.stitchActionName) ?? "",
                "session_id": action.sessionID ?? "",
                "action_span_id": action.span.spanID.hex,
                "client_span_ids": clients.map(\.span.spanID.hex),
                "failed": action.span.status.code == .error,
            ]
        }
        let joins: [[String: Any]] = scenario.backendRequests.compactMap { seen in
            guard let parts = traceparentParts(seen.traceparent),
                let client = spans.first(where: { $0.span.spanID.hex == parts.parent })
            else { return nil }
            return [
                "backend_request": "\(seen.method) \(seen.path)",
                "traceparent": seen.traceparent ?? "",
                "baggage": seen.baggage ?? "",
                "client_span_id": client.span.spanID.hex,
                "trace_id": client.span.traceID.hex,
                "session_id": client.sessionID ?? "",
            ]
        }
        var unpropagated: [[String: Any]] = scenario.backendRequests.filter { $0.traceparent == nil }.map {
            ["request": "\($0.method) \($0.path)", "why": "consent pending"]
        }
        unpropagated += scenario.thirdPartyRequests.map {
            ["request": "\($0.method) \($0.path)", "why": "host not on the allow-list"]
        }
        let payloads: [[String: Any]] = scenario.payloads.enumerated().map { i, p in
            [
                "file": FixtureScenario.fileName(i, path: p.path), "path": p.path,
                "content_type": "application/x-protobuf", "sent_content_encoding": p.headers["content-encoding"] ?? "",
                "spans": p.spans.count, "log_records": p.logs.count, "protobuf_bytes": p.protobuf.count,
            ]
        }
        return [
            "description":
                "Seeded iOS exporter scenario: three sessions (background_timeout rotations), consent pending then "
                + "granted, GET /v1/search failing with 500, POST /v1/payments resent after a 503, a third-party "
                + "request without Stitch headers. Payloads are the OTLP/HTTP protobuf bodies as sent, stored "
                + "uncompressed (they were sent gzip).",
            "seed": Int(FixtureScenario.seed),
            "base_time_unix_ms": FixtureScenario.baseWallMs,
            "server_clock_ahead_ms": FixtureScenario.serverAheadMs,
            "schema_version": SchemaCatalog.version,
            "service_name": "com.example.shop.ios",
            "payloads": payloads,
            "sessions": sessions,
            "traces": traces,
            "span_ids": [
                "internal": actions.map(\.span.spanID.hex),
                "client": spans.filter { $0.span.kind == .client }.map(\.span.spanID.hex),
            ],
            "expected_joins": joins,
            "requests_without_stitch_headers": unpropagated,
            "counts": [
                "spans": spans.count, "log_records": logs.count,
                "error_records": logs.filter { $0.record.severity == .error }.count,
            ],
        ]
    }
}
