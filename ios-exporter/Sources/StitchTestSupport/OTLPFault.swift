/// One planned misbehaviour of the loopback OTLP receiver, consumed by the next matching export request.
///
/// Mirrors the receiver's JSON (`POST /control/faults`), so tests can script outages, throttling and partial
/// rejections without a real collector. A fault is consumed only by a well-formed request; malformed ones are
/// answered 4xx first.
public struct OTLPFault: Sendable, Encodable, Equatable {
    /// The HTTP status to answer with.
    public var status: Int
    /// A `Retry-After` header value, sent verbatim (seconds or an HTTP date).
    public var retryAfter: String?
    /// How long the receiver waits before answering (or dropping), at most 60,000 ms.
    public var delayMilliseconds: Int
    /// Close the connection without any answer, as a crashed proxy would.
    public var dropConnection: Bool
    /// With a 2xx status: the `rejected_spans` / `rejected_log_records` of the response's `partial_success`.
    public var partialRejected: Int64
    /// With a 2xx status: the `partial_success.error_message`.
    public var partialMessage: String
    /// `/v1/traces` or `/v1/logs`; nil matches either.
    public var path: String?

    public init(
        status: Int = 200, retryAfter: String? = nil, delayMilliseconds: Int = 0, dropConnection: Bool = false,
        partialRejected: Int64 = 0, partialMessage: String = "", path: String? = nil
    ) {
        self.status = status
        self.retryAfter = retryAfter
        self.delayMilliseconds = delayMilliseconds
        self.dropConnection = dropConnection
        self.partialRejected = partialRejected
        self.partialMessage = partialMessage
        self.path = path
    }

    /// Answer `status` (e.g. 429 or 503), optionally with `Retry-After`.
    public static func status(_ status: Int, retryAfter: String? = nil, path: String? = nil) -> OTLPFault {
        OTLPFault(status: status, retryAfter: retryAfter, path: path)
    }

    /// Read the request, then close the socket without answering.
    public static func droppedConnection(path: String? = nil) -> OTLPFault {
        OTLPFault(dropConnection: true, path: path)
    }

    /// Answer 200 with a `partial_success` rejecting `rejected` items.
    public static func partialSuccess(rejected: Int64, message: String, path: String? = nil) -> OTLPFault {
        OTLPFault(partialRejected: rejected, partialMessage: message, path: path)
    }

    enum CodingKeys: String, CodingKey {
        case status
        case retryAfter = "retry_after"
        case delayMilliseconds = "delay_ms"
        case dropConnection = "drop_connection"
        case partialRejected = "partial_rejected"
        case partialMessage = "partial_message"
        case path
    }
}
