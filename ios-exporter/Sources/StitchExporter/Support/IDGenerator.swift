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

/// Random IDs. Trace and span IDs come from a fast generator (xoshiro256**) seeded once from the system's random
/// source — four system calls per span would cost more than the rest of the record path on Linux; W3C asks trace
/// IDs to be random and unique, not secret. Session IDs, which travel in baggage and must not be predictable from
/// the trace IDs a receiver sees, come from the system's random source itself.
public struct RandomIDGenerator: IDGenerator {
    private let fast = Locked(Xoshiro256StarStar())

    public init() {}

    public func traceID() -> TraceID {
        fast.withLock { g in
            var id = TraceID(high: 0, low: 0)
            while !id.isValid { id = TraceID(high: g.next(), low: g.next()) }
            return id
        }
    }

    public func spanID() -> SpanID {
        fast.withLock { g in
            var id = SpanID(0)
            while !id.isValid { id = SpanID(g.next()) }
            return id
        }
    }

    public func sessionID() -> String {
        var id = TraceID(high: 0, low: 0)
        while !id.isValid {
            id = TraceID(high: UInt64.random(in: .min ... .max), low: UInt64.random(in: .min ... .max))
        }
        return id.hex
    }
}

/// xoshiro256** (Blackman and Vigna), seeded from the system's random source.
struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        repeat {
            s = (system.next(), system.next(), system.next(), system.next())
        } while s == (0, 0, 0, 0)
    }

    mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
