import StitchOTLP
import StitchSchema

/// Turns what the app does into finished spans and log records in the schema's shape: stamps `session.id` and the
/// common attributes, applies the sampling rule, and appends what is kept to the buffer. Every method returns after
/// a few short locks: no I/O, no encoding.
final class ItemRecorder: Sendable {
    let samplingRate: Double
    let latencyThresholdMs: Int64
    let clock: any TelemetryClock
    let network: any NetworkPathMonitor
    let ids: any IDGenerator
    let tracker: SessionTracker
    let buffer: TelemetryBuffer
    let counters: ExportCounters
    let context: Locked<RecordingContext>
    /// Action names already checked against the schema: apps use a few dozen, and the check is a regex and a PII
    /// scan. Bounded; forgotten when full.
    private let checkedActionNames = Locked<[String: Bool]>([:])

    init(
        samplingRate: Double, latencyThresholdMs: Int64, clock: any TelemetryClock, network: any NetworkPathMonitor,
        ids: any IDGenerator, tracker: SessionTracker, buffer: TelemetryBuffer, counters: ExportCounters,
        context: Locked<RecordingContext>
    ) {
        self.samplingRate = samplingRate
        self.latencyThresholdMs = latencyThresholdMs
        self.clock = clock
        self.network = network
        self.ids = ids
        self.tracker = tracker
        self.buffer = buffer
        self.counters = counters
        self.context = context
    }

    var consent: Consent { context.current.consent }

    // MARK: Sessions

    /// The session to stamp on an item recorded now: a `tick` of the rotation rule first (which may rotate, and
    /// then writes `session.end` and `session.start`). Work recorded when no session exists yet starts one, as
    /// background work does.
    func sessionForRecording(at now: ClockReading) -> String {
        let change = tracker.handle(.tick, atMs: now.wallMillis)
        recordSessionChange(change, at: now)
        if let id = change.sessionID { return id }
        let created = tracker.handle(.backgroundFetch, atMs: now.wallMillis)
        recordSessionChange(created, at: now)
        return created.sessionID ?? "00000000000000000000000000000000"
    }

    /// Feeds a lifecycle event to the rotation rule and records what it did, plus the `device.app.lifecycle`
    /// record for UIKit's own events.
    func recordLifecycle(_ event: LifecycleEventKind, appState: AppLifecycleEvent?, at now: ClockReading) {
        let change = tracker.handle(event, atMs: now.wallMillis)
        recordSessionChange(change, at: now)
        guard let appState, let sessionID = change.sessionID else { return }
        emitLog(
            eventName: SchemaEvent.deviceAppLifecycle, body: SchemaEvent.deviceAppLifecycle, severity: .info,
            sessionID: sessionID, at: now,
            extra: [Attribute(SchemaAttribute.iosAppState, appState.rawValue)])
    }

    private func recordSessionChange(_ change: SessionChange, at now: ClockReading) {
        if let ended = change.endedSessionID {
            emitLog(
                eventName: SchemaEvent.sessionEnd, body: SchemaEvent.sessionEnd, severity: .info, sessionID: ended,
                at: now, extra: [])
        }
        if let started = change.started {
            var extra: [Attribute] = []
            if let previous = started.previousID {
                extra.append(Attribute(SchemaAttribute.sessionPreviousID, previous))
            }
            extra.append(Attribute(SchemaAttribute.stitchSessionStartReason, started.reason.rawValue))
            emitLog(
                eventName: SchemaEvent.sessionStart, body: SchemaEvent.sessionStart, severity: .info,
                sessionID: started.sessionID, at: now, extra: extra)
        }
    }

    // MARK: Actions

    func startAction(name: String, attributes: [Attribute]) -> ActionSpan {
        let now = clock.now()
        let ctx = context.current
        guard ctx.consent != .denied else {
            return ActionSpan(
                name: name, traceID: TraceID(high: 0, low: 0), spanID: SpanID(0), actionID: SpanID(0),
                sessionID: "", start: now, screenName: nil, attributes: [], recorder: nil)
        }
        var (kept, dropped) = AttributeSanitizer.sanitize(attributes)
        if !isValidActionName(name) {
            dropped += 1
            kept = kept.filter { $0.key != SchemaAttribute.stitchActionName }
        }
        countDroppedAttributes(dropped)
        let sessionID = sessionForRecording(at: now)
        return ActionSpan(
            name: name, traceID: ids.traceID(), spanID: ids.spanID(), actionID: ids.spanID(), sessionID: sessionID,
            start: now, screenName: ctx.screenName, attributes: kept, recorder: self)
    }

