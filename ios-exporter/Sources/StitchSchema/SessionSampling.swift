/// What the schema's sampling rule decided for one span or log record, and which branch decided it.
///
/// Both values are exported (`stitch.sampling.decision`, `stitch.sampling.reason`) so that a reader can tell
/// errors and slow spans kept against the rate from routinely sampled ones.
public struct SamplingOutcome: Sendable, Equatable {
    /// Whether the item is exported.
    public enum Decision: String, Sendable {
        case keep, drop
    }

    /// The branch of the rule that decided; the raw values are the schema's enum values.
    public enum Reason: String, Sendable {
        case error
        case latency
        case sessionSampled = "session_sampled"
        case sessionNotSampled = "session_not_sampled"
    }

    public var decision: Decision
    public var reason: Reason

    public init(decision: Decision, reason: Reason) {
        self.decision = decision
        self.reason = reason
    }
}

/// The schema's per-session sampling (`rules.sampling`): a pure function of `session.id`, so that the device and
/// every backend keep or drop the same sessions without talking to each other. Errors and slow spans are kept
/// whatever the rate.
public enum SessionSampling {
    /// The rate when none is configured: keep every session.
    public static let defaultRate = 1.0
    /// Spans at least this long are kept whatever the rate.
    public static let defaultLatencyThresholdMs: Int64 = 3000

    /// Applies the whole rule to one item. Inputs are checked first, `session.id` before the rate, so a bad input
    /// is reported even when the item has an error. A `thresholdMs` of zero or less disables the latency branch.
    public static func decide(
        sessionID: String, rate: Double, hasError: Bool, durationMs: Int64, thresholdMs: Int64
    ) -> Result<SamplingOutcome, ReasonCode> {
        let sampled: Bool
        switch isSessionSampled(sessionID: sessionID, rate: rate) {
        case .failure(let code): return .failure(code)
        case .success(let value): sampled = value
        }
        if hasError { return .success(SamplingOutcome(decision: .keep, reason: .error)) }
        if thresholdMs > 0, durationMs >= thresholdMs {
            return .success(SamplingOutcome(decision: .keep, reason: .latency))
        }
        return .success(
            sampled
                ? SamplingOutcome(decision: .keep, reason: .sessionSampled)
                : SamplingOutcome(decision: .drop, reason: .sessionNotSampled))
    }

    /// Whether the session itself is sampled (the rate branch alone); the exporter uses it for routine items.
    ///
    /// With V the first 16 hex digits of the session ID as an unsigned 64-bit integer, the session is kept iff
    /// V < rate × 2^64, compared exactly: the product of a binary64 rate and 2^64 is exact, and since V is an
    /// integer, V < x exactly when V < ⌈x⌉.
    public static func isSessionSampled(sessionID: String, rate: Double) -> Result<Bool, ReasonCode> {
        guard SessionIDFormat.isValid(sessionID) else { return .failure(.badSessionID) }
        guard rate.isFinite, rate >= 0, rate <= 1 else { return .failure(.badRate) }
        if rate >= 1 { return .success(true) }
        if rate <= 0 { return .success(false) }
        // 0 < rate < 1, so the product lies in (0, 2^64 - 2^11] and its ceiling fits in UInt64.
        let bound = UInt64((rate * 0x1p64).rounded(.up))
        return .success(leadingValue(of: sessionID) < bound)
    }

    /// The first 16 hex digits of an already validated session ID, big-endian.
    private static func leadingValue(of sessionID: String) -> UInt64 {
        var value: UInt64 = 0
        for byte in sessionID.utf8.prefix(16) {
            let digit = byte <= UInt8(ascii: "9") ? byte &- UInt8(ascii: "0") : byte &- UInt8(ascii: "a") &+ 10
            value = value << 4 | UInt64(digit & 0x0f)
        }
        return value
    }
}
