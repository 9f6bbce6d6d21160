import StitchOTLP

/// What the app has told the exporter that applies to everything recorded from now on.
struct RecordingContext: Sendable {
    var consent: Consent
    var screenName: String?
    /// The keyed hash of the signed-in user's ID (`user.id`), never the raw ID.
    var userIDHash: String?
    var userTier: String?
    var clockOffset = ClockOffsetEstimator()
}

/// One attempt of an instrumented request, as the client span and (when it failed) the error record describe it.
struct ClientAttempt: Sendable {
    var traceID: TraceID
    var spanID: SpanID
    var parentSpanID: SpanID?
    var sessionID: String
    var method: String
    var urlTemplate: String
    var serverAddress: String?
    var start: ClockReading
    var end: ClockReading
    var statusCode: Int?
    var errorType: String?
    var resendCount: Int
    var queueDelayMs: Int64?
    var action: ActionSpan?
    var screenName: String?
}