    func finishAction(_ action: ActionSpan, state: ActionSpan.State) {
        let end = clock.now()
        var attributes = commonAttributes(sessionID: action.sessionID, at: action.start)
        if let screen = action.screenName { attributes.append(Attribute(SchemaAttribute.appScreenName, screen)) }
        if isValidActionName(action.name) {
            attributes.append(Attribute(SchemaAttribute.stitchActionName, action.name))
        }
        attributes.append(Attribute(SchemaAttribute.stitchActionID, action.actionID.hex))
        if let errorType = state.errorType { attributes.append(Attribute(SchemaAttribute.errorType, errorType)) }
        attributes.append(contentsOf: state.attributes)
        let span = SpanData(
            traceID: action.traceID, spanID: action.spanID, name: action.name, kind: .internal,
            startTimeUnixNano: action.start.wallNanos, endTimeUnixNano: max(end.wallNanos, action.start.wallNanos),
            attributes: attributes, events: state.events,
            status: state.errorType.map { SpanStatus(code: .error, message: "request failed: \($0)") } ?? .unset)
        finishSpan(span, sessionID: action.sessionID, hasError: state.errorType != nil, start: action.start, end: end)
    }

    func isValidActionName(_ name: String) -> Bool {
        if let known = checkedActionNames.withLock({ $0[name] }) { return known }
        let valid = AttributeSanitizer.isValid(SchemaAttribute.stitchActionName, name)
        checkedActionNames.withLock { names in
            if names.count >= 256 { names.removeAll(keepingCapacity: true) }
            names[name] = valid
        }
        return valid
    }

    func makeEvent(name: String, sessionID: String, attributes: [Attribute]) -> SpanEvent {
        let now = clock.now()
        var a = [
            Attribute(SchemaAttribute.sessionID, sessionID),
            Attribute(SchemaAttribute.stitchClockMonotonicNs, Int64(clamping: now.monotonicNanos)),
        ]
        a.append(contentsOf: attributes)
        return SpanEvent(name: name, timeUnixNano: now.wallNanos, attributes: a)
    }

    // MARK: Requests

    func recordAttempt(_ attempt: ClientAttempt) {
        guard consent != .denied else {
            counters.add(.recordedSpans)
            counters.dropSpans(.consentDenied)
            return
        }
        var attributes = commonAttributes(sessionID: attempt.sessionID, at: attempt.start)
        attributes.append(Attribute(SchemaAttribute.httpRequestMethod, attempt.method))
        attributes.append(Attribute(SchemaAttribute.urlTemplate, attempt.urlTemplate))
        if let host = attempt.serverAddress { attributes.append(Attribute(SchemaAttribute.serverAddress, host)) }
        if let status = attempt.statusCode {
            attributes.append(Attribute(SchemaAttribute.httpResponseStatusCode, status))
        }
        if let errorType = attempt.errorType { attributes.append(Attribute(SchemaAttribute.errorType, errorType)) }
        if attempt.resendCount > 0 {
            attributes.append(Attribute(SchemaAttribute.httpRequestResendCount, attempt.resendCount))
        }
        if let delay = attempt.queueDelayMs {
            attributes.append(Attribute(SchemaAttribute.stitchRequestQueueDelayMs, delay))
        }
        appendActionAttributes(attempt, to: &attributes)
        let span = SpanData(
            traceID: attempt.traceID, spanID: attempt.spanID, parentSpanID: attempt.parentSpanID,
            name: "\(attempt.method) \(attempt.urlTemplate)", kind: .client,
            startTimeUnixNano: attempt.start.wallNanos,
            endTimeUnixNano: max(attempt.end.wallNanos, attempt.start.wallNanos), attributes: attributes,
            status: attempt.errorType.map { SpanStatus(code: .error, message: $0) } ?? .unset)
        finishSpan(
            span, sessionID: attempt.sessionID, hasError: attempt.errorType != nil, start: attempt.start,
            end: attempt.end)
        guard let errorType = attempt.errorType else { return }
        // The plugin's session index counts a session's failed requests from these records.
        var extra = [
            Attribute(SchemaAttribute.errorType, errorType),
            Attribute(SchemaAttribute.httpRequestMethod, attempt.method),
            Attribute(SchemaAttribute.urlTemplate, attempt.urlTemplate),
        ]
        if let host = attempt.serverAddress { extra.append(Attribute(SchemaAttribute.serverAddress, host)) }
        if let status = attempt.statusCode { extra.append(Attribute(SchemaAttribute.httpResponseStatusCode, status)) }
        appendActionAttributes(attempt, to: &extra)
        emitLog(
            eventName: "", body: "request failed", severity: .error, sessionID: attempt.sessionID, at: attempt.end,
            extra: extra, hasError: true, traceID: attempt.traceID, spanID: attempt.spanID)
    }

