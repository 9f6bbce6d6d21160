/// Estimates `stitch.clock.offset_ms` (server time minus device time) from the `Date` headers of the app's own
/// responses, the way NTP bounds an offset, with no extra request.
///
/// A response sent at device times [t0, t1] whose `Date` says S (whole seconds, truncated) was generated at some
/// server time in [S, S + 1 s) and some device time in [t0, t1], so the offset lies in [S − t1, S + 999 − t0]. Each
/// response narrows the interval kept so far to their intersection; the estimate is its midpoint. A device clock
/// minutes off only moves the interval. When a new interval does not meet the kept one the device clock was
/// changed (or a server's clock disagrees): the estimator starts again from the new response, so a wrong estimate
/// lasts at most until the next response.
struct ClockOffsetEstimator: Sendable, Equatable {
    private(set) var lowMs: Int64?
    private(set) var highMs: Int64?
    private(set) var restarts = 0

    /// The schema's bound for `stitch.clock.offset_ms` (one year).
    static let limitMs: Int64 = 31_536_000_000

    /// Adds one response; ignores samples that cannot be right (received before sent, or beyond a year).
    mutating func add(serverDateMs: Int64, sentAtMs: Int64, receivedAtMs: Int64) {
        guard receivedAtMs >= sentAtMs else { return }
        let low = serverDateMs - receivedAtMs
        let high = serverDateMs + 999 - sentAtMs
        guard low > -Self.limitMs, high < Self.limitMs else { return }
        if let l = lowMs, let h = highMs, max(l, low) <= min(h, high) {
            lowMs = max(l, low)
            highMs = min(h, high)
        } else {
            if lowMs != nil { restarts += 1 }
            lowMs = low
            highMs = high
        }
    }

    /// The midpoint of the interval, rounded toward zero; nil before the first response with a `Date`.
    var estimateMs: Int64? {
        guard let l = lowMs, let h = highMs else { return nil }
        return (l + h) / 2
    }
}
