import StitchOTLP
import StitchSchema

/// Where new trace, span and session IDs come from. Random in apps; seeded in the demo and the wire fixtures, so a
/// run can be repeated byte for byte.
public protocol IDGenerator: Sendable {
    func traceID() -> TraceID
    func spanID() -> SpanID
    /// A session ID in the schema's `session_id` format (32 lowercase hex, not all zero).
    func sessionID() -> String
}

/// IDs from the system's random source.
public struct RandomIDGenerator: IDGenerator {
    public init() {}

    public func traceID() -> TraceID {
        var id = TraceID(high: 0, low: 0)
        while !id.isValid {
            id = TraceID(high: UInt64.random(in: .min ... .max), low: UInt64.random(in: .min ... .max))
        }
        return id
    }

    public func spanID() -> SpanID {
        var id = SpanID(0)
        while !id.isValid { id = SpanID(UInt64.random(in: .min ... .max)) }
        return id
    }

    public func sessionID() -> String { traceID().hex }
}