    private func appendActionAttributes(_ attempt: ClientAttempt, to attributes: inout [Attribute]) {
        if let screen = attempt.screenName { attributes.append(Attribute(SchemaAttribute.appScreenName, screen)) }
        if let action = attempt.action {
            if isValidActionName(action.name) {
                attributes.append(Attribute(SchemaAttribute.stitchActionName, action.name))
            }
            attributes.append(Attribute(SchemaAttribute.stitchActionID, action.actionID.hex))
        }
    }

    // MARK: Items

    /// Common attributes of every device span and log record.
    func commonAttributes(sessionID: String, at reading: ClockReading) -> [Attribute] {
        let ctx = context.current
        let net = network.current
        var a: [Attribute] = []
        a.reserveCapacity(16)
        a.append(Attribute(SchemaAttribute.sessionID, sessionID))
        a.append(Attribute(SchemaAttribute.networkConnectionType, net.type.rawValue))
        if net.type == .cell, let subtype = net.subtype {
            a.append(Attribute(SchemaAttribute.networkConnectionSubtype, subtype))
        }
        if ctx.consent == .granted, let user = ctx.userIDHash { a.append(Attribute(SchemaAttribute.userID, user)) }
        if let tier = ctx.userTier { a.append(Attribute(SchemaAttribute.stitchUserTier, tier)) }
        if let offset = ctx.clockOffset.estimateMs { a.append(Attribute(SchemaAttribute.stitchClockOffsetMs, offset)) }
        a.append(Attribute(SchemaAttribute.stitchClockMonotonicNs, Int64(clamping: reading.monotonicNanos)))
        return a
    }

    /// `span` is consumed, so adding the sampling attributes appends in place instead of copying the array.
    private func finishSpan(
        _ span: consuming SpanData, sessionID: String, hasError: Bool, start: ClockReading, end: ClockReading
    ) {
        counters.add(.recordedSpans)
        guard consent != .denied else {
            counters.dropSpans(.consentDenied)
            return
        }
        let durationMs =
            end.monotonicNanos >= start.monotonicNanos
            ? Int64((end.monotonicNanos - start.monotonicNanos) / 1_000_000) : 0
        guard let outcome = sample(sessionID: sessionID, hasError: hasError, durationMs: durationMs) else {
            counters.dropSpans(.sampledOut)
            return
        }
        span.attributes.append(contentsOf: samplingAttributes(outcome))
        buffer.append(span: span, important: outcome.reason == .error || outcome.reason == .latency)
    }

    func emitLog(
        eventName: String, body: String, severity: Severity, sessionID: String, at now: ClockReading,
        extra: [Attribute], hasError: Bool = false, traceID: TraceID? = nil, spanID: SpanID? = nil
    ) {
        counters.add(.recordedLogs)
        guard consent != .denied else {
            counters.dropLogs(.consentDenied)
            return
        }
        guard let outcome = sample(sessionID: sessionID, hasError: hasError, durationMs: 0) else {
            counters.dropLogs(.sampledOut)
            return
        }
        var attributes = commonAttributes(sessionID: sessionID, at: now)
        if let screen = context.current.screenName, eventName.isEmpty {
            attributes.append(Attribute(SchemaAttribute.appScreenName, screen))
        }
        attributes.append(contentsOf: extra)
        attributes.append(contentsOf: samplingAttributes(outcome))
        let record = LogRecordData(
            timeUnixNano: now.wallNanos, observedTimeUnixNano: now.wallNanos, severity: severity,
            body: .string(body), attributes: attributes, traceID: traceID, spanID: spanID,
            flags: traceID == nil ? 0 : 0x01, eventName: eventName)
        buffer.append(log: record, important: outcome.reason == .error)
    }

    private func sample(sessionID: String, hasError: Bool, durationMs: Int64) -> SamplingOutcome? {
        let result = SessionSampling.decide(
            sessionID: sessionID, rate: samplingRate, hasError: hasError, durationMs: durationMs,
            thresholdMs: latencyThresholdMs)
        guard case .success(let outcome) = result, outcome.decision == .keep else { return nil }
        return outcome
    }

    private func samplingAttributes(_ outcome: SamplingOutcome) -> [Attribute] {
        [
            Attribute(SchemaAttribute.stitchSamplingDecision, outcome.decision.rawValue),
            Attribute(SchemaAttribute.stitchSamplingReason, outcome.reason.rawValue),
            Attribute(SchemaAttribute.stitchSamplingRate, samplingRate),
        ]
    }

    func countDroppedAttributes(_ n: Int) {
        if n > 0 { counters.add(.droppedAttributes, Int64(n)) }
    }
}
