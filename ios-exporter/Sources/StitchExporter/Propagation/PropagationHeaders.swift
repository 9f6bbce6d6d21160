import StitchOTLP
import StitchSchema

/// The `traceparent` and `baggage` values one attempt of a request carries.
struct PropagationHeaders: Sendable, Equatable {
    var traceparent: String
    var baggage: String

    /// Builds the headers for a client span. The app's own `baggage` members are kept (a `session.id` member of
    /// its own is replaced); when they cannot all be kept within the schema's limits the session member alone is
    /// sent, since it is the one the backend joins on.
    static func make(
        traceID: TraceID, spanID: SpanID, sampled: Bool, sessionID: String, appBaggage: String?
    ) -> PropagationHeaders? {
        guard
            case .success(let traceparent) = Traceparent.encode(
                traceID: traceID.hex, spanID: spanID.hex, flags: sampled ? 0x01 : 0x00)
        else { return nil }
        var members: [BaggageMember] = []
        if let appBaggage, !appBaggage.isEmpty {
            members = Baggage.decode(appBaggage).members.filter { $0.key != Baggage.sessionMemberKey }
        }
        if case .success(let merged) = Baggage.encode(sessionID: sessionID, members: members) {
            return PropagationHeaders(traceparent: traceparent, baggage: merged)
        }
        guard case .success(let alone) = Baggage.encode(sessionID: sessionID, members: []) else { return nil }
        return PropagationHeaders(traceparent: traceparent, baggage: alone)
    }
}
