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
}

/// The scenario's telemetry as one OTLP request per signal, items in a fixed order (time, then ID), encoded as the
/// exporter encodes a batch: the same bytes whichever way the batches happened to be cut during the run.
enum FixtureCanonicalForm {
    static func reencode(_ r: ReceivedRequest) -> [UInt8]? {
        if let first = r.spans.first {
            return OTLPEncoder.encodeTraces(
                resource: ResourceData(attributes: first.resource.entries), scope: first.scope,
                spans: r.spans.map(\.span))
        }
        if let first = r.logRecords.first {
            return OTLPEncoder.encodeLogs(
                resource: ResourceData(attributes: first.resource.entries), scope: first.scope,
                logs: r.logRecords.map(\.record))
        }
        return nil
    }

    static func traces(_ batch: ReceivedBatch) -> [UInt8]? {
        guard let first = batch.spans.first else { return nil }
        let spans = batch.spans.map(\.span).sorted {
            ($0.startTimeUnixNano, $0.spanID.hex) < ($1.startTimeUnixNano, $1.spanID.hex)
        }
        return OTLPEncoder.encodeTraces(
            resource: ResourceData(attributes: first.resource.entries), scope: first.scope, spans: spans)
    }

    static func logs(_ batch: ReceivedBatch) -> [UInt8]? {
        guard let first = batch.logRecords.first else { return nil }
        let logs = batch.logRecords.map(\.record).sorted { a, b in
            let x = (a.timeUnixNano, a.eventName, a.spanID?.hex ?? "", "\(a.body.map { "\($0)" } ?? "")")
            let y = (b.timeUnixNano, b.eventName, b.spanID?.hex ?? "", "\(b.body.map { "\($0)" } ?? "")")
            return x < y
        }
        return OTLPEncoder.encodeLogs(
            resource: ResourceData(attributes: first.resource.entries), scope: first.scope, logs: logs)
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
        let files: [[String: Any]] = [
            ["file": "traces.binpb", "path": "/v1/traces", "spans": spans.count],
            ["file": "logs.binpb", "path": "/v1/logs", "log_records": logs.count],
        ]
        return [
            "description":
                "Seeded iOS exporter scenario: three sessions (background_timeout rotations), consent pending then "
                + "granted, GET /v1/search failing with 500, POST /v1/payments resent after a 503, a third-party "
                + "request without Stitch headers. Each file is one OTLP/HTTP protobuf request (uncompressed; the "
                + "exporter sends gzip) holding every item of its signal in time order, encoded as the exporter "
                + "encodes a batch.",
            "seed": Int(FixtureScenario.seed),
            "base_time_unix_ms": FixtureScenario.baseWallMs,
            "server_clock_ahead_ms": FixtureScenario.serverAheadMs,
            "schema_version": SchemaCatalog.version,
            "service_name": "com.example.shop.ios",
            "files": files,
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
