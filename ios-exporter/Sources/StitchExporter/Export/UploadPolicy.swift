import Foundation
import StitchOTLP

/// What an upload's answer means, decided by the OTLP/HTTP spec's "Failures" section. Pure: the answer's status,
/// `Retry-After` and body in, a verdict out.
enum UploadVerdict: Sendable, Equatable {
    /// 2xx: the batch is delivered; `rejected` items (from `partial_success`) will never be accepted.
    case delivered(rejected: Int64)
    /// 429, 502, 503, 504 or no answer at all: send the same batch again, not before `retryAfterMs` when given.
    case retry(retryAfterMs: Int64?)
    /// 413: too large; split it once, then drop it.
    case tooLarge
    /// Any other status: the receiver will never accept this batch.
    case rejected(status: Int)
}

enum UploadPolicy {
    static let retryableStatuses: Set<Int> = [429, 502, 503, 504]
    /// The longest server-requested wait the exporter honours before it simply tries later.
    static let maxRetryAfterMs: Int64 = 6 * 3600 * 1000

    static func verdict(
        status: Int?, retryAfter: String?, body: [UInt8], signal: Signal, nowMs: Int64
    ) -> UploadVerdict {
        guard let status else { return .retry(retryAfterMs: nil) }
        switch status {
        case 200..<300:
            let partial: OTLPPartialSuccess?
            switch signal {
            case .traces: partial = try? OTLPResponseDecoder.partialSuccess(fromTraces: body)
            case .logs: partial = try? OTLPResponseDecoder.partialSuccess(fromLogs: body)
            }
            return .delivered(rejected: max(0, partial?.rejected ?? 0))
        case 413:
            return .tooLarge
        case _ where retryableStatuses.contains(status):
            return .retry(retryAfterMs: retryAfter.flatMap { retryAfterMs($0, nowMs: nowMs) })
        default:
            return .rejected(status: status)
        }
    }

    /// `Retry-After` as delay-seconds or an HTTP date, as a wait from now in milliseconds (never negative, capped).
    static func retryAfterMs(_ value: String, nowMs: Int64) -> Int64? {
        let v = value.trimmingCharacters(in: .whitespaces)
        if !v.isEmpty, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let seconds = Int64(v.prefix(12)) else { return maxRetryAfterMs }
            return min(seconds * 1000, maxRetryAfterMs)
        }
        guard let date = HTTPDate.parseMillis(v) else { return nil }
        return min(max(0, date - nowMs), maxRetryAfterMs)
    }

    /// Exponential back-off with full jitter: a wait in [0, min(cap, base · 2^attempt)). `unit` in [0, 1) is the
    /// random draw, passed in so the policy stays pure.
    static func backoffMs(attempt: Int, unit: Double, baseMs: Int64 = 1000, capMs: Int64 = 5 * 60 * 1000) -> Int64 {
        let exp = min(attempt, 20)
        let ceiling = min(capMs, baseMs << Int64(exp))
        return Int64(Double(ceiling) * min(max(unit, 0), 0.999_999))
    }

    enum Signal: String, Sendable {
        case traces, logs

        var path: String { "/v1/\(rawValue)" }
    }
}
