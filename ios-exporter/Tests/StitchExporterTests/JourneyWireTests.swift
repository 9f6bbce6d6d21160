import Foundation
import StitchOTLP
import StitchSchema
import StitchTestSupport
import Testing

@testable import StitchExporter

/// What the exporter sends, as the official OpenTelemetry protobuf classes decode it.
@Suite(.enabled(if: OTLPReceiver.testsEnabled, "needs python3 with opentelemetry-proto (CI installs it)"))
struct JourneyWireTests {
    @Test func everyRequestIsGzipProtobufThatTheReferenceDecoderReadsCanonically() async throws {
        let capture = try await JourneyCapture.run()
        #expect(capture.delivered)
        #expect(capture.batch.rejections.isEmpty, "receiver rejected: \(capture.batch.rejections)")
        #expect(!capture.batch.requests.isEmpty)
        for request in capture.batch.requests {
            #expect(["/v1/traces", "/v1/logs"].contains(request.path))
            #expect(request.header("content-type") == "application/x-protobuf")
            #expect(request.contentEncoding == "gzip")
            #expect(request.compressedSize < request.rawSize, "gzip made \(request.path) no smaller")
            #expect(request.unknownFieldCount == 0, "unknown fields at \(request.unknownFieldPaths)")
            #expect(request.isCanonical, "\(request.path) is not the reference encoder's canonical bytes")
        }
        let c = capture.counters
        #expect(Int64(capture.batch.spans.count) == c.exportedSpans)
        #expect(Int64(capture.batch.logRecords.count) == c.exportedLogs)
        #expect(c.exportedSpans + c.totalDroppedSpans == c.recordedSpans)
        #expect(c.exportedLogs + c.totalDroppedLogs == c.recordedLogs)
    }

    @Test func resourceCarriesTheSchemaAttributesAndOnlyAHashedInstallationID() async throws {
        let capture = try await JourneyCapture.run()
        let resources = capture.batch.spans.map(\.resource) + capture.batch.logRecords.map(\.resource)
        #expect(!resources.isEmpty)
        for r in resources {
            #expect(r.string(SchemaAttribute.serviceName) == "com.example.shop.ios")
            #expect(r.string(SchemaAttribute.serviceVersion) == "4.12.0+1873")
            #expect(r.string(SchemaAttribute.osName) == "iOS")
            #expect(r.string(SchemaAttribute.osVersion) == "18.1")
            #expect(r.string(SchemaAttribute.deviceModelIdentifier) == "iPhone15,2")
            #expect(r.string(SchemaAttribute.stitchSchemaVersion) == SchemaCatalog.version)
            #expect(r.string(SchemaAttribute.stitchConsent) == "granted")
            let installation = r.string(SchemaAttribute.appInstallationID) ?? ""
            #expect(installation.count == 64 && installation.allSatisfy { "0123456789abcdef".contains($0) })
        }
        // The raw installation identifier is on the device; only its keyed hash is on the wire.
        let raw = try String(
            contentsOf: InstallationID.file(in: capture.stateFolder), encoding: .utf8)
        let expected = HMACSHA256.authenticate(message: Array(raw.utf8), key: ExporterUnderTest.key)
        #expect(resources[0].string(SchemaAttribute.appInstallationID) == hexString(expected))
        #expect(!everyString(in: capture.batch).contains { $0.value.contains(raw) })
    }

    @Test func sessionIDIsOnEverySpanEventAndLogRecordAndRotatesWithItsPreviousID() async throws {
        let capture = try await JourneyCapture.run()
        for s in capture.batch.spans {
            #expect(s.sessionID != nil, "span \(s.span.name) has no session.id")
            for e in s.span.events {
                #expect(AttributeMap(e.attributes).string(SchemaAttribute.sessionID) == s.sessionID)
            }
        }
        for l in capture.batch.logRecords {
            #expect(l.sessionID != nil, "log \(l.record.eventName) has no session.id")
        }
        let starts = capture.logs(named: SchemaEvent.sessionStart)
        #expect(starts.count == 2)
        #expect(starts.first?.attributes.string(SchemaAttribute.stitchSessionStartReason) == "first")
        #expect(starts.last?.attributes.string(SchemaAttribute.stitchSessionStartReason) == "background_timeout")
        #expect(starts.last?.attributes.string(SchemaAttribute.sessionPreviousID) == starts.first?.sessionID)
        let ends = capture.logs(named: SchemaEvent.sessionEnd)
        #expect(ends.map(\.sessionID) == [starts.first?.sessionID])
        let sessions = Set(capture.batch.spans.compactMap(\.sessionID))
        #expect(sessions == Set(starts.compactMap(\.sessionID)))
        let lifecycle = capture.logs(named: SchemaEvent.deviceAppLifecycle)
        #expect(lifecycle.contains { $0.attributes.string(SchemaAttribute.iosAppState) == "background" })
        #expect(lifecycle.contains { $0.attributes.string(SchemaAttribute.iosAppState) == "foreground" })
    }

