import Foundation

/// When an instrumented request is sent again. Each resend is a new client span in the same trace, with
/// `http.request.resend_count`, and carries fresh `traceparent` and the same `baggage`.
public struct RequestRetryPolicy: Sendable, Equatable {
    /// Resends after the first attempt (0: never), at most 10.
    public var maxResends: Int
    /// Statuses that are worth another attempt.
    public var retryableStatuses: Set<Int>
    /// Whether a transport failure (timeout, connection lost) is worth another attempt.
    public var retriesTransportErrors: Bool
    /// The wait before the first resend; it doubles for each further one. A `Retry-After` of the answer, when
    /// longer, is honoured up to `maxDelay`.
    public var delay: TimeInterval
    public var maxDelay: TimeInterval

    public init(
        maxResends: Int, retryableStatuses: Set<Int> = [429, 502, 503, 504], retriesTransportErrors: Bool = true,
        delay: TimeInterval = 0.5, maxDelay: TimeInterval = 10
    ) {
        self.maxResends = min(max(0, maxResends), 10)
        self.retryableStatuses = retryableStatuses
        self.retriesTransportErrors = retriesTransportErrors
        self.delay = max(0, delay)
        self.maxDelay = max(0, maxDelay)
    }

    /// One attempt only.
    public static let never = RequestRetryPolicy(maxResends: 0)

    /// The wait before resend number `resend` (1-based), given the answer's `Retry-After` in milliseconds.
    func wait(beforeResend resend: Int, retryAfterMs: Int64?) -> TimeInterval {
        let backoff = delay * pow(2, Double(max(0, resend - 1)))
        let requested = retryAfterMs.map { Double($0) / 1000 } ?? 0
        return min(max(backoff, requested), maxDelay)
    }
}
