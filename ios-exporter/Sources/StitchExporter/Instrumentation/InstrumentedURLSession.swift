import Foundation
import StitchOTLP
import StitchSchema

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The app's `URLSession`, instrumented: every request becomes a client span per attempt (in the trace of the
/// action it was made in), requests to allow-listed hosts carry `traceparent` and `baggage` once consent is
/// granted, a failed attempt is also written as a device log record with `error.type`, and the `Date` of each
/// answer refines the device's clock offset.
///
/// A wrapper the app opts into, not a `URLProtocol` or swizzling: it changes nothing for requests it does not
/// see, so it coexists with other SDKs that instrument `URLSession`, and works with any session configuration.
public final class InstrumentedURLSession: Sendable {
    public let session: URLSession
    private let resolveExporter: @Sendable () -> StitchInstance?

    /// `exporter` is looked up for every request, so a session wrapped before `Stitch.start` is instrumented once
    /// the exporter runs, and sends untouched requests until then.
    init(session: URLSession, exporter: @escaping @Sendable () -> StitchInstance?) {
        self.session = session
        self.resolveExporter = exporter
    }

    /// Sends `request` (with resends as `retry` says) and returns the last attempt's answer, as
    /// `URLSession.data(for:)` does.
    public func data(for request: URLRequest, retry: RequestRetryPolicy = .never) async throws -> (Data, URLResponse) {
        guard let exporter = resolveExporter() else { return try await session.data(for: request) }
        let recorder = exporter.recorder
        let action = ActionContext.current
        let created = recorder.clock.now()
        let sessionID = action?.sessionID ?? recorder.sessionForRecording(at: created)
        let traceID = action?.isRecording == true ? action!.traceID : recorder.ids.traceID()
        let parent = action?.isRecording == true ? action!.spanID : nil
        let method = Self.method(of: request)
        let templated = request.url.flatMap { url -> TemplatedURL? in
            if case .success(let t) = URLTemplate.template(url.absoluteString) { return t }
            return nil
        }
        let queueDelayMs = await Self.waitForNetwork(exporter, since: created)
        var resend = 0
        while true {
            let spanID = recorder.ids.spanID()
            var outgoing = request
            if recorder.consent == .granted, exporter.allowList.allows(host: request.url?.host) {
                let headers = PropagationHeaders.make(
                    traceID: traceID, spanID: spanID, sampled: true, sessionID: sessionID,
                    appBaggage: request.value(forHTTPHeaderField: SchemaHeader.baggage))
                if let headers {
                    outgoing.setValue(headers.traceparent, forHTTPHeaderField: SchemaHeader.traceparent)
                    outgoing.setValue(headers.baggage, forHTTPHeaderField: SchemaHeader.baggage)
                }
            }
            let start = recorder.clock.now()
            var result: Result<(Data, URLResponse), any Error>
            do {
                result = .success(try await session.data(for: outgoing))
            } catch {
                result = .failure(error)
            }
            let end = recorder.clock.now()
            let http = (try? result.get())?.1 as? HTTPURLResponse
            if let date = http?.value(forHTTPHeaderField: "Date"), let serverMs = HTTPDate.parseMillis(date) {
                exporter.observeServerDate(serverMs, sentAtMs: start.wallMillis, receivedAtMs: end.wallMillis)
            }
            let errorType = Self.errorType(status: http?.statusCode, result: result)
            recorder.recordAttempt(
                ClientAttempt(
                    traceID: traceID, spanID: spanID, parentSpanID: parent, sessionID: sessionID, method: method,
                    urlTemplate: templated?.template ?? "/{redacted}", serverAddress: templated?.serverAddress,
                    start: start, end: end, statusCode: http?.statusCode, errorType: errorType, resendCount: resend,
                    queueDelayMs: resend == 0 ? queueDelayMs : nil, action: action?.isRecording == true ? action : nil,
                    screenName: action?.screenName ?? recorder.context.current.screenName))
            let retryable: Bool
            if let status = http?.statusCode {
                retryable = retry.retryableStatuses.contains(status)
            } else {
                retryable = retry.retriesTransportErrors && !Self.isCancellation(result)
            }
            if errorType != nil, retryable, resend < retry.maxResends {
                resend += 1
                let retryAfter = http?.value(forHTTPHeaderField: "Retry-After").flatMap {
                    UploadPolicy.retryAfterMs($0, nowMs: end.wallMillis)
                }
                let wait = retry.wait(beforeResend: resend, retryAfterMs: retryAfter)
                try await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000))
                continue
            }
            if let errorType { action?.markFailed(errorType: errorType) }
            return try result.get()
        }
    }

    /// A request made while the device has no network waits for one (up to the configured bound), keeping the
    /// trace and session it was created in; the wait is its `stitch.request.queue_delay_ms`.
    private static func waitForNetwork(_ exporter: StitchInstance, since created: ClockReading) async -> Int64? {
        let network = exporter.recorder.network
        guard !network.current.isReachable else { return nil }
        let limit = exporter.offlineQueueTimeout
        let step: TimeInterval = 0.05
        var waited: TimeInterval = 0
        while !network.current.isReachable, waited < limit, !Task.isCancelled {
            try? await Task.sleep(nanoseconds: UInt64(step * 1_000_000_000))
            waited += step
        }
        let now = exporter.recorder.clock.now()
        return Int64((now.monotonicNanos &- created.monotonicNanos) / 1_000_000)
    }

    static func method(of request: URLRequest) -> String {
        let m = (request.httpMethod ?? "GET").uppercased()
        let known: Set<String> = [
            "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE",
        ]
        return known.contains(m) ? m : "_OTHER"
    }

    /// The schema's `error.type`: the status code for an HTTP error, `timeout`, or the error's domain and code —
    /// never a message.
    static func errorType(status: Int?, result: Result<(Data, URLResponse), any Error>) -> String? {
        if let status { return status >= 400 ? String(status) : nil }
        guard case .failure(let error) = result else { return nil }
        let ns = error as NSError
        if ns.domain == NSURLErrorDomain, ns.code == NSURLErrorTimedOut { return "timeout" }
        let type = "\(ns.domain).\(ns.code)"
        return type.utf8.count <= 128 ? type : "_OTHER"
    }

    private static func isCancellation(_ result: Result<(Data, URLResponse), any Error>) -> Bool {
        guard case .failure(let error) = result else { return false }
        if error is CancellationError { return true }
        let ns = error as NSError
        return ns.domain == NSURLErrorDomain && ns.code == NSURLErrorCancelled
    }
}