    @Test func everyFailedAttemptIsAlsoADeviceLogRecordWithErrorType() async throws {
        let capture = try await JourneyCapture.run()
        let failed = capture.clientSpans.filter { $0.attributes.string(SchemaAttribute.errorType) != nil }
        // Per session: the payment's first attempt (503) and the search (500).
        #expect(failed.count == 4)
        let errorLogs = capture.batch.logRecords.filter { $0.attributes.string(SchemaAttribute.errorType) != nil }
        #expect(errorLogs.count == failed.count)
        for span in failed {
            let log = errorLogs.first { $0.record.spanID == span.span.spanID }
            #expect(log != nil, "no error record for \(span.span.name)")
            #expect(log?.record.traceID == span.span.traceID)
            #expect(log?.record.severity == .error)
            #expect(log?.sessionID == span.sessionID)
            #expect(
                log?.attributes.string(SchemaAttribute.errorType) == span.attributes.string(SchemaAttribute.errorType))
            #expect(span.span.status.code == .error)
        }
        #expect(Set(failed.compactMap { $0.attributes.string(SchemaAttribute.errorType) }) == ["500", "503"])
    }

    @Test func aResendIsANewClientSpanInTheSameTraceWithItsResendCount() async throws {
        let capture = try await JourneyCapture.run()
        let payments = capture.clientSpans.filter {
            $0.attributes.string(SchemaAttribute.urlTemplate) == "/v1/payments"
        }
        #expect(payments.count == 4)
        for (_, attempts) in Dictionary(grouping: payments, by: \.span.traceID) {
            #expect(attempts.count == 2)
            let sorted = attempts.sorted { $0.span.startTimeUnixNano < $1.span.startTimeUnixNano }
            #expect(sorted[0].attributes.int(SchemaAttribute.httpRequestResendCount) == nil)
            #expect(sorted[1].attributes.int(SchemaAttribute.httpRequestResendCount) == 1)
            #expect(sorted[0].attributes.int(SchemaAttribute.httpResponseStatusCode) == 503)
            #expect(sorted[1].attributes.int(SchemaAttribute.httpResponseStatusCode) == 201)
            #expect(sorted[0].span.spanID != sorted[1].span.spanID)
            #expect(sorted[0].span.parentSpanID == sorted[1].span.parentSpanID)
            let action = capture.actionSpans.first { $0.span.spanID == sorted[0].span.parentSpanID }
            #expect(action?.attributes.string(SchemaAttribute.stitchActionName) == "tap.checkout.pay")
        }
    }

    @Test func theBackendsTraceparentParentIsTheClientSpanAndBaggageStartsWithSessionID() async throws {
        let capture = try await JourneyCapture.run()
        let propagated = capture.backendRequests.filter { $0.traceparent != nil }
        // Everything after consent was granted: all but the first request of the journey.
        #expect(propagated.count == capture.backendRequests.count - 1)
        #expect(capture.backendRequests.first?.traceparent == nil)
        #expect(capture.backendRequests.first?.baggage == "app.release=beta")
        for request in propagated {
            let parts = try #require(traceparentParts(request.traceparent))
            #expect(request.traceparent?.hasPrefix("00-") == true)
            let span = capture.clientSpans.first { $0.span.spanID.hex == parts.parent }
            #expect(span != nil, "no client span is the parent of \(request.path)")
            #expect(span?.span.traceID.hex == parts.trace)
            let baggage = request.baggage ?? ""
            #expect(baggage.hasPrefix("session.id=\(span?.sessionID ?? "?")"))
            #expect(baggage.contains("app.release=beta"), "the app's own member was lost: \(baggage)")
        }
    }

    @Test func aHostOffTheAllowListGetsNoStitchHeaders() async throws {
        let capture = try await JourneyCapture.run()
        #expect(capture.thirdPartyRequests.count == 2)
        for request in capture.thirdPartyRequests {
            #expect(request.traceparent == nil)
            #expect(request.baggage == "app.release=beta")
        }
        // Its client span is still recorded, with no server.address for an IP literal.
        let banners = capture.clientSpans.filter { $0.attributes.string(SchemaAttribute.urlTemplate) == "/ads/banner" }
        #expect(banners.count == 2)
        #expect(banners.allSatisfy { $0.attributes.string(SchemaAttribute.serverAddress) == nil })
    }

    @Test func nothingRawOrForbiddenOrPersonalArrives() async throws {
        let capture = try await JourneyCapture.run()
        let keys = everyAttributeKey(in: capture.batch)
        #expect(
            keys.isDisjoint(with: SchemaCatalog.forbiddenAttributes),
            "\(keys.intersection(SchemaCatalog.forbiddenAttributes))")
        let strings = everyString(in: capture.batch)
        #expect(strings.count > 500)
        for (place, value) in strings {
            #expect(!PIIScanner.containsPII(value), "personal data at \(place): \(value)")
            #expect(!value.contains("?") && !value.contains("q=") && !value.contains("running"), "raw URL at \(place)")
            #expect(!value.contains("://"), "a URL at \(place): \(value)")
            #expect(!value.contains("jane"), "the raw user ID at \(place)")
        }
        let templates = Set(capture.clientSpans.compactMap { $0.attributes.string(SchemaAttribute.urlTemplate) })
        #expect(templates == ["/v1/home", "/v1/products/{id}", "/v1/payments", "/v1/search", "/ads/banner"])
        #expect(capture.clientSpans.contains { $0.attributes.string(SchemaAttribute.serverAddress) == "localhost" })
        let expectedUser = hexString(
            HMACSHA256.authenticate(message: Array(JourneyCapture.userID.utf8), key: ExporterUnderTest.key))
        let users = Set(capture.batch.spans.compactMap { $0.attributes.string(SchemaAttribute.userID) })
        #expect(users == [expectedUser])
    }

    @Test func aSessionSampledOutStillSendsItsErrorsMarkedAsKeptForTheError() async throws {
        let capture = try await JourneyCapture.run(samplingRate: 0)
        #expect(capture.delivered)
        let items = capture.batch.spans.map(\.attributes) + capture.batch.logRecords.map(\.attributes)
        #expect(!items.isEmpty)
        for a in items {
            #expect(a.string(SchemaAttribute.stitchSamplingDecision) == "keep")
            #expect(a.string(SchemaAttribute.stitchSamplingReason) == "error")
            #expect(a.double(SchemaAttribute.stitchSamplingRate) == 0)
        }
        // The four failed attempts and their records, and the failed search actions; nothing routine.
        #expect(capture.clientSpans.count == 4)
        #expect(capture.batch.logRecords.count == 4)
        #expect(capture.logs(named: SchemaEvent.sessionStart).isEmpty)
        #expect((capture.counters.droppedSpans[.sampledOut] ?? 0) > 0)
        #expect(capture.counters.exportedSpans + capture.counters.totalDroppedSpans == capture.counters.recordedSpans)
    }

    @Test func theClockOffsetComesFromTheServersDateWithinItsUncertainty() async throws {
        let capture = try await JourneyCapture.run()
        // The Date header has whole seconds, so the estimate is within a second (plus a request) of the truth.
        let offset = try #require(capture.clockOffsetMs)
        #expect(abs(offset - JourneyCapture.serverAheadMs) <= 1_000 + JourneyCapture.requestMs)
        let stamped = capture.batch.spans.compactMap { $0.attributes.int(SchemaAttribute.stitchClockOffsetMs) }
        #expect(!stamped.isEmpty)
        #expect(stamped.allSatisfy { abs($0 - JourneyCapture.serverAheadMs) <= 1_000 + JourneyCapture.requestMs })
        #expect(capture.batch.spans.allSatisfy { $0.attributes.int(SchemaAttribute.stitchClockMonotonicNs) != nil })
    }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}
